#!/bin/bash
# The sweep end to end with the oVirt / RHV provider: the real vmsweep
# binary against the simulator's engine over real HTTP.
. "$(dirname "$0")/lib.sh"

# A lab whose outcome we know: name -> what vmsweep must do with it.
mkinventory() {
	python3 - "$1" "${2:-0}" <<'PY'
import json, sys, datetime
now = datetime.datetime.now(datetime.timezone.utc)
def ago(h):
    return (now - datetime.timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
def until(h):
    return (now + datetime.timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
extra = int(sys.argv[2])
rhv = [
  # selected: old enough, matched by a rule; every status stop handles
  {"name": "test_vm_1", "created": ago(10), "status": "up"},
  {"name": "test_vm_2", "created": ago(100), "status": "down"},
  {"name": "jenkins-4411", "created": ago(30), "status": "up"},
  {"name": "ci-build-7f3a", "created": ago(48), "status": "up"},
  {"name": "test_suspended", "created": ago(50), "status": "suspended"},
  {"name": "test_paused", "created": ago(50), "status": "paused"},
  {"name": "test_expired", "created": ago(50), "status": "up",
   "tags": ["vmsweep:expires=" + ago(1)]},
  # kept: too young, protected, excluded
  {"name": "test_young", "created": ago(1), "status": "up"},
  {"name": "ci-build-0ab1", "created": ago(5), "status": "up"},
  {"name": "test_protected", "created": ago(50), "status": "down",
   "delete_protected": True},
  {"name": "test_tagged", "created": ago(50), "status": "up",
   "tags": ["vmsweep:keep"]},
  {"name": "test_desc", "created": ago(50), "status": "up",
   "description": "owner: ci; vmsweep:keep"},
  {"name": "test_comment", "created": ago(50), "status": "down",
   "comment": "vmsweep:keep"},
  {"name": "test_until", "created": ago(50), "status": "up",
   "tags": ["vmsweep:expires=" + until(48)]},
  {"name": "test_db-keep", "created": ago(50), "status": "up"},
  # not matched by any rule
  {"name": "prod-db-2", "created": ago(5000), "status": "up"},
  {"name": "infra-dns-1", "created": ago(5000), "status": "up"},
]
for i in range(extra):
    rhv.append({"name": "test_bulk_%d" % i, "created": ago(10 + i % 50),
                "status": ["up", "down"][i % 2]})
json.dump({"rhv": rhv}, open(sys.argv[1], "w"))
PY
}

SELECTED="test_vm_1 test_vm_2 jenkins-4411 ci-build-7f3a test_suspended test_paused test_expired"
KEPT="test_young ci-build-0ab1 test_protected test_tagged test_desc test_comment test_until test_db-keep"
NSEL=7
NALL=17

rules() {
	cat >>"$1" <<EOF
rules:
  - name: ci-leftovers
    match: ["test_*", "jenkins-*"]
    older_than: 4h
  - name: nightly
    regex: ["^ci-build-[0-9a-f]+$"]
    older_than: 24h
protect:
  names: ["*-keep"]
limits:
  max_deletes: ${2:-200}
  max_delete_percent: ${3:-100}
run:
  workers: 8
  retry_rounds: 2
  retry_delay: 100ms
  delete_timeout: 30s
  confirm_interval: 100ms
EOF
}

# names_in_state: the oVirt VM names the simulator still has.
names_in_state() {
	sim_get /_sim/state | python3 -c '
import json, sys
print("\n".join(sorted(v["name"] for v in json.load(sys.stdin)["rhv"])))'
}

# stats_check PYTHON: run PYTHON with s = the simulator's statistics.
stats_check() {
	python3 -c "
import json, urllib.request
s = json.load(urllib.request.urlopen('$SIM_URL/_sim/stats'))
r = s['by_route']
def count(part, method=None):
    return sum(v for k, v in r.items()
               if part in k and (method is None or (' %s ' % method) in k))
$1
"
}

# report_check FILE PYTHON: run PYTHON with r = the report JSON.
report_check() {
	python3 -c "
import json, sys, collections
r = json.load(open('$1'))
names = [v['name'] for v in r['vms']]
ids = [(v['provider'], v['id']) for v in r['vms']]
assert len(ids) == len(set(ids)), 'a VM appears twice in the report'
$2
"
}

mkinventory "$IT_TMP/inv.json"
sim_start --inventory "$IT_TMP/inv.json" --delete-polls 2 || exit 1
rhv_config "$IT_TMP/cfg.yaml"
rules "$IT_TMP/cfg.yaml"
before=$(names_in_state)

# --- check: authentication works
vs -c "$IT_TMP/cfg.yaml" check
check "check exits 0" [ "$RC" = 0 ]

# --- the plan
vs -c "$IT_TMP/cfg.yaml" plan --format json
check "plan exits 0" [ "$RC" = 0 ]
cp "$IT_TMP/out" "$IT_TMP/plan.json"
check "plan selects exactly the expected VMs" python3 -c "
import json
p = json.load(open('$IT_TMP/plan.json'))
got = sorted(v['name'] for v in p['vms'])
want = sorted('$SELECTED'.split())
assert got == want, (got, want)
kept = {k['name']: k['reason'] for k in p['kept']}
for n in '$KEPT'.split():
    assert n in kept and kept[n], n
assert 'delete_protected' in kept['test_protected'], kept['test_protected']
assert all(v['rules'] for v in p['vms'])
"

# --- a dry run deletes nothing and reports exactly the plan
vs -c "$IT_TMP/cfg.yaml" run --dry-run --report "$IT_TMP/dry.json"
check "dry run exits 0" [ "$RC" = 0 ]
check "dry run deletes nothing" [ "$(names_in_state)" = "$before" ]
check "dry run report lists exactly the plan as pretend" report_check "$IT_TMP/dry.json" "
assert sorted(names) == sorted('$SELECTED'.split()), names
assert all(v['outcome'] == 'pretend' for v in r['vms'])
assert r['run']['mode'] == 'dry_run'
"
check "dry run logs a pretend delete per VM" bash -c "
	for n in $SELECTED; do grep -q \"Pretend delete: \$n on rhv-sim\" '$IT_TMP/err' || exit 1; done"
check "the inventory is logged once, by the core" \
	[ "$(grep -c 'rhv-sim: listed [0-9]* VMs$' "$IT_TMP/err")" = 1 -a \
	  "$(grep -c 'rhv-sim: listed ' "$IT_TMP/err")" = 1 ]
check "dry run sent no DELETE and no stop" stats_check "
assert count('DELETE') == 0 and count('/stop') == 0, r
"

# --- the real run deletes exactly the plan
vs -c "$IT_TMP/cfg.yaml" run --yes --report "$IT_TMP/real.json"
check "real run exits 0" [ "$RC" = 0 ]
check "real run deletes exactly the plan" python3 -c "
before = set('''$before'''.split())
after = set('''$(names_in_state)'''.split())
assert before - after == set('$SELECTED'.split()), before - after
"
check "protected and excluded VMs survive" bash -c "
	s='$(names_in_state)'; for n in $KEPT prod-db-2 infra-dns-1; do echo \"\$s\" | grep -qx -- \"\$n\" || exit 1; done"
check "real report: every planned VM once, deleted" report_check "$IT_TMP/real.json" "
assert sorted(names) == sorted('$SELECTED'.split()), names
assert all(v['outcome'] == 'deleted' for v in r['vms']), [(v['name'], v['outcome']) for v in r['vms']]
assert r['run']['mode'] == 'real'
"
check "running, suspended and paused VMs were stopped first, down ones not" stats_check "
stops = count('/stop', 'POST')
assert 5 <= stops <= 7, r
assert count('DELETE') == $NSEL, r
"
check "one SSO login per command, not one per worker" stats_check "
assert count('oauth/token') <= 4, r
"

# --- a second run finds nothing to do
vs -c "$IT_TMP/cfg.yaml" run --yes --report "$IT_TMP/empty.json"
check "empty selection exits 0" [ "$RC" = 0 ]
check "empty selection report has no VMs" report_check "$IT_TMP/empty.json" "assert names == []"

# --- without tags: true a tag marker is not seen (documented), a
# description marker still is
mkinventory "$IT_TMP/notags.json"
sim_start --inventory "$IT_TMP/notags.json" || exit 1
rhv_config "$IT_TMP/notags.yaml" "tags: false"
sed -i '/^    tags: true$/d' "$IT_TMP/notags.yaml"
rules "$IT_TMP/notags.yaml"
vs -c "$IT_TMP/notags.yaml" plan --format json
check "without tags: plan exits 0" [ "$RC" = 0 ]
check "without tags: the description and comment markers still protect" python3 -c "
import json
p = json.load(open('$IT_TMP/out'))
kept = {k['name'] for k in p['kept']}
assert {'test_desc', 'test_comment', 'test_protected'} <= kept, kept
"
check "without tags: no follow=tags and no per-VM tag reads" stats_check "
assert count('/tags') == 0, r
"

# --- a search narrows the listing: what it excludes is never considered
rhv_config "$IT_TMP/search.yaml" "search: \"name=test_vm_* or name=jenkins-*\""
rules "$IT_TMP/search.yaml"
vs -c "$IT_TMP/search.yaml" plan --format json
check "search: plan exits 0" [ "$RC" = 0 ]
check "search: only the matching VMs are listed" python3 -c "
import json
p = json.load(open('$IT_TMP/out'))
assert p['summary']['rhv-sim']['listed'] == 3, p['summary']
assert sorted(v['name'] for v in p['vms']) == ['jenkins-4411', 'test_vm_1', 'test_vm_2']
"

# --- HTTP Basic instead of SSO
rhv_config "$IT_TMP/basic.yaml" "auth: basic"
rules "$IT_TMP/basic.yaml"
sso_before=$(stats_check "print(count('oauth/token'))")
vs -c "$IT_TMP/basic.yaml" run --yes --report "$IT_TMP/basic-report.json"
check "basic: run exits 0" [ "$RC" = 0 ]
check "basic: deletes the plan" report_check "$IT_TMP/basic-report.json" "
assert sorted(names) == sorted('$SELECTED'.split()), names
assert all(v['outcome'] == 'deleted' for v in r['vms'])
"
check "basic: no SSO login" stats_check "assert count('oauth/token') == $sso_before, r"

# --- a wrong password: exit 3 and the engine's reason in one line
rhv_config "$IT_TMP/badpw.yaml"
rules "$IT_TMP/badpw.yaml"
VMSWEEP_IT_PASSWORD=wrong vs -c "$IT_TMP/badpw.yaml" run --yes --report "$IT_TMP/badpw.json"
check "wrong password exits 3" [ "$RC" = 3 ]
check "wrong password names the provider and says why" grep -q "rhv-sim.*SSO login refused" "$IT_TMP/err"
check "wrong password names the provider once a line" names_once rhv-sim "$IT_TMP/err"
check "wrong password leaks no password" bash -c "! grep -q wrong '$IT_TMP/err'"

# --- 600 VMs listed across pages; a dry run plans them all
mkinventory "$IT_TMP/big.json" 600
sim_start --inventory "$IT_TMP/big.json" || exit 1
rhv_config "$IT_TMP/big.yaml" "page_size: 100"
rules "$IT_TMP/big.yaml" -1 100
vs -c "$IT_TMP/big.yaml" run --dry-run --report "$IT_TMP/big-dry.json"
check "600-VM dry run exits 0" [ "$RC" = 0 ]
check "600-VM listing is complete" report_check "$IT_TMP/big-dry.json" "
assert r['summary']['rhv-sim']['listed'] == $NALL + 600, r['summary']
assert len(names) == $NSEL + 600, len(names)
"
check "listing read 7 pages of 100" stats_check "
assert count('GET /ovirt-engine/api/vms', 'GET') - count('/vms/{', 'GET') == 7, r
"
rhv_config "$IT_TMP/big500.yaml"
rules "$IT_TMP/big500.yaml" -1 100
vs -c "$IT_TMP/big500.yaml" plan --format json
check "600-VM listing with the default page size is complete" python3 -c "
import json
p = json.load(open('$IT_TMP/out'))
assert p['summary']['rhv-sim']['listed'] == $NALL + 600, p['summary']
"

# --- a token expiring mid-run is renewed once, not once per worker
mkinventory "$IT_TMP/ttl.json" 60
sim_start --inventory "$IT_TMP/ttl.json" --session-ttl 40 || exit 1
rhv_config "$IT_TMP/ttl.yaml"
rules "$IT_TMP/ttl.yaml" -1 100
vs -c "$IT_TMP/ttl.yaml" run --yes --report "$IT_TMP/ttl-report.json"
check "run across token expiry exits 0" [ "$RC" = 0 ]
check "run across token expiry deletes all" report_check "$IT_TMP/ttl-report.json" "
assert len(names) == $NSEL + 60 and all(v['outcome'] == 'deleted' for v in r['vms']), collections.Counter(v['outcome'] for v in r['vms'])
"
check "token renewed once per expiry" stats_check "
auth = count('oauth/token')
other = s['requests'] - auth - count('unknown')
expiries = other // 40 + 1
assert 2 <= auth <= expiries + 1, (auth, other, r)
"

# --- bursts of 503 and 429 are retried
mkinventory "$IT_TMP/faults.json" 40
sim_start --inventory "$IT_TMP/faults.json" --fault rhv:503:0.1 \
	--fault rhv:429:0.05 || exit 1
rhv_config "$IT_TMP/faults.yaml"
rules "$IT_TMP/faults.yaml" -1 100
vs -c "$IT_TMP/faults.yaml" run --yes --report "$IT_TMP/faults-report.json"
check "run through 503/429 bursts exits 0" [ "$RC" = 0 ]
check "run through 503/429 bursts deletes all" report_check "$IT_TMP/faults-report.json" "
assert len(names) == $NSEL + 40, len(names)
assert all(v['outcome'] == 'deleted' for v in r['vms']), collections.Counter(v['outcome'] for v in r['vms'])
"
check "the simulator did answer 503 and 429" stats_check "
assert s['by_status'].get('503', 0) > 0 and s['by_status'].get('429', 0) > 0, s['by_status']
"

# --- a delete whose disk removal fails is failed, exit 1
mkinventory "$IT_TMP/err.json"
sim_start --inventory "$IT_TMP/err.json" --fault rhv:delete-error || exit 1
rhv_config "$IT_TMP/err.yaml"
rules "$IT_TMP/err.yaml"
vs -c "$IT_TMP/err.yaml" run --yes --report "$IT_TMP/err-report.json"
check "failed deletes exit 1" [ "$RC" = 1 ]
check "failed deletes are failed with a message" report_check "$IT_TMP/err-report.json" "
assert sorted(names) == sorted('$SELECTED'.split()), names
for v in r['vms']:
    assert v['outcome'] == 'failed', v
    assert v['error']['class'] == 'server' and 'did not complete' in v['error']['message'], v
"
check "failed deletes: every VM is still there" [ "$(names_in_state)" = "$(mkinventory /dev/stdout | python3 -c '
import json, sys
print("\n".join(sorted(v["name"] for v in json.load(sys.stdin)["rhv"])))')" ]
check "the summary lists the failures" grep -q "failed" "$IT_TMP/out"

# --- a dead endpoint: exit 3, one clear line
sim_stop
vs -c "$IT_TMP/err.yaml" run --yes --report "$IT_TMP/dead.json"
check "unreachable provider exits 3" [ "$RC" = 3 ]
check "unreachable provider names itself" grep -q "rhv-sim" "$IT_TMP/err"

it_finish
