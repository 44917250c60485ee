#!/bin/bash
# make valgrind: the plain build of vmsweep under valgrind for a whole
# cycle against the simulator on all three platforms: check, plan, a dry
# run and a real run.  Fails on any memory error or definite leak.
# tests/valgrind.supp holds the few suppressions, each with its reason.
#
# VALGRIND_VMS=N sets the lab size per platform (default 30).
. "$(dirname "$0")/integration/lib.sh"

VMSWEEP=$IT_BUILD/vmsweep
VMSWEEP_PLUGINS=$IT_BUILD/providers
SIM=$IT_BUILD/vmsweep-sim
N=${VALGRIND_VMS:-30}
unset ASAN_OPTIONS UBSAN_OPTIONS

if ! command -v valgrind >/dev/null; then
	echo "valgrind is not installed (apt-get install valgrind)" >&2
	exit 1
fi

VG=(valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite
	--show-leak-kinds=definite --error-exitcode=99 --track-fds=no
	--suppressions="$IT_ROOT/tests/valgrind.supp" --gen-suppressions=all
	--num-callers=30)

# vg NAME ARGS...: run vmsweep under valgrind; RC as vs sets it, the
# valgrind output in $IT_TMP/NAME.vg.
vg() {
	local name=$1
	shift
	"${VG[@]}" --log-file="$IT_TMP/$name.vg" "$VMSWEEP" \
		--plugin-dir "$VMSWEEP_PLUGINS" "$@" \
		>"$IT_TMP/out" 2>"$IT_TMP/err" </dev/null
	RC=$?
	if [ -s "$IT_TMP/$name.vg" ]; then
		echo "--- valgrind: $name"
		cat "$IT_TMP/$name.vg"
	fi
}

sim_start --generate "vmware=$N,rhv=$N,osp=$N" --session-ttl 20 \
	--fault all:503:0.05 --fault all:delete-error:0.05 || exit 1
cat >"$IT_TMP/cfg.yaml" <<EOF
providers:
  - name: vc-sim
    type: vmware
    url: $SIM_URL
    username: admin@vsphere.local
    password_env: VMSWEEP_IT_PASSWORD
  - name: rhv-sim
    type: rhv
    url: $SIM_URL/ovirt-engine/api
    username: admin@internal
    password_env: VMSWEEP_IT_PASSWORD
    tags: true
  - name: osp-sim
    type: osp
    auth_url: $SIM_URL/identity
    username: admin
    password_env: VMSWEEP_IT_PASSWORD
    project_name: admin
    user_domain_name: Default
    project_domain_name: Default
rules:
  - name: leftovers
    match: ["test_*", "jenkins-*", "ci-*"]
    older_than: 1h
limits:
  max_deletes: 10000
  max_delete_percent: 100
run:
  workers: 8
  retry_rounds: 2
  retry_delay: 100ms
  confirm_interval: 100ms
  request_timeout: 10s
state:
  path: $IT_TMP/state.db
report:
  dir: $IT_TMP/reports
EOF

vg check -c "$IT_TMP/cfg.yaml" check
check "check under valgrind: clean, exit 0" [ "$RC" = 0 ]
vg plan -c "$IT_TMP/cfg.yaml" plan -o "$IT_TMP/plan.json"
check "plan under valgrind: clean, exit 0" [ "$RC" = 0 ]
vg dryrun -c "$IT_TMP/cfg.yaml" run --dry-run --report "$IT_TMP/dry.json"
check "dry run under valgrind: clean, exit 0" [ "$RC" = 0 ]
vg run -c "$IT_TMP/cfg.yaml" run --yes --report "$IT_TMP/real.json" \
	--metrics-file "$IT_TMP/metrics.prom"
check "real run under valgrind: clean, exit 0 or 1" [ "$RC" = 0 -o "$RC" = 1 ]
check "the real run deleted VMs" python3 -c "
import json
r = json.load(open('$IT_TMP/real.json'))
assert sum(v['outcome'] == 'deleted' for v in r['vms']) > 0
"
vg report -c "$IT_TMP/cfg.yaml" report "$IT_TMP/real.json"
check "report under valgrind: clean" [ "$RC" = 0 -o "$RC" = 1 ]
vg retry -c "$IT_TMP/cfg.yaml" retry "$IT_TMP/real.json" --yes \
	--report "$IT_TMP/retry.json"
check "retry under valgrind: clean" [ "$RC" != 99 ]

it_finish
