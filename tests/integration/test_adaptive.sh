#!/bin/bash
# Adaptive concurrency end to end: the real vmsweep against the simulator
# answering 503 and 429 (with Retry-After) to a share of all requests.
# Each provider's window must have been cut (decreases > 0, its lowest
# below its ceiling) in the report, the metrics and the text summary, and
# every planned VM must still end deleted.  Without faults no window is
# cut; with adaptive_concurrency off the report says nothing of one.
# Nothing here looks at the clock.
. "$(dirname "$0")/lib.sh"

N=${ADAPTIVE_VMS:-30}

# mkconfig FILE ADAPTIVE: osp-sim and rhv-sim, 8 requests in flight at
# most each, 16 workers (so the ceiling is max_concurrency).
mkconfig() {
	{
		echo "providers:"
		osp_entry "adaptive_concurrency: $2"
		rhv_entry "adaptive_concurrency: $2"
		cat <<EOF
rules:
  - name: leftovers
    match: ["*"]
    older_than: 1h
protect:
  names: ["*-keep", "infra-*", "prod-*"]
limits:
  max_deletes: 100000
  max_delete_percent: 100
run:
  workers: 16
  retry_rounds: 10
  retry_delay: 100ms
  confirm_interval: 100ms
report:
  dir: $IT_TMP/reports
  metrics_file: $IT_TMP/metrics.prom
EOF
	} >"$1"
}

faults() {
	python3 - "$SIM_URL/_sim/fault" "$1" <<'PY'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(),
                             method="POST",
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=10).read()
PY
}

# every_planned_deleted REPORT: each VM is deleted or already absent.
every_planned_deleted() {
	python3 - "$1" <<'PY'
import json, sys, collections
r = json.load(open(sys.argv[1]))
o = collections.Counter(v["outcome"] for v in r["vms"])
assert r["vms"] and set(o) <= {"deleted", "already_absent"}, o
PY
}

# --- 1. Faults on: 20% 503 and 5% 429 on every route of both platforms.
sim_start --generate "rhv=$N,osp=$N" --seed 3 --delete-polls 1 || exit 1
mkconfig "$IT_TMP/cfg.yaml" true
vs -c "$IT_TMP/cfg.yaml" plan -o "$IT_TMP/plan.json"
check "plan exits 0" [ "$RC" = 0 ]
faults '{"clear":true,"set":["all:503:0.20","all:429:0.05"]}'
vs -c "$IT_TMP/cfg.yaml" apply "$IT_TMP/plan.json" --yes \
	--report "$IT_TMP/r1.json"
check "the run under pushback exits 0" [ "$RC" = 0 ]
check "every planned VM ends deleted" every_planned_deleted "$IT_TMP/r1.json"
check "each window was cut, and no lower than 1" \
	python3 - "$IT_TMP/r1.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
for name in ("osp-sim", "rhv-sim"):
    c = s[name]["concurrency"]
    assert c["max"] == 8, (name, c)
    assert c["decreases"] > 0, (name, c)
    assert 1 <= c["min"] < c["max"], (name, c)
    assert c["min"] <= c["final"] <= c["max"], (name, c)
PY
check "the metrics show the cuts" python3 - "$IT_TMP/metrics.prom" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def val(m, p):
    x = re.search(r'^vmsweep_%s\{provider="%s"\} (\d+)$' % (m, p), t, re.M)
    assert x, (m, p)
    return int(x.group(1))
for p in ("osp-sim", "rhv-sim"):
    assert val("concurrency_decreases", p) > 0, p
    assert val("concurrency_min", p) < val("concurrency_max", p) == 8, p
    assert val("concurrency_min", p) <= val("concurrency_limit", p), p
PY
check "the summary says how far each window went down" \
	grep -q "^Requests in flight cut after pushback" "$IT_TMP/out"
check "the summary names both providers there" \
	bash -c "grep -q '^  osp-sim: 8 at most, ' '$IT_TMP/out' &&
		 grep -q '^  rhv-sim: 8 at most, ' '$IT_TMP/out'"
vs report "$IT_TMP/r1.json"
check "vmsweep report reads it back" \
	bash -c "[ $RC = 0 ] && grep -q '^  osp-sim: 8 at most, ' '$IT_TMP/out'"
check "no sanitizer report" bash -c "! grep -q Sanitizer '$IT_TMP/err'"

# --- 2. No faults: nothing pushes back, no window is cut.
sim_start --generate "rhv=$N,osp=$N" --seed 4 --delete-polls 1 || exit 1
mkconfig "$IT_TMP/cfg.yaml" true
vs -c "$IT_TMP/cfg.yaml" run --yes --report "$IT_TMP/r2.json"
check "the run without faults exits 0" [ "$RC" = 0 ]
check "every planned VM ends deleted (no faults)" \
	every_planned_deleted "$IT_TMP/r2.json"
check "no window was cut" python3 - "$IT_TMP/r2.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
for name in ("osp-sim", "rhv-sim"):
    c = s[name]["concurrency"]
    assert c == {"max": 8, "final": 8, "min": 8, "decreases": 0}, (name, c)
PY
check "the summary has no cut section" \
	bash -c "! grep -q 'cut after pushback' '$IT_TMP/out'"
check "the metrics show no cut" \
	grep -q '^vmsweep_concurrency_decreases{provider="osp-sim"} 0$' \
	"$IT_TMP/metrics.prom"

# --- 3. Turned off: the same faults, a fixed 8, and no window reported.
sim_start --generate "rhv=$N,osp=$N" --seed 5 --delete-polls 1 || exit 1
mkconfig "$IT_TMP/cfg.yaml" false
faults '{"clear":true,"set":["all:503:0.20","all:429:0.05"]}'
vs -c "$IT_TMP/cfg.yaml" run --yes --report "$IT_TMP/r3.json"
check "the run with adaptive_concurrency off exits 0" [ "$RC" = 0 ]
check "every planned VM ends deleted (off)" \
	every_planned_deleted "$IT_TMP/r3.json"
check "no concurrency in the report or the metrics" \
	bash -c "! grep -q '\"concurrency\"' '$IT_TMP/r3.json' &&
		 ! grep -q concurrency '$IT_TMP/metrics.prom'"

it_finish
