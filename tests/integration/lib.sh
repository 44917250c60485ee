# Shared helpers for the integration tests: start the simulator on a free
# loopback port, write a configuration, run the real vmsweep binary (the
# sanitizer build) against the simulator (the sanitizer build too),
# inspect the simulator's state and count results.
#
# Source it from a test script; call it_finish at the end.

IT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IT_BUILD=${VS_BUILD:-$IT_ROOT/build}
# The ASan+UBSan build of vmsweep and its providers, unless told otherwise.
VMSWEEP=${VMSWEEP:-$IT_BUILD/asan/vmsweep}
VMSWEEP_PLUGINS=${VMSWEEP_PLUGINS:-$IT_BUILD/asan/providers}
# The simulator's ASan+UBSan build as well: its reports fail the test.
SIM=${SIM:-$IT_BUILD/asan/vmsweep-sim}
IT_SHARED=${VS_SHARED:-$IT_ROOT/../shared}

# Debian's python3 itself: a version manager's shim earlier in PATH can
# add seconds to every call, and the tests call it often.
if [ -x /usr/bin/python3 ]; then
	python3() { /usr/bin/python3 "$@"; }
	export -f python3
fi

IT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vmsweep-it.XXXXXX")
# Each test script its own run lock (lock.h looks here first), so that
# tests running side by side never see each other's runs.
unset RUNTIME_DIRECTORY STATE_DIRECTORY
export XDG_RUNTIME_DIR=$IT_TMP
# And its own state store (state.h), never the user's.
export XDG_STATE_HOME=$IT_TMP/state
unset VMSWEEP_NOW
IT_PASS=0
IT_FAIL=0
SIM_PID=
SIM_PORT=
SIM_URL=

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

it_cleanup() {
	sim_stop
	rm -rf "$IT_TMP"
}
trap it_cleanup EXIT

# sim_start ARGS...: start the simulator with ARGS and wait for its port.
sim_start() {
	sim_stop
	rm -f "$IT_TMP/sim.port"
	"$SIM" --listen 127.0.0.1:0 --port-file "$IT_TMP/sim.port" "$@" \
		>"$IT_TMP/sim.log" 2>&1 &
	SIM_PID=$!
	local i
	for i in $(seq 1 200); do
		if [ -s "$IT_TMP/sim.port" ]; then
			SIM_PORT=$(cat "$IT_TMP/sim.port")
			SIM_URL="http://127.0.0.1:$SIM_PORT"
			return 0
		fi
		if ! kill -0 "$SIM_PID" 2>/dev/null; then
			echo "simulator exited early:" >&2
			cat "$IT_TMP/sim.log" >&2
			SIM_PID=
			return 1
		fi
		sleep 0.05
	done
	echo "simulator did not report its port" >&2
	return 1
}

# sim_stop: stop the simulator (SIGKILL when SIGTERM is not enough within
# five seconds); a sanitizer report in its log counts as a failure.
sim_stop() {
	if [ -n "$SIM_PID" ]; then
		kill "$SIM_PID" 2>/dev/null
		for _ in $(seq 1 50); do
			kill -0 "$SIM_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$SIM_PID" 2>/dev/null
		wait "$SIM_PID" 2>/dev/null
		SIM_PID=
		if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
			"$IT_TMP/sim.log" 2>/dev/null; then
			IT_FAIL=$((IT_FAIL + 1))
			echo "FAIL - simulator sanitizer report:"
			head -n 40 "$IT_TMP/sim.log" | sed 's/^/       /'
		fi
	fi
}

# sim_get PATH: print the simulator's JSON at PATH (e.g. /_sim/state).
sim_get() {
	python3 - "$SIM_URL$1" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    sys.stdout.write(r.read().decode())
PY
}

# osp_entry, rhv_entry, vmware_entry [KEY: VALUE]...: print one provider
# list entry ("osp-sim", "rhv-sim", "vc-sim") pointing at the simulator,
# 8 requests in flight at most; each argument is one more key line.
entry_keys() {
	local kv
	for kv in "$@"; do
		echo "    $kv"
	done
}
osp_entry() {
	cat <<EOF
  - name: osp-sim
    type: osp
    auth_url: $SIM_URL/identity
    username: admin
    password_env: VMSWEEP_IT_PASSWORD
    project_name: admin
    user_domain_name: Default
    project_domain_name: Default
    region: RegionOne
    max_concurrency: 8
EOF
	entry_keys "$@"
}
rhv_entry() {
	cat <<EOF
  - name: rhv-sim
    type: rhv
    url: $SIM_URL/ovirt-engine/api
    username: admin@internal
    password_env: VMSWEEP_IT_PASSWORD
    max_concurrency: 8
EOF
	entry_keys "$@"
}
vmware_entry() {
	cat <<EOF
  - name: vc-sim
    type: vmware
    url: $SIM_URL
    username: admin@vsphere.local
    password_env: VMSWEEP_IT_PASSWORD
    max_concurrency: 8
EOF
	entry_keys "$@"
}

# one_provider FILE ENTRY [KEY: VALUE]...: a configuration with the one
# provider that ENTRY (osp_entry, ...) prints; the caller appends rules
# and the rest.
one_provider() {
	local f=$1 entry=$2
	shift 2
	{
		echo "providers:"
		"$entry" "$@"
		cat <<EOF
report:
  dir: $IT_TMP/reports
EOF
	} >"$f"
}

# osp_config FILE: a configuration with one OpenStack provider "osp-sim"
# pointing at the simulator; the caller appends rules and the rest.
osp_config() {
	one_provider "$1" osp_entry
}
export VMSWEEP_IT_PASSWORD=secret

# vmware_config FILE: a configuration with one vSphere provider "vc-sim"
# pointing at the simulator; the caller appends rules and the rest.
vmware_config() {
	one_provider "$1" vmware_entry
}

# rhv_config FILE [KEY: VALUE]...: a configuration with one oVirt provider
# "rhv-sim" pointing at the simulator (SSO, tags read so that tag markers
# protect); each further argument is one more provider key line.  The
# caller appends rules and the rest.
rhv_config() {
	local f=$1
	shift
	one_provider "$f" rhv_entry "tags: true" "$@"
}

# vs ARGS...: run vmsweep; output in $IT_TMP/out and $IT_TMP/err, status
# in RC.
vs() {
	"$VMSWEEP" --plugin-dir "$VMSWEEP_PLUGINS" "$@" \
		>"$IT_TMP/out" 2>"$IT_TMP/err" </dev/null
	RC=$?
	return 0
}

# check NAME COMMAND...: one assertion.
check() {
	local name=$1
	shift
	if "$@"; then
		IT_PASS=$((IT_PASS + 1))
		echo "ok   - $name"
	else
		IT_FAIL=$((IT_FAIL + 1))
		echo "FAIL - $name"
		[ -s "$IT_TMP/err" ] && tail -n 20 "$IT_TMP/err" | sed 's/^/       /'
	fi
}

# names_once NAME FILE [TEXT]: FILE has a line naming NAME (and holding
# TEXT, when given), and no such line names it more than once: a
# provider's message names its instance, and the core must not add the
# name again.
names_once() {
	awk -v n="$1" -v t="${3:-}" 'index($0, n) && index($0, t) {
		seen = 1; line = $0
		if (gsub(n, "", line) != 1) { print "named twice: " $0; bad = 1 } }
		END { exit bad || !seen }' "$2"
}

# ---------------------------------------------------------------------
# The sweep scripts (test_sweep_<platform>.sh) run one scenario against
# each platform.  PLATFORM is the simulator's name for it (osp, rhv,
# vmware), PROVIDER the configured instance (osp-sim, rhv-sim, vc-sim).
# The helpers below read the script's SELECTED and KEPT (names, space
# separated: what the rules must select and what they must keep) and
# before (the simulator's names before anything ran, from sim_names).

# sim_names PLATFORM: the names of the PLATFORM VMs the simulator still
# has, sorted, one a line.
sim_names() {
	sim_get /_sim/state | python3 -c '
import json, sys
print("\n".join(sorted(v["name"] for v in json.load(sys.stdin)[sys.argv[1]])))' "$1"
}

# sim_stats PYTHON: run PYTHON with s = the simulator's statistics,
# r = its requests by route, route(sub) = the requests to routes that
# contain sub, and count(part, method) = the same, of one method.
sim_stats() {
	python3 -c "
import json, urllib.request
s = json.load(urllib.request.urlopen('$SIM_URL/_sim/stats'))
r = s['by_route']
def count(part, method=None):
    return sum(v for k, v in r.items()
               if part in k and (method is None or (' %s ' % method) in k))
def route(sub):
    return count(sub)
$1
"
}

# report_check FILE PYTHON: run PYTHON with r = the report JSON and
# names = its VM names; fails when a VM appears twice.
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

# sweep_rules FILE [MAX_DELETES] [MAX_DELETE_PERCENT]: append the rules,
# protections, limits and run settings the sweep scripts share; the
# delete timeout is IT_DELETE_TIMEOUT (default 20s).
sweep_rules() {
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
  delete_timeout: ${IT_DELETE_TIMEOUT:-20s}
  confirm_interval: 100ms
EOF
}

# sweep_check_plan PLAN [PYTHON]: the plan in PLAN (JSON) selects exactly
# SELECTED, keeps each of KEPT with a reason and names the rules of each
# VM it selects; PYTHON then runs with p = the plan and kept = the
# reasons by name.
sweep_check_plan() {
	check "plan selects exactly the expected VMs" python3 -c "
import json
p = json.load(open('$1'))
got = sorted(v['name'] for v in p['vms'])
want = sorted('$SELECTED'.split())
assert got == want, (got, want)
kept = {k['name']: k['reason'] for k in p['kept']}
for n in '$KEPT'.split():
    assert n in kept and kept[n], (n, kept)
assert all(v['rules'] for v in p['vms'])
${2:-}
"
}

# sweep_check_dry_run PLATFORM PROVIDER CFG: a dry run with CFG deletes
# nothing, reports exactly SELECTED as pretend (in $IT_TMP/dry.json),
# logs a pretend delete for each, and the inventory once.
sweep_check_dry_run() {
	local platform=$1 provider=$2 cfg=$3

	vs -c "$cfg" run --dry-run --report "$IT_TMP/dry.json"
	check "dry run exits 0" [ "$RC" = 0 ]
	check "dry run deletes nothing" [ "$(sim_names "$platform")" = "$before" ]
	check "dry run report lists exactly the plan as pretend" \
		report_check "$IT_TMP/dry.json" "
assert sorted(names) == sorted('$SELECTED'.split()), names
assert all(v['outcome'] == 'pretend' for v in r['vms'])
assert r['run']['mode'] == 'dry_run'
"
	check "dry run logs a pretend delete per VM" bash -c "
	for n in $SELECTED; do grep -q \"Pretend delete: \$n on $provider\" '$IT_TMP/err' || exit 1; done"
	check "the inventory is logged once, by the core" \
		[ "$(grep -c "$provider: listed [0-9]* VMs\$" "$IT_TMP/err")" = 1 -a \
		"$(grep -c "$provider: listed " "$IT_TMP/err")" = 1 ]
}

# sweep_check_real_run PLATFORM CFG WHO OTHERS: a real run with CFG
# deletes exactly SELECTED, leaves KEPT and OTHERS (the check calls them
# WHO), and reports every planned VM once as deleted ($IT_TMP/real.json).
sweep_check_real_run() {
	local platform=$1 cfg=$2 who=$3 others=$4

	vs -c "$cfg" run --yes --report "$IT_TMP/real.json"
	check "real run exits 0" [ "$RC" = 0 ]
	check "real run deletes exactly the plan" python3 -c "
before = set('''$before'''.split())
after = set('''$(sim_names "$platform")'''.split())
assert before - after == set('$SELECTED'.split()), before - after
"
	check "$who survive" bash -c "
	s='$(sim_names "$platform")'; for n in $KEPT $others; do echo \"\$s\" | grep -qx -- \"\$n\" || exit 1; done"
	check "real report: every planned VM once, deleted" \
		report_check "$IT_TMP/real.json" "
assert sorted(names) == sorted('$SELECTED'.split()), names
assert all(v['outcome'] == 'deleted' for v in r['vms']), [(v['name'], v['outcome']) for v in r['vms']]
assert r['run']['mode'] == 'real'
"
}

# sweep_check_empty_run CFG: a second run finds nothing to do, and an
# empty selection is a success.
sweep_check_empty_run() {
	vs -c "$1" run --yes --report "$IT_TMP/empty.json"
	check "empty selection exits 0" [ "$RC" = 0 ]
	check "empty selection report has no VMs" \
		report_check "$IT_TMP/empty.json" "assert names == []"
}

# sweep_check_bursts PLATFORM CONFIG_FN: bursts of 503 and 429 from the
# simulator are retried until SELECTED and the script's 40 extra VMs
# (mkinventory FILE 40) are all deleted.  CONFIG_FN writes the
# provider's configuration (osp_config, rhv_config, vmware_config).
sweep_check_bursts() {
	local platform=$1 config=$2 n

	n=$(($(echo $SELECTED | wc -w) + 40))
	mkinventory "$IT_TMP/faults.json" 40
	sim_start --inventory "$IT_TMP/faults.json" \
		--fault "$platform:503:0.1" --fault "$platform:429:0.05" || exit 1
	"$config" "$IT_TMP/faults.yaml"
	sweep_rules "$IT_TMP/faults.yaml" -1 100
	vs -c "$IT_TMP/faults.yaml" run --yes --report "$IT_TMP/faults-report.json"
	check "run through 503/429 bursts exits 0" [ "$RC" = 0 ]
	check "run through 503/429 bursts deletes all" \
		report_check "$IT_TMP/faults-report.json" "
assert len(names) == $n, len(names)
bad = [(v['name'], v['outcome'], v.get('error')) for v in r['vms'] if v['outcome'] != 'deleted']
assert not bad, (collections.Counter(v['outcome'] for v in r['vms']), bad)
"
	check "the simulator did answer 503 and 429" sim_stats "
assert s['by_status'].get('503', 0) > 0 and s['by_status'].get('429', 0) > 0, s['by_status']
"
}

# sweep_check_unreachable PROVIDER CFG: with the simulator stopped, a run
# exits 3 and names PROVIDER, once a line.
sweep_check_unreachable() {
	sim_stop
	vs -c "$2" run --yes --report "$IT_TMP/dead.json"
	check "unreachable provider exits 3" [ "$RC" = 3 ]
	check "unreachable provider names itself" grep -q "$1" "$IT_TMP/err"
	check "unreachable provider names itself once a line" \
		names_once "$1" "$IT_TMP/err"
}

it_finish() {
	sim_stop
	echo "$IT_PASS passed, $IT_FAIL failed"
	[ "$IT_FAIL" -eq 0 ]
}
