#!/bin/bash
# The sweep end to end with the OpenStack provider: the real vmsweep binary
# against the simulator over real HTTP.
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
osp = [
  # selected: old enough, matched by a rule
  {"name": "test_vm_1", "created": ago(10), "status": "ACTIVE"},
  {"name": "test_vm_2", "created": ago(100), "status": "SHUTOFF"},
  {"name": "jenkins-4411", "created": ago(30), "status": "ACTIVE"},
  {"name": "ci-build-7f3a", "created": ago(48), "status": "ACTIVE"},
  {"name": "test_expired", "created": ago(50), "status": "ACTIVE",
   "tags": ["vmsweep:expires=" + ago(1)]},
  # kept: too young, protected, excluded
  {"name": "test_young", "created": ago(1), "status": "ACTIVE"},
  {"name": "ci-build-0abc", "created": ago(5), "status": "ACTIVE"},
  {"name": "test_locked", "created": ago(50), "status": "ACTIVE", "locked": True},
  {"name": "test_tagged", "created": ago(50), "status": "ACTIVE",
   "tags": ["vmsweep:keep"]},
  {"name": "test_meta", "created": ago(50), "status": "ACTIVE",
   "metadata": {"vmsweep:keep": "true"}},
  {"name": "test_until", "created": ago(50), "status": "ACTIVE",
   "tags": ["vmsweep:expires=" + until(48)]},
  {"name": "test_db-keep", "created": ago(50), "status": "ACTIVE"},
  # not matched by any rule
  {"name": "prod-db-2", "created": ago(5000), "status": "ACTIVE"},
  {"name": "infra-dns-1", "created": ago(5000), "status": "ACTIVE"},
]
for i in range(extra):
    osp.append({"name": "test_bulk_%d" % i, "created": ago(10 + i % 50),
                "status": "ACTIVE"})
json.dump({"osp": osp}, open(sys.argv[1], "w"))
PY
}

SELECTED="test_vm_1 test_vm_2 jenkins-4411 ci-build-7f3a test_expired"
KEPT="test_young ci-build-0abc test_locked test_tagged test_meta test_until test_db-keep"

mkinventory "$IT_TMP/inv.json"
sim_start --inventory "$IT_TMP/inv.json" --delete-polls 2 || exit 1
osp_config "$IT_TMP/cfg.yaml"
sweep_rules "$IT_TMP/cfg.yaml"
before=$(sim_names osp)

# --- the plan
vs -c "$IT_TMP/cfg.yaml" plan --format json
check "plan exits 0" [ "$RC" = 0 ]
cp "$IT_TMP/out" "$IT_TMP/plan.json"
sweep_check_plan "$IT_TMP/plan.json"
vs -c "$IT_TMP/cfg.yaml" plan
check "plan table names every selected VM" \
	bash -c "for n in $SELECTED; do grep -q -- \"\$n\" '$IT_TMP/out' || exit 1; done"

# --- a dry run deletes nothing and reports exactly the plan
sweep_check_dry_run osp osp-sim "$IT_TMP/cfg.yaml"
check "dry run sent no server DELETE or action" sim_stats "
bad = [k for k in s['by_route'] if ('DELETE' in k or 'action' in k) and 'auth/tokens' not in k]
assert not bad, s['by_route']
"

# --- a real run needs --yes when nobody can confirm
vs -c "$IT_TMP/cfg.yaml" run
check "real run without --yes refuses (exit 2)" [ "$RC" = 2 ]
check "real run without --yes deletes nothing" [ "$(sim_names osp)" = "$before" ]

# --- a gate stops the run before anything is deleted
sed -i 's/max_deletes: 200/max_deletes: 3/' "$IT_TMP/cfg.yaml"
vs -c "$IT_TMP/cfg.yaml" run --yes
check "max_deletes gate exits 4" [ "$RC" = 4 ]
check "gate message names the limit" grep -q "max_deletes" "$IT_TMP/err"
check "gate deletes nothing" [ "$(sim_names osp)" = "$before" ]
sed -i 's/max_deletes: 3/max_deletes: 200/' "$IT_TMP/cfg.yaml"

# --- the real run deletes exactly the plan
sweep_check_real_run osp "$IT_TMP/cfg.yaml" "protected and excluded VMs" \
	"prod-db-2 infra-dns-1"
check "the run ends with a summary" grep -q "osp-sim" "$IT_TMP/out"

# --- a second run finds nothing to do: an empty selection is a success
sweep_check_empty_run "$IT_TMP/cfg.yaml"

# --- 2,500 servers listed across pages; a dry run plans them all
mkinventory "$IT_TMP/big.json" 2500
sim_start --inventory "$IT_TMP/big.json" || exit 1
osp_config "$IT_TMP/big.yaml"
sweep_rules "$IT_TMP/big.yaml" -1 100
vs -c "$IT_TMP/big.yaml" run --dry-run --report "$IT_TMP/big-dry.json"
check "2,500-server dry run exits 0" [ "$RC" = 0 ]
check "2,500-server listing is complete" report_check "$IT_TMP/big-dry.json" "
assert r['summary']['osp-sim']['listed'] == 2514, r['summary']
assert len(names) == 2505, len(names)
"
check "listing followed several pages" sim_stats "
pages = sum(v for k, v in s['by_route'].items() if 'servers/detail' in k)
assert pages >= 3, s['by_route']
"

# --- a token expiring mid-run is renewed once, not once per worker
mkinventory "$IT_TMP/ttl.json" 60
sim_start --inventory "$IT_TMP/ttl.json" --session-ttl 40 || exit 1
osp_config "$IT_TMP/ttl.yaml"
sweep_rules "$IT_TMP/ttl.yaml" -1 100
vs -c "$IT_TMP/ttl.yaml" run --yes --report "$IT_TMP/ttl-report.json"
check "run across token expiry exits 0" [ "$RC" = 0 ]
check "run across token expiry deletes all" report_check "$IT_TMP/ttl-report.json" "
assert len(names) == 65 and all(v['outcome'] == 'deleted' for v in r['vms'])
"
check "token renewed once per expiry" sim_stats "
auth = sum(v for k, v in s['by_route'].items() if 'auth/tokens' in k)
other = s['requests'] - auth
expiries = other // 40 + 1
assert 2 <= auth <= expiries + 1, (auth, other, s['by_route'])
"

# --- bursts of 503 and 429 are retried
sweep_check_bursts osp osp_config

# --- a delete that ends in ERROR is failed, exit 1
mkinventory "$IT_TMP/err.json"
sim_start --inventory "$IT_TMP/err.json" --fault osp:delete-error || exit 1
osp_config "$IT_TMP/err.yaml"
sweep_rules "$IT_TMP/err.yaml"
vs -c "$IT_TMP/err.yaml" run --yes --report "$IT_TMP/err-report.json"
check "deletes ending in ERROR exit 1" [ "$RC" = 1 ]
check "deletes ending in ERROR are failed with a message" report_check "$IT_TMP/err-report.json" "
assert sorted(names) == sorted('$SELECTED'.split()), names
for v in r['vms']:
    assert v['outcome'] == 'failed', v
    assert v['error']['class'] == 'server' and v['error']['message'], v
"
check "the summary lists the failures" grep -q "failed" "$IT_TMP/out"
check "failed deletes name the provider once a line" \
	names_once osp-sim "$IT_TMP/err" "Delete failed:"

# --- a wrong password: exit 3, the provider named once
VMSWEEP_IT_PASSWORD=wrong vs -c "$IT_TMP/err.yaml" run --yes --report "$IT_TMP/badpw.json"
check "wrong password exits 3" [ "$RC" = 3 ]
check "wrong password says why" grep -q "osp-sim: Keystone refused" "$IT_TMP/err"
check "wrong password names the provider once a line" names_once osp-sim "$IT_TMP/err"

# --- a dead endpoint: exit 3, one clear line
sweep_check_unreachable osp-sim "$IT_TMP/err.yaml"

it_finish
