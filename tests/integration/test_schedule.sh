#!/bin/bash
# Scheduled operation end to end: the run lock, SIGTERM and SIGINT in the
# middle of a run, the grace period, --max-runtime, SIGHUP and logrotate,
# journald's stream format, the progress line on a terminal only, check's
# inventory sizes and secret-file warning, and the systemd units.
#
# Runs are held in the middle by the simulator: a latency keeps deletes
# in flight, and a "hang" fault set through /_sim/fault keeps requests on
# the wire for as long as a case needs.  Every wait polls a condition
# with a bound; nothing asserts on elapsed time.
. "$(dirname "$0")/lib.sh"

SYSTEMD_ANALYZE=${SYSTEMD_ANALYZE:-systemd-analyze}

# A lab of N old test VMs, all selected, plus two that are kept.
mkinventory() {
	python3 - "$1" "$2" <<'PY'
import json, sys, datetime
now = datetime.datetime.now(datetime.timezone.utc)
ago = lambda h: (now - datetime.timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
osp = [{"name": "test_vm_%d" % i, "created": ago(10 + i), "status": "ACTIVE"}
       for i in range(int(sys.argv[2]))]
osp += [{"name": "prod-db-1", "created": ago(900), "status": "ACTIVE"},
        {"name": "test_young", "created": ago(1), "status": "ACTIVE"}]
json.dump({"osp": osp}, open(sys.argv[1], "w"))
PY
}

# config FILE [WORKERS] [GRACE]: one OpenStack provider and one rule.
config() {
	osp_config "$1"
	cat >>"$1" <<EOF
rules:
  - name: ci
    match: ["test_*"]
    older_than: 4h
limits:
  max_deletes: unlimited
  max_delete_percent: 100
run:
  workers: ${2:-2}
  retry_rounds: 0
  delete_timeout: 20s
  confirm_interval: 100ms
  grace: ${3:-30s}
EOF
}

# bg NAME ARGS...: start vmsweep in the background; its pid in BG_PID,
# output in $IT_TMP/NAME.out and NAME.err.
bg() {
	local name=$1
	shift
	"$VMSWEEP" --plugin-dir "$VMSWEEP_PLUGINS" "$@" \
		>"$IT_TMP/$name.out" 2>"$IT_TMP/$name.err" </dev/null &
	BG_PID=$!
}

# wait_for COMMAND...: poll (at most 60 s) until COMMAND succeeds.
wait_for() {
	local i
	for i in $(seq 1 1200); do
		"$@" && return 0
		sleep 0.05
	done
	echo "gave up waiting for: $*" >&2
	return 1
}

# count_in FILE TEXT: lines of FILE holding TEXT.
count_in() {
	local n
	n=$(grep -c -- "$2" "$1" 2>/dev/null)
	echo "${n:-0}"
}
at_least() { [ "$(count_in "$1" "$2")" -ge "$3" ]; }

# bg_wait: wait for the background run (bounded); its status in BG_RC.
bg_wait() {
	local i
	for i in $(seq 1 1200); do
		kill -0 "$BG_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$BG_PID" 2>/dev/null; then
		echo "run $BG_PID did not end; killing it" >&2
		kill -KILL "$BG_PID"
	fi
	wait "$BG_PID"
	BG_RC=$?
}

sim_fault() {
	python3 - "$SIM_URL/_sim/fault?$1" <<'PY'
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=b"",
                       method="POST"), timeout=10).read()
PY
}

# both_hung: both workers wait on a request that will never be answered.
# in_flight counts this stats request too; after the latency has passed,
# requests sent before the fault was set are answered, so what is still
# in flight then hangs.
in_flight_3() {
	sim_get /_sim/stats | python3 -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["in_flight"] >= 3 else 1)'
}
both_hung() {
	wait_for in_flight_3 && sleep 0.5 && in_flight_3
}

# report_check FILE PYTHON: r is the report, planned the planned names.
report_check() {
	python3 -c "
import json, collections
r = json.load(open('$1'))
planned = sorted(open('$IT_TMP/planned').read().split())
names = sorted(v['name'] for v in r['vms'])
assert names == planned, ('every planned VM exactly once', names, planned)
out = collections.Counter(v['outcome'] for v in r['vms'])
assert 'planned' not in out, out
$2
"
}

mkinventory "$IT_TMP/inv.json" 60
sim_start --inventory "$IT_TMP/inv.json" --latency 150 --delete-polls 0 ||
	exit 1
config "$IT_TMP/cfg.yaml" 1
vs -c "$IT_TMP/cfg.yaml" plan --format json
python3 -c "
import json
print('\n'.join(v['name'] for v in json.load(open('$IT_TMP/out'))['vms']))" \
	>"$IT_TMP/planned"
check "the plan selects 60 VMs" [ "$(wc -l <"$IT_TMP/planned")" = 60 ]

# --- the lock: a second real run while one deletes exits 5 at once
bg first -c "$IT_TMP/cfg.yaml" run --yes --report "$IT_TMP/first.json"
first=$BG_PID
wait_for at_least "$IT_TMP/first.err" "Delete requested:" 2
vs -c "$IT_TMP/cfg.yaml" run --yes --report "$IT_TMP/second.json"
check "a second real run exits 5" [ "$RC" = 5 ]
check "the refusal names the holder's pid and start time" grep -Eq \
	"another run holds the lock .*vmsweep.lock \(pid $first, started [0-9]{4}-[0-9]{2}-[0-9]{2}T" \
	"$IT_TMP/err"
check "the refusal is one line" [ "$(wc -l <"$IT_TMP/err")" = 1 ]
check "the second run wrote no report" [ ! -e "$IT_TMP/second.json" ]
vs -c "$IT_TMP/cfg.yaml" run --dry-run --workers 8 --report "$IT_TMP/dry.json"
check "a dry run is not locked out" [ "$RC" = 0 ]
check "the first run was still going" kill -0 "$first"

# --- SIGTERM mid-run: in-flight deletes end, the rest not_attempted, 6
kill -TERM "$first"
bg_wait
check "SIGTERM mid-run exits 6" [ "$BG_RC" = 6 ]
check "the stop is logged with the grace period" grep -q \
	"received SIGTERM: stopping; nothing new starts, deletions in flight get 30s" \
	"$IT_TMP/first.err"
check "the report has every planned VM once, some not attempted" \
	report_check "$IT_TMP/first.json" "
assert out['not_attempted'] >= 1, out
assert out['not_attempted'] < 60, out
for v in r['vms']:
    if v['outcome'] == 'not_attempted':
        assert v['error']['class'] == 'cancelled', v
"
check "the summary still went out" grep -q "osp-sim" "$IT_TMP/first.out"
# The lock died with its holder: the next run is not blocked.
vs -c "$IT_TMP/cfg.yaml" run --yes --report "$IT_TMP/rest.json"
check "the next run takes the lock and finishes the job" [ "$RC" = 0 ]

# --- a second signal cuts what is in flight; the report is still written
mkinventory "$IT_TMP/inv2.json" 200
sim_start --inventory "$IT_TMP/inv2.json" --latency 100 --delete-polls 0 ||
	exit 1
config "$IT_TMP/cfg2.yaml" 2 10m
seq 0 199 | sed 's/^/test_vm_/' >"$IT_TMP/planned"
bg second -c "$IT_TMP/cfg2.yaml" run --yes --report "$IT_TMP/second.json"
wait_for at_least "$IT_TMP/second.err" "Delete requested:" 2
sim_fault "set=osp:hang"
both_hung
kill -TERM "$BG_PID"
wait_for at_least "$IT_TMP/second.err" "received SIGTERM: stopping" 1
# The hanging deletes would hold the run for the whole 10m grace.
kill -INT "$BG_PID"
bg_wait
check "a second signal still ends with exit 6" [ "$BG_RC" = 6 ]
check "the second signal is logged" grep -q \
	"received SIGINT again: cancelling the requests in flight" \
	"$IT_TMP/second.err"
check "the report is written, requests cut in flight are failed" \
	report_check "$IT_TMP/second.json" "
cut = [v for v in r['vms'] if 'aborted in flight' in (v.get('error') or {}).get('message', '')]
assert cut, out
for v in cut:
    assert v['outcome'] == 'failed' and v['error']['class'] == 'cancelled', v
assert out['not_attempted'] >= 1, out
"

# --- the grace period running out does the same without a second signal
sim_start --inventory "$IT_TMP/inv2.json" --latency 100 --delete-polls 0 ||
	exit 1
config "$IT_TMP/cfg3.yaml" 2 1s
bg third -c "$IT_TMP/cfg3.yaml" run --yes --report "$IT_TMP/third.json"
wait_for at_least "$IT_TMP/third.err" "Delete requested:" 2
sim_fault "set=osp:hang"
both_hung
kill -TERM "$BG_PID"
bg_wait
check "an expired grace period exits 6" [ "$BG_RC" = 6 ]
check "the end of the grace period is logged" grep -q \
	"grace period of 1s over: cancelling the requests in flight" \
	"$IT_TMP/third.err"
check "the report after the grace period is complete" \
	report_check "$IT_TMP/third.json" "assert out['not_attempted'] >= 1, out"

# --- --max-runtime ends a run the same way
sim_fault "clear=1&set=osp:hang"
bg fourth -c "$IT_TMP/cfg3.yaml" run --yes --max-runtime 1s \
	--report "$IT_TMP/fourth.json"
bg_wait
check "--max-runtime exits 6" [ "$BG_RC" = 6 ]
check "--max-runtime says why it stopped" grep -q \
	"maximum run time reached: stopping" "$IT_TMP/fourth.err"
check "--max-runtime tells the user the report has the rest" grep -q \
	"stopped at the maximum run time" "$IT_TMP/fourth.err"
vs -c "$IT_TMP/cfg3.yaml" run --yes --max-runtime soon
check "a bad --max-runtime is a usage error" [ "$RC" = 2 ]
sim_fault "clear=1"

# --- SIGHUP reopens the log file (logrotate's postrotate)
mkinventory "$IT_TMP/inv5.json" 20
sim_start --inventory "$IT_TMP/inv5.json" --latency 100 --delete-polls 0 ||
	exit 1
config "$IT_TMP/cfg5.yaml"
printf 'log:\n  file: %s\n' "$IT_TMP/vmsweep.log" >>"$IT_TMP/cfg5.yaml"
bg fifth -c "$IT_TMP/cfg5.yaml" run --yes --report "$IT_TMP/fifth.json"
wait_for at_least "$IT_TMP/vmsweep.log" "Delete requested:" 1
mv "$IT_TMP/vmsweep.log" "$IT_TMP/vmsweep.log.1"
kill -HUP "$BG_PID"
wait_for test -e "$IT_TMP/vmsweep.log"
bg_wait
check "a run survives SIGHUP and finishes" [ "$BG_RC" = 0 ]
check "lines before the rotation stay in the old file" grep -q \
	"deleting 20 VMs on osp-sim" "$IT_TMP/vmsweep.log.1"
check "lines after the rotation go to the new file" \
	at_least "$IT_TMP/vmsweep.log" "osp-sim" 1
check "no line is lost or doubled across the rotation" python3 -c "
import re
lines = open('$IT_TMP/vmsweep.log.1').read().splitlines() + \
        open('$IT_TMP/vmsweep.log').read().splitlines()
req = [l for l in lines if 'Delete requested:' in l]
assert len(req) == 20 and len(set(req)) == 20, len(req)
"

# --- journald: priorities, no timestamps, only when stderr is the journal
mkinventory "$IT_TMP/inv6.json" 3
sim_start --inventory "$IT_TMP/inv6.json" || exit 1
config "$IT_TMP/cfg6.yaml"
: >"$IT_TMP/journal"
stream=$(python3 -c "
import os; s = os.stat('$IT_TMP/journal'); print('%d:%d' % (s.st_dev, s.st_ino))")
JOURNAL_STREAM=$stream "$VMSWEEP" --plugin-dir "$VMSWEEP_PLUGINS" \
	-c "$IT_TMP/cfg6.yaml" run --dry-run --report "$IT_TMP/j.json" \
	>/dev/null 2>>"$IT_TMP/journal" </dev/null
check "journald stream: info lines start with <6>, no timestamp" \
	grep -Eq "^<6>INFO \[w[0-9]+\] osp-sim: Pretend delete: test_vm_0 on osp-sim$" \
	"$IT_TMP/journal"
check "journald stream: every line has a priority" python3 -c "
import re
for l in open('$IT_TMP/journal').read().splitlines():
    assert re.match(r'<[3467]>(ERROR|WARN|INFO|DEBUG|TRACE) ', l), l
"
JOURNAL_STREAM=$stream "$VMSWEEP" --plugin-dir "$VMSWEEP_PLUGINS" \
	-c "$IT_TMP/cfg6.yaml" run --dry-run --report "$IT_TMP/j.json" \
	>/dev/null 2>"$IT_TMP/notjournal" </dev/null
check "another stderr keeps timestamps and has no priorities" python3 -c "
import re
ls = open('$IT_TMP/notjournal').read().splitlines()
assert ls
for l in ls:
    assert re.match(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (ERROR|WARN|INFO|DEBUG) ', l), l
"

# --- the progress line: on a terminal only
mkinventory "$IT_TMP/inv7.json" 12
sim_start --inventory "$IT_TMP/inv7.json" --latency 150 || exit 1
config "$IT_TMP/cfg7.yaml" 1
cat >"$IT_TMP/onpty.py" <<'PY'
# onpty.py OUT COMMAND...: run COMMAND on a pseudo-terminal, its output to OUT.
import os, pty, sys
out = open(sys.argv[1], "wb")
def read(fd):
    data = os.read(fd, 65536)
    out.write(data)
    return data
os.environ["TERM"] = "xterm"
sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[2:], read)))
PY
on_pty() {
	local out=$1
	shift
	python3 "$IT_TMP/onpty.py" "$out" "$VMSWEEP" --plugin-dir "$VMSWEEP_PLUGINS" \
		"$@" >/dev/null
}
(unset NO_COLOR; on_pty "$IT_TMP/tty" -c "$IT_TMP/cfg7.yaml" run --dry-run \
	--report "$IT_TMP/t.json")
check "on a terminal the run succeeds" [ $? = 0 ]
check "on a terminal a progress line is drawn and erased" python3 -c "
s = open('$IT_TMP/tty', 'rb').read()
assert b'\r[' in s and b' probed  ' in s and b'/12  ' in s, s[-400:]
assert b'\x1b[K' in s
"
check "the progress line never sits inside a log line" python3 -c "
import re
s = open('$IT_TMP/tty', 'rb').read().decode()
n = 0
for l in s.replace('\r\n', '\n').split('\n'):
    # Drawn or erased segments may only come before a log line's text.
    text = re.sub(r'^(\r[^\r\x1b]*(\x1b\[[0-9;]*m[^\r\x1b]*)*\x1b\[K)*', '', l)
    assert '\r' not in text and '\x1b' not in text, repr(l)
    n += 'Pretend delete:' in text
assert n == 12, n
"
check "colour is used on a terminal without NO_COLOR" grep -q $'\e\[32m' \
	"$IT_TMP/tty"
NO_COLOR=1 on_pty "$IT_TMP/tty-nc" -c "$IT_TMP/cfg7.yaml" run --dry-run \
	--report "$IT_TMP/t.json"
check "NO_COLOR: progress without colour" python3 -c "
s = open('$IT_TMP/tty-nc', 'rb').read()
assert b'\r[' in s and b'\x1b[32m' not in s and b'\x1b[0m' not in s
"
on_pty "$IT_TMP/tty-np" -c "$IT_TMP/cfg7.yaml" run --dry-run --no-progress \
	--report "$IT_TMP/t.json"
check "--no-progress: no progress line on a terminal" python3 -c "
s = open('$IT_TMP/tty-np', 'rb').read()
assert b'\x1b[K' not in s and b' probed  ' not in s
assert s.count(b'Pretend delete:') == 12
"
vs -c "$IT_TMP/cfg7.yaml" run --dry-run --report "$IT_TMP/t.json"
check "not a terminal: no progress line" bash -c "
	! grep -q \$'\r' '$IT_TMP/err' && ! grep -q \$'\e' '$IT_TMP/err' &&
	grep -q 'Pretend delete: test_vm_0' '$IT_TMP/err'"

# --- check: inventory sizes, and a secret file others can read
cat >"$IT_TMP/cfg8.yaml" <<EOF
providers:
  - name: osp-sim
    type: osp
    auth_url: $SIM_URL/identity
    username: admin
    password_file: $IT_TMP/osp.pass
    project_name: admin
    user_domain_name: Default
    project_domain_name: Default
    region: RegionOne
rules:
  - name: ci
    match: ["test_*"]
EOF
printf 'secret\n' >"$IT_TMP/osp.pass"
chmod 600 "$IT_TMP/osp.pass"
vs -c "$IT_TMP/cfg8.yaml" check
check "check exits 0" [ "$RC" = 0 ]
check "check shows each inventory's size" grep -q \
	"^osp-sim: ok (plugin osp, authenticated, 14 VMs listed)$" "$IT_TMP/out"
check "a private secret file draws no warning" bash -c \
	"! grep -q 'readable by group or others' '$IT_TMP/err'"
chmod 644 "$IT_TMP/osp.pass"
vs -c "$IT_TMP/cfg8.yaml" check
check "check warns about a secret file others can read" grep -q \
	"secret file '$IT_TMP/osp.pass' for 'password' is readable by group or others (mode 0644); chmod 600 it" \
	"$IT_TMP/err"
sim_stop

# --- the systemd units verify, pointed at a binary that exists
if command -v "$SYSTEMD_ANALYZE" >/dev/null 2>&1; then
	mkdir -p "$IT_TMP/units"
	for u in vmsweep.service vmsweep.timer vmsweep@.service vmsweep@.timer; do
		sed "s|/usr/local/bin/vmsweep|$IT_BUILD/vmsweep|" \
			"$IT_ROOT/config/$u" >"$IT_TMP/units/$u"
	done
	verify() {
		(cd "$IT_TMP/units" &&
			"$SYSTEMD_ANALYZE" verify --man=no "$@" \
				>"$IT_TMP/verify" 2>&1) &&
			[ ! -s "$IT_TMP/verify" ] ||
			{ cat "$IT_TMP/verify" >&2; return 1; }
	}
	check "vmsweep.service and .timer verify cleanly" \
		verify ./vmsweep.service ./vmsweep.timer
	check "an instance of vmsweep@.service and its timer verify cleanly" \
		verify ./vmsweep@lab.service ./vmsweep@lab.timer
	# The check can fail: systemd only warns about a bad value.
	sed 's/^ProtectSystem=strict/ProtectSystem=bogus/' \
		"$IT_TMP/units/vmsweep.service" >"$IT_TMP/units/broken.service"
	check "a unit with a bad value fails the check" bash -c \
		"$(declare -f verify); IT_TMP='$IT_TMP' SYSTEMD_ANALYZE='$SYSTEMD_ANALYZE'; ! verify ./broken.service 2>/dev/null"
	check "the template keeps the service's hardening" python3 -c "
def hardening(p):
    ls = open(p).read().split('# Hardening:')[1].split('[Install]')[0]
    return ls
a = hardening('$IT_ROOT/config/vmsweep.service')
b = hardening('$IT_ROOT/config/vmsweep@.service')
assert a == b
"
else
	echo "skip - systemd-analyze not installed (make deps installs it): units not verified"
fi
check "the cron line runs vmsweep with --yes and a time limit" grep -Eq \
	'^0 3 \* \* \* vmsweep /usr/local/bin/vmsweep -c /etc/vmsweep/vmsweep.yaml run --yes --max-runtime 2h' \
	"$IT_ROOT/config/vmsweep.cron"

it_finish
