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

# osp_config FILE: a configuration with one OpenStack provider "osp-sim"
# pointing at the simulator; the caller appends rules and the rest.
osp_config() {
	cat >"$1" <<EOF
providers:
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
report:
  dir: $IT_TMP/reports
EOF
}
export VMSWEEP_IT_PASSWORD=secret

# vmware_config FILE: a configuration with one vSphere provider "vc-sim"
# pointing at the simulator; the caller appends rules and the rest.
vmware_config() {
	cat >"$1" <<EOF
providers:
  - name: vc-sim
    type: vmware
    url: $SIM_URL
    username: admin@vsphere.local
    password_env: VMSWEEP_IT_PASSWORD
    max_concurrency: 8
report:
  dir: $IT_TMP/reports
EOF
}

# rhv_config FILE [KEY: VALUE]...: a configuration with one oVirt provider
# "rhv-sim" pointing at the simulator (SSO, tags read so that tag markers
# protect); each further argument is one more provider key line.  The
# caller appends rules and the rest.
rhv_config() {
	local f=$1 kv
	shift
	{
		cat <<EOF
providers:
  - name: rhv-sim
    type: rhv
    url: $SIM_URL/ovirt-engine/api
    username: admin@internal
    password_env: VMSWEEP_IT_PASSWORD
    tags: true
    max_concurrency: 8
EOF
		for kv in "$@"; do
			echo "    $kv"
		done
		cat <<EOF
report:
  dir: $IT_TMP/reports
EOF
	} >"$f"
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

it_finish() {
	sim_stop
	echo "$IT_PASS passed, $IT_FAIL failed"
	[ "$IT_FAIL" -eq 0 ]
}
