#!/bin/bash
# The sweep end to end with the vSphere provider: the real vmsweep binary
# against the simulator's vCenter over real HTTP, in both API generations.
. "$(dirname "$0")/lib.sh"

# A lab whose outcome we know: name -> what vmsweep must do with it.
# EXTRA adds test_bulk_* VMs (all old enough, matched by ci-leftovers);
# BULK_FOLDERS spreads them: "lopsided" puts two thirds in one folder, so
# that a power-state part and then a folder part are still over the cap.
mkinventory() {
	python3 - "$1" "${2:-0}" "${3:-even}" <<'PY'
import json, sys, datetime
now = datetime.datetime.now(datetime.timezone.utc)
def ago(h):
    return (now - datetime.timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
def until(h):
    return (now + datetime.timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
extra, spread = int(sys.argv[2]), sys.argv[3]
vms = [
  # selected: old enough, matched by a rule
  {"name": "test_vm_1", "created": ago(10), "power_state": "POWERED_ON"},
  {"name": "test_vm_2", "created": ago(100), "power_state": "POWERED_OFF"},
  {"name": "jenkins-4411", "created": ago(30), "power_state": "SUSPENDED"},
  {"name": "ci-build-7f3a", "created": ago(48), "power_state": "POWERED_ON",
   "folder": "group-v1002"},
  {"name": "test_expired", "created": ago(50), "power_state": "POWERED_OFF",
   "tags": ["vmsweep:expires=" + ago(1)]},
  # kept: too young, protected, excluded, age unknown
  {"name": "test_young", "created": ago(1), "power_state": "POWERED_ON"},
  {"name": "ci-build-fade", "created": ago(5), "power_state": "POWERED_ON"},
  {"name": "test_tagged", "created": ago(50), "power_state": "POWERED_ON",
   "tags": ["vmsweep:keep", "owner:ci"]},
  {"name": "jenkins-kept", "created": ago(50), "power_state": "POWERED_OFF",
   "tags": ["vmsweep:keep"]},
  {"name": "test_until", "created": ago(50), "power_state": "POWERED_ON",
   "tags": ["vmsweep:expires=" + until(48)]},
  {"name": "test_db-keep", "created": ago(50), "power_state": "POWERED_ON"},
  {"name": "test_nodate", "created": None, "power_state": "POWERED_OFF"},
  {"name": "test_halfmade", "created": ago(1), "power_state": "POWERED_OFF",
   "config_unavailable": True},
  # never listed: a template
  {"name": "test_golden", "created": ago(500), "power_state": "POWERED_OFF",
   "template": True},
  # not matched by any rule
  {"name": "prod-db-2", "created": ago(5000), "power_state": "POWERED_ON"},
  {"name": "infra-dns-1", "created": ago(5000), "power_state": "POWERED_ON"},
]
for i in range(extra):
    if spread == "lopsided":
        folder = "group-v1001" if i % 3 else "group-v%d" % (1002 + i % 2)
        power = "POWERED_ON"
    else:
        folder = "group-v%d" % (1001 + i % 4)
        power = ("POWERED_ON", "POWERED_OFF", "SUSPENDED")[i % 3]
    vms.append({"name": "test_bulk_%d" % i, "created": ago(10 + i % 50),
                "power_state": power, "folder": folder})
json.dump({"vmware": vms}, open(sys.argv[1], "w"))
PY
}

SELECTED="test_vm_1 test_vm_2 jenkins-4411 ci-build-7f3a test_expired"
KEPT="test_young ci-build-fade test_tagged jenkins-kept test_until test_db-keep test_nodate test_halfmade"
# The selected VMs that are on or suspended and must be stopped first.
RUNNING="test_vm_1 jenkins-4411 ci-build-7f3a"

mkinventory "$IT_TMP/inv.json"
sim_start --inventory "$IT_TMP/inv.json" || exit 1
vmware_config "$IT_TMP/cfg.yaml"
sweep_rules "$IT_TMP/cfg.yaml"
before=$(sim_names vmware)

# --- check: the plugin loads and logs in
vs -c "$IT_TMP/cfg.yaml" check
check "check exits 0" [ "$RC" = 0 ]

# --- the plan
vs -c "$IT_TMP/cfg.yaml" plan --format json
check "plan exits 0" [ "$RC" = 0 ]
cp "$IT_TMP/out" "$IT_TMP/plan.json"
sweep_check_plan "$IT_TMP/plan.json" "
assert 'test_golden' not in kept, 'a template was listed'
assert p['summary']['vc-sim']['listed'] == 15, p['summary']
"
check "tags, ages and names are the reasons kept" python3 -c "
import json
p = json.load(open('$IT_TMP/plan.json'))
kept = {k['name']: k['reason'] for k in p['kept']}
assert 'vmsweep:keep' in kept['test_tagged'], kept['test_tagged']
assert 'vmsweep:keep' in kept['jenkins-kept'], kept['jenkins-kept']
assert 'vmsweep:expires' in kept['test_until'], kept['test_until']
# No creation time: aged from when vmsweep first saw it (just now).
assert 'first seen' in kept['test_nodate'].lower(), kept['test_nodate']
"

# --- one worker lists what eight do: the tag and VI/JSON look-ups fan
# out on the workers, and the inventory must not depend on it
sed 's/^  workers: 8/  workers: 1/' "$IT_TMP/cfg.yaml" >"$IT_TMP/one.yaml"
vs -c "$IT_TMP/one.yaml" plan --format json
check "one worker: plan exits 0" [ "$RC" = 0 ]
check "one worker: the same VMs, ages and reasons as eight" python3 -c "
import json, re
def norm(path):
    p = json.load(open(path))
    vms = sorted((v['name'], v['created'], v['age_source'],
                  json.dumps(v['rules']))
                 for v in p['vms'])
    # First-seen ages grow between the two runs: compare reasons
    # without their numbers.
    kept = sorted((k['name'], re.sub(r'[0-9]+', 'N', k['reason']))
                  for k in p['kept'])
    return vms, kept
a, b = norm('$IT_TMP/plan.json'), norm('$IT_TMP/out')
assert a == b, [(x, y) for x, y in zip(a[0] + a[1], b[0] + b[1]) if x != y]
"

# --- a dry run deletes nothing and reports exactly the plan
sweep_check_dry_run vmware vc-sim "$IT_TMP/cfg.yaml"
check "dry run sent no DELETE and no power-off" sim_stats "
assert route('DELETE /api/vcenter/vm') == 0, s['by_route']
assert route('POST /api/vcenter/vm') == 0, s['by_route']
"
check "the session is ended at exit" sim_stats "
assert route('DELETE /api/session') >= 1, s['by_route']
"

# --- the real run deletes exactly the plan, stopping running VMs first
gets=$(sim_stats "print(r.get('vmware GET /api/vcenter/vm/{vm}', 0))")
sweep_check_real_run vmware "$IT_TMP/cfg.yaml" \
	"protected, excluded and template VMs" \
	"test_golden prod-db-2 infra-dns-1"
check "running VMs were stopped before their delete" sim_stats "
stops = route('POST /api/vcenter/vm/{vm}/power')
assert stops == len('$RUNNING'.split()), (stops, s['by_route'])
assert route('DELETE /api/vcenter/vm') == len('$SELECTED'.split()), s['by_route']
assert s['by_status'].get('400', 0) == 0, s['by_status']
"
check "deletes are confirmed by a list call, not a GET per VM" sim_stats "
assert r.get('vmware GET /api/vcenter/vm/{vm}', 0) == $gets, r
"

# --- a second run finds nothing to do: an empty selection is a success
sweep_check_empty_run "$IT_TMP/cfg.yaml"

# --- vi_json: off leaves every age unknown: nothing selected by age
sim_start --inventory "$IT_TMP/inv.json" || exit 1
vmware_config "$IT_TMP/off.yaml"
sed -i 's/^    max_concurrency: 8/    max_concurrency: 8\n    vi_json: "off"/' "$IT_TMP/off.yaml"
sweep_rules "$IT_TMP/off.yaml"
vs -c "$IT_TMP/off.yaml" plan --format json
check "vi_json off: plan exits 0" [ "$RC" = 0 ]
check "vi_json off: ages unknown, nothing selected" python3 -c "
import json
p = json.load(open('$IT_TMP/out'))
assert p['vms'] == [], [v['name'] for v in p['vms']]
"
check "vi_json off: no VI/JSON request" sim_stats "assert route('/sdk/') == 0, s['by_route']"

# --- a 6.7-era vCenter: only /rest, no VI/JSON
sim_start --inventory "$IT_TMP/inv.json" --vsphere-legacy || exit 1
vmware_config "$IT_TMP/legacy.yaml"
sweep_rules "$IT_TMP/legacy.yaml"
vs -c "$IT_TMP/legacy.yaml" plan --format json
check "legacy: plan exits 0" [ "$RC" = 0 ]
check "legacy: ages unknown, no age rule selects" python3 -c "
import json
p = json.load(open('$IT_TMP/out'))
assert p['vms'] == [], [v['name'] for v in p['vms']]
assert p['summary']['vc-sim']['listed'] == 15, p['summary']
"
check "legacy: said once that VI/JSON is missing" bash -c "
	[ \"\$(grep -c 'no VI/JSON' '$IT_TMP/err')\" = 1 ]"
# A rule without older_than selects by name alone; tags still protect.
sed -i 's/^rules:/rules:\n  - name: jenkins-any-age\n    match: ["jenkins-*"]/' "$IT_TMP/legacy.yaml"
before=$(sim_names vmware)
vs -c "$IT_TMP/legacy.yaml" run --yes --report "$IT_TMP/legacy.json"
check "legacy: name-only rule run exits 0" [ "$RC" = 0 ]
check "legacy: deletes exactly the name match, tag-protected kept" report_check "$IT_TMP/legacy.json" "
assert names == ['jenkins-4411'], names
assert r['vms'][0]['outcome'] == 'deleted', r['vms'][0]
kept = {k['name']: k['reason'] for k in r['kept']}
assert 'vmsweep:keep' in kept['jenkins-kept'], kept
"
check "legacy: jenkins-4411 is gone, nothing else" python3 -c "
before = set('''$before'''.split())
after = set('''$(sim_names vmware)'''.split())
assert before - after == {'jenkins-4411'}, before - after
"
check "legacy: spoke only /rest" sim_stats "
assert route('/rest/vcenter/vm') > 0 and route('/rest/com/vmware/cis/session') > 0, s['by_route']
assert route('POST /rest/vcenter/vm/{vm}/power/{action}') == 1, s['by_route']
assert route(' /api/vcenter') == 0, s['by_route']
assert r.get('vmware GET /rest/vcenter/vm/{vm}', 0) == 0, r
"

# --- 9,000 VMs behind a 4,000-VM cap are listed completely
mkinventory "$IT_TMP/big.json" 9000 lopsided
sim_start --inventory "$IT_TMP/big.json" --vsphere-cap 4000 || exit 1
vmware_config "$IT_TMP/big.yaml"
sweep_rules "$IT_TMP/big.yaml" -1 100
vs -c "$IT_TMP/big.yaml" run --dry-run --report "$IT_TMP/big-dry.json"
check "9,000-VM dry run exits 0" [ "$RC" = 0 ]
check "9,000-VM listing is complete and the plan exact" report_check "$IT_TMP/big-dry.json" "
assert r['summary']['vc-sim']['listed'] == 9015, r['summary']
assert len(names) == 9005, len(names)
assert len(set(names)) == 9005
"
check "the cap was hit and the list partitioned by power, folder and host" sim_stats "
assert s['by_status'].get('500', 0) >= 3, s['by_status']
assert route('GET /api/vcenter/folder') == 1, s['by_route']
assert route('GET /api/vcenter/host') == 1, s['by_route']
assert route('GET /api/vcenter/vm') >= 10, s['by_route']
"
check "the partitioning is logged" grep -q "result cap" "$IT_TMP/err"

# --- 455 deletes are confirmed in a few filtered list calls (200 ids at
# most each), not one GET per VM
mkinventory "$IT_TMP/many.json" 450
sim_start --inventory "$IT_TMP/many.json" || exit 1
vmware_config "$IT_TMP/many.yaml"
sweep_rules "$IT_TMP/many.yaml" -1 100
lists=$(sim_stats "print(route('GET /api/vcenter/vm'))")
vs -c "$IT_TMP/many.yaml" run --yes --report "$IT_TMP/many-report.json"
check "455 deletes: run exits 0" [ "$RC" = 0 ]
check "455 deletes: every VM deleted" report_check "$IT_TMP/many-report.json" "
assert len(names) == 455, len(names)
assert all(v['outcome'] == 'deleted' for v in r['vms']), r['vms'][:3]
"
check "455 deletes: confirmed by list calls, no GET per VM" sim_stats "
assert r.get('vmware GET /api/vcenter/vm/{vm}', 0) == 0, r
# the listing's own calls, then three confirmation batches at least
assert route('GET /api/vcenter/vm') - $lists >= 4, r
"

# --- a session expiring mid-run is renewed once per expiry, not per worker
mkinventory "$IT_TMP/ttl.json" 60
sim_start --inventory "$IT_TMP/ttl.json" --session-ttl 40 || exit 1
vmware_config "$IT_TMP/ttl.yaml"
sweep_rules "$IT_TMP/ttl.yaml" -1 100
vs -c "$IT_TMP/ttl.yaml" run --yes --report "$IT_TMP/ttl-report.json"
check "run across session expiry exits 0" [ "$RC" = 0 ]
check "run across session expiry deletes all" report_check "$IT_TMP/ttl-report.json" "
assert len(names) == 65, len(names)
bad = [(v['name'], v['outcome'], v.get('error')) for v in r['vms'] if v['outcome'] != 'deleted']
assert not bad, bad
"
check "session renewed once per expiry" sim_stats "
logins = route('POST /api/session') + route('SessionManager/Login')
other = s['requests'] - logins - route('/_sim/')
expiries = other // 40 + 1
assert 2 <= logins <= expiries + 1, (logins, other, s['by_route'])
"

# --- bursts of 503 and 429 are retried
sweep_check_bursts vmware vmware_config

# --- a delete that fails is failed, exit 1
mkinventory "$IT_TMP/err.json"
sim_start --inventory "$IT_TMP/err.json" --fault vmware:delete-error || exit 1
vmware_config "$IT_TMP/err.yaml"
sweep_rules "$IT_TMP/err.yaml"
vs -c "$IT_TMP/err.yaml" run --yes --report "$IT_TMP/err-report.json"
check "failing deletes exit 1" [ "$RC" = 1 ]
check "failing deletes are failed with a message" report_check "$IT_TMP/err-report.json" "
assert sorted(names) == sorted('$SELECTED'.split()), names
for v in r['vms']:
    assert v['outcome'] == 'failed', v
    assert v['error']['class'] == 'server' and v['error']['message'], v
    assert 'vc-sim' in v['error']['message'], v
"
check "the summary lists the failures" grep -q "failed" "$IT_TMP/out"

# --- RESOURCE_BUSY (a VM stuck in another task) is throttled: retryable,
# still failed, and pushback that cuts the provider's requests in flight
sim_start --inventory "$IT_TMP/err.json" --fault vmware:delete-stuck || exit 1
vmware_config "$IT_TMP/err.yaml"
sweep_rules "$IT_TMP/err.yaml"
vs -c "$IT_TMP/err.yaml" run --yes --report "$IT_TMP/stuck-report.json"
check "busy VMs exit 1" [ "$RC" = 1 ]
check "busy VMs are failed as throttled" report_check "$IT_TMP/stuck-report.json" "
assert sorted(names) == sorted('$SELECTED'.split()), names
for v in r['vms']:
    assert v['outcome'] == 'failed' and v['error']['class'] == 'throttled', v
    assert v['error']['retryable'], v
c = r['summary']['vc-sim']['concurrency']
assert c['decreases'] > 0 and c['min'] < c['max'], c
"

# --- bad credentials: exit 3, one clear line
sim_start --inventory "$IT_TMP/err.json" --password other || exit 1
vmware_config "$IT_TMP/err.yaml"
sweep_rules "$IT_TMP/err.yaml"
vs -c "$IT_TMP/err.yaml" run --yes --report "$IT_TMP/auth.json"
check "refused login exits 3" [ "$RC" = 3 ]
check "refused login names the provider" grep -q "vc-sim.*login refused" "$IT_TMP/err"
check "refused login names the provider once a line" names_once vc-sim "$IT_TMP/err"
vs -c "$IT_TMP/err.yaml" check
check "check: refused login exits 3" [ "$RC" = 3 ]
check "check: refused login names the provider once a line" \
	names_once vc-sim "$IT_TMP/err"

# --- a dead endpoint: exit 3, one clear line
sweep_check_unreachable vc-sim "$IT_TMP/err.yaml"

it_finish
