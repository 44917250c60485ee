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
# Stopping a VM and waiting for it to be down takes longer.
IT_DELETE_TIMEOUT=30s

mkinventory "$IT_TMP/inv.json"
sim_start --inventory "$IT_TMP/inv.json" --delete-polls 2 || exit 1
rhv_config "$IT_TMP/cfg.yaml"
sweep_rules "$IT_TMP/cfg.yaml"
before=$(sim_names rhv)

# --- check: authentication works
vs -c "$IT_TMP/cfg.yaml" check
check "check exits 0" [ "$RC" = 0 ]

# --- the plan
vs -c "$IT_TMP/cfg.yaml" plan --format json
check "plan exits 0" [ "$RC" = 0 ]
cp "$IT_TMP/out" "$IT_TMP/plan.json"
sweep_check_plan "$IT_TMP/plan.json" "
assert 'delete_protected' in kept['test_protected'], kept['test_protected']
"

# --- a dry run deletes nothing and reports exactly the plan
sweep_check_dry_run rhv rhv-sim "$IT_TMP/cfg.yaml"
check "dry run sent no DELETE and no stop" sim_stats "
assert count('DELETE') == 0 and count('/stop') == 0, r
"

# --- the real run deletes exactly the plan
sweep_check_real_run rhv "$IT_TMP/cfg.yaml" "protected and excluded VMs" \
	"prod-db-2 infra-dns-1"
check "running, suspended and paused VMs were stopped first, down ones not" sim_stats "
stops = count('/stop', 'POST')
assert 5 <= stops <= 7, r
# A DELETE right after a stop is refused while the VM is still going
# down (--delete-polls 2), and sent again once it is down.
assert $NSEL <= count('DELETE') <= $NSEL + stops, r
"
check "one SSO login per command, not one per worker" sim_stats "
assert count('oauth/token') <= 4, r
"

# --- a second run finds nothing to do
sweep_check_empty_run "$IT_TMP/cfg.yaml"

# --- without tags: true a tag marker is not seen (documented), a
# description marker still is
mkinventory "$IT_TMP/notags.json"
sim_start --inventory "$IT_TMP/notags.json" || exit 1
rhv_config "$IT_TMP/notags.yaml" "tags: false"
sed -i '/^    tags: true$/d' "$IT_TMP/notags.yaml"
sweep_rules "$IT_TMP/notags.yaml"
vs -c "$IT_TMP/notags.yaml" plan --format json
check "without tags: plan exits 0" [ "$RC" = 0 ]
check "without tags: the description and comment markers still protect" python3 -c "
import json
p = json.load(open('$IT_TMP/out'))
kept = {k['name'] for k in p['kept']}
assert {'test_desc', 'test_comment', 'test_protected'} <= kept, kept
"
check "without tags: no follow=tags and no per-VM tag reads" sim_stats "
assert count('/tags') == 0, r
"

# --- a search narrows the listing: what it excludes is never considered
rhv_config "$IT_TMP/search.yaml" "search: \"name=test_vm_* or name=jenkins-*\""
sweep_rules "$IT_TMP/search.yaml"
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
sweep_rules "$IT_TMP/basic.yaml"
sso_before=$(sim_stats "print(count('oauth/token'))")
vs -c "$IT_TMP/basic.yaml" run --yes --report "$IT_TMP/basic-report.json"
check "basic: run exits 0" [ "$RC" = 0 ]
check "basic: deletes the plan" report_check "$IT_TMP/basic-report.json" "
assert sorted(names) == sorted('$SELECTED'.split()), names
assert all(v['outcome'] == 'deleted' for v in r['vms'])
"
check "basic: no SSO login" sim_stats "assert count('oauth/token') == $sso_before, r"

# --- a wrong password: exit 3 and the engine's reason in one line
rhv_config "$IT_TMP/badpw.yaml"
sweep_rules "$IT_TMP/badpw.yaml"
VMSWEEP_IT_PASSWORD=wrong vs -c "$IT_TMP/badpw.yaml" run --yes --report "$IT_TMP/badpw.json"
check "wrong password exits 3" [ "$RC" = 3 ]
check "wrong password names the provider and says why" grep -q "rhv-sim.*SSO login refused" "$IT_TMP/err"
check "wrong password names the provider once a line" names_once rhv-sim "$IT_TMP/err"
check "wrong password leaks no password" bash -c "! grep -q wrong '$IT_TMP/err'"

# --- 600 VMs listed across pages; a dry run plans them all
mkinventory "$IT_TMP/big.json" 600
sim_start --inventory "$IT_TMP/big.json" || exit 1
rhv_config "$IT_TMP/big.yaml" "page_size: 100"
sweep_rules "$IT_TMP/big.yaml" -1 100
vs -c "$IT_TMP/big.yaml" run --dry-run --report "$IT_TMP/big-dry.json"
check "600-VM dry run exits 0" [ "$RC" = 0 ]
check "600-VM listing is complete" report_check "$IT_TMP/big-dry.json" "
assert r['summary']['rhv-sim']['listed'] == $NALL + 600, r['summary']
assert len(names) == $NSEL + 600, len(names)
"
check "listing read 7 pages of 100" sim_stats "
assert count('GET /ovirt-engine/api/vms', 'GET') - count('/vms/{', 'GET') == 7, r
"
rhv_config "$IT_TMP/big500.yaml"
sweep_rules "$IT_TMP/big500.yaml" -1 100
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
sweep_rules "$IT_TMP/ttl.yaml" -1 100
vs -c "$IT_TMP/ttl.yaml" run --yes --report "$IT_TMP/ttl-report.json"
check "run across token expiry exits 0" [ "$RC" = 0 ]
check "run across token expiry deletes all" report_check "$IT_TMP/ttl-report.json" "
assert len(names) == $NSEL + 60 and all(v['outcome'] == 'deleted' for v in r['vms']), collections.Counter(v['outcome'] for v in r['vms'])
"
check "token renewed once per expiry" sim_stats "
auth = count('oauth/token')
other = s['requests'] - auth - count('unknown')
expiries = other // 40 + 1
assert 2 <= auth <= expiries + 1, (auth, other, r)
"

# --- bursts of 503 and 429 are retried
sweep_check_bursts rhv rhv_config

# --- a delete whose disk removal fails is failed, exit 1
mkinventory "$IT_TMP/err.json"
sim_start --inventory "$IT_TMP/err.json" --fault rhv:delete-error || exit 1
rhv_config "$IT_TMP/err.yaml"
sweep_rules "$IT_TMP/err.yaml"
vs -c "$IT_TMP/err.yaml" run --yes --report "$IT_TMP/err-report.json"
check "failed deletes exit 1" [ "$RC" = 1 ]
check "failed deletes are failed with a message" report_check "$IT_TMP/err-report.json" "
assert sorted(names) == sorted('$SELECTED'.split()), names
for v in r['vms']:
    assert v['outcome'] == 'failed', v
    assert v['error']['class'] == 'server' and 'did not complete' in v['error']['message'], v
"
check "failed deletes: every VM is still there" [ "$(sim_names rhv)" = "$(mkinventory /dev/stdout | python3 -c '
import json, sys
print("\n".join(sorted(v["name"] for v in json.load(sys.stdin)["rhv"])))')" ]
check "the summary lists the failures" grep -q "failed" "$IT_TMP/out"

# --- delete_protected set after the listing (--fault rhv:protect-late on
# every running VM).  With stop_recheck_after: 0 the look before each
# stop sees it: nothing is stopped.  By default the fresh listing stands
# for that look: the VMs are stopped, and the engine refuses their
# DELETEs.  Protected either way; the down VM is deleted.
RUNNING="test_vm_1 jenkins-4411 ci-build-7f3a test_suspended test_paused test_expired"
for mode in look fresh; do
	mkinventory "$IT_TMP/late.json"
	sim_start --inventory "$IT_TMP/late.json" --fault rhv:protect-late ||
		exit 1
	# An hour, not the default 30s: the test must not depend on how
	# fast a loaded machine gets from the listing to the stops.
	if [ $mode = look ]; then
		rhv_config "$IT_TMP/late.yaml" "stop_recheck_after: 0"
	else
		rhv_config "$IT_TMP/late.yaml" "stop_recheck_after: 1h"
	fi
	sweep_rules "$IT_TMP/late.yaml"
	vs -c "$IT_TMP/late.yaml" run --yes --report "$IT_TMP/late-$mode.json"
	check "protected late ($mode): run exits 0" [ "$RC" = 0 ]
	check "protected late ($mode): running VMs protected, the down one deleted" \
		report_check "$IT_TMP/late-$mode.json" "
out = {v['name']: v['outcome'] for v in r['vms']}
assert out.pop('test_vm_2') == 'deleted', out
assert sorted(out) == sorted('$RUNNING'.split()), out
assert set(out.values()) == {'protected'}, out
"
	check "protected late ($mode): stopped only without the look" \
		python3 -c "
import json, sys
st = json.loads(sys.stdin.read())['rhv']
power = {v['name']: v['power_state'] for v in st}
running = '$RUNNING'.split()
listed = dict(test_suspended='suspended', test_paused='paused')
for n in running:
    if '$mode' == 'fresh':
        assert power[n] in ('powering_down', 'down'), (n, power)
    else:
        assert power[n] == listed.get(n, 'up'), (n, power)
" <<<"$(sim_get /_sim/state)"
	check "protected late ($mode): stops sent" sim_stats "
assert count('/stop', 'POST') == (6 if '$mode' == 'fresh' else 0), r
"
done

# --- a key the plugin refuses: the file is wrong, not the engine (exit 2)
rhv_config "$IT_TMP/badkey.yaml" "search: \"name=ci-* page 2\""
sweep_rules "$IT_TMP/badkey.yaml"
vs -c "$IT_TMP/badkey.yaml" run --yes --report "$IT_TMP/badkey.json"
check "a refused key: run exits 2" [ "$RC" = 2 ]
check "a refused key: one line naming the instance and the key" \
	grep -q "rhv-sim: search must be one line without a page clause" "$IT_TMP/err"
vs -c "$IT_TMP/badkey.yaml" check
check "a refused key: check exits 2" [ "$RC" = 2 ]

# --- a dead endpoint: exit 3, one clear line
sweep_check_unreachable rhv-sim "$IT_TMP/err.yaml"

it_finish
