#!/bin/bash
# Soak: the real vmsweep against one simulator serving all three platforms,
# SOAK_VMS VMs each (400 in make check, 2000 in make soak), with faults on
# every route: 10% 503, 5% 429 with Retry-After, 2% dropped connections,
# 1% hangs, sessions that expire every 300 requests, and 2% of deletes
# ending in error.  Nothing may be lost or touched that was not planned,
# and everything that only met transient faults must end deleted.
#
# SOAK_VMS=N, SOAK_SEED=S and SOAK_WORKERS=N change the size, the lab and
# the parallelism; SOAK_SUMMARY=FILE receives the measured numbers (JSON)
# and SOAK_LOG=FILE the real run's log.
. "$(dirname "$0")/lib.sh"

N=${SOAK_VMS:-400}
SEED=${SOAK_SEED:-7}
WORKERS=${SOAK_WORKERS:-16}

FAULTS=(--fault all:503:0.10 --fault all:429:0.05 --fault all:drop:0.02
	--fault all:hang:0.01 --fault all:delete-error:0.02)

# The simulator starts without faults so that the "before" snapshot and
# the plan are exact; the faults go on just before the plan is applied
# (apply, not run: a run plans again, and VMs that grew older than the
# rule's age in between would rightly join it).
sim_start --generate "vmware=$N,rhv=$N,osp=$N" --seed "$SEED" \
	--session-ttl 300 --delete-polls 1 || exit 1

cfg=$IT_TMP/cfg.yaml
{
	echo "providers:"
	vmware_entry
	rhv_entry "tags: true"
	osp_entry
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
  workers: $WORKERS
  retry_rounds: 10
  retry_delay: 200ms
  delete_timeout: 10m
  request_timeout: 2s
  confirm_interval: 100ms
state:
  path: $IT_TMP/state.db
report:
  dir: $IT_TMP/reports
EOF
} >"$cfg"

sim_get /_sim/state >"$IT_TMP/before.json"

vs -c "$cfg" plan -o "$IT_TMP/plan.json"
check "plan exits 0" [ "$RC" = 0 ]
# vCenter's list leaves templates out, and so does the simulator.
check "plan lists every VM of every provider" python3 - "$IT_TMP/plan.json" "$IT_TMP/before.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
st = json.load(open(sys.argv[2]))
plat = {"vc-sim": "vmware", "rhv-sim": "rhv", "osp-sim": "osp"}
for name, pl in plat.items():
    want = sum(1 for vm in st[pl] if not vm.get("template"))
    s = p["summary"][name]
    assert s["listed"] == want, (name, s, want)
assert len(p["vms"]) > len(st["osp"]), len(p["vms"])
PY

curl_post() {
	python3 - "$SIM_URL$1" "$2" <<'PY'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(),
                             method="POST",
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=10).read()
PY
}
faults_json=$(printf '"%s",' "${FAULTS[@]/--fault/}" | sed 's/"",//g; s/,$//')
curl_post /_sim/fault "{\"clear\":true,\"set\":[${faults_json}]}"
curl_post /_sim/reset '{}'

vs -c "$cfg" apply "$IT_TMP/plan.json" --yes --report "$IT_TMP/report.json"
run_rc=$RC
sim_get /_sim/state >"$IT_TMP/after.json"
sim_get /_sim/stats >"$IT_TMP/stats.json"
cp "$IT_TMP/err" "$IT_TMP/run.err"
[ -n "${SOAK_LOG:-}" ] && cp "$IT_TMP/err" "$SOAK_LOG"

check "the run ends with a report" [ -s "$IT_TMP/report.json" ]
check "the run neither crashed nor stopped early (exit 0 or 1)" \
	[ "$run_rc" = 0 -o "$run_rc" = 1 ]
check "no sanitizer report" bash -c "! grep -q 'Sanitizer' '$IT_TMP/run.err'"

# The invariants, in one place: every assertion prints what broke it.
check "soak invariants" python3 - "$IT_TMP" "$run_rc" "${SOAK_SUMMARY:-}" "$N" <<'PY'
import json, sys, collections
d, rc, summary_path, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
# A hang never ends, so the simulator does not count it; the client's
# timeouts do.
timeouts = open(d + "/run.err").read().count("Timeout was reached")
plan = json.load(open(d + "/plan.json"))
rep = json.load(open(d + "/report.json"))
before = json.load(open(d + "/before.json"))
after = json.load(open(d + "/after.json"))
stats = json.load(open(d + "/stats.json"))
plat = {"vc-sim": "vmware", "rhv-sim": "rhv", "osp-sim": "osp"}
bad = []

planned = {(v["provider"], v["id"]) for v in plan["vms"]}
kept = {(k["provider"], k["id"]) for k in plan["kept"]}
rkeys = [(v["provider"], v["id"]) for v in rep["vms"]]
dups = [k for k, c in collections.Counter(rkeys).items() if c > 1]
if dups:
    bad.append("in the report more than once: %s" % dups[:5])
if set(rkeys) != planned:
    bad.append("report and plan differ: missing %s, extra %s" % (
        sorted(planned - set(rkeys))[:5], sorted(set(rkeys) - planned)[:5]))

def ids(state):
    return {(prov, vm["id"]): vm for prov, p in plat.items() for vm in state[p]}
b, a = ids(before), ids(after)
lost = set(b) - set(a)
unplanned_lost = lost - planned
if unplanned_lost:
    bad.append("the simulator lost VMs that were not planned: %s"
               % sorted(unplanned_lost)[:5])
for k in kept:
    if k not in a:
        bad.append("kept VM %s was deleted" % (k,))
    elif a[k]["power_state"] != b[k]["power_state"] or a[k]["delete"] != "none":
        bad.append("kept VM %s was touched: %s -> %s" % (
            k, b[k]["power_state"], a[k]["power_state"]))
for k, vm in b.items():
    if vm["protected"] and k in planned:
        bad.append("protected VM %s is in the plan" % (k,))

outcomes = collections.Counter(v["outcome"] for v in rep["vms"])
by_key = {(v["provider"], v["id"]): v for v in rep["vms"]}
# A planned VM still in the simulator must be one whose delete the
# simulator made end in error; everything else met only transient faults
# (5xx, 429, drops, hangs, expired sessions) and must be gone.
transient_left = []
error_left = []
for k in planned:
    if k not in a:
        o = by_key.get(k, {}).get("outcome")
        if o not in ("deleted", "already_absent"):
            bad.append("%s is gone but reported %s" % (k, o))
        continue
    vm = a[k]
    if vm["delete"] in ("failed", "failing") or vm.get("status") == "ERROR" and vm.get("fault"):
        error_left.append(k)
        o = by_key[k]["outcome"]
        if o in ("deleted", "already_absent"):
            bad.append("%s is still there but reported %s" % (k, o))
    else:
        transient_left.append(k)
if transient_left:
    for k in transient_left[:5]:
        v = by_key.get(k, {})
        bad.append("%s met only transient faults but is %s (%s)" % (
            k, v.get("outcome"), v.get("error", {}).get("message")))
    bad.append("%d such VMs in all" % len(transient_left))

listing_failed = any(p.get("listed", 0) < 0 for p in rep["summary"].values()) \
    if isinstance(rep["summary"], dict) else False
want_rc = 1 if (listing_failed or any(
    v["outcome"] in ("failed", "requested", "not_attempted")
    for v in rep["vms"])) else 0
if rc != want_rc:
    bad.append("exit code %d, but the report implies %d" % (rc, want_rc))

s = {
    "vms_per_provider": n,
    "listed": len(b),
    "planned": len(planned),
    "kept": len(kept),
    "outcomes": dict(outcomes),
    "delete_errors_left": len(error_left),
    "transient_left": len(transient_left),
    "lost_unplanned": len(unplanned_lost),
    "exit_code": rc,
    "requests": stats["requests"],
    "by_status": stats["by_status"],
    "client_timeouts": timeouts,
    "retried_vms": sum(1 for v in rep["vms"] if v.get("attempts", 1) > 1),
}
print("measured: " + json.dumps(s, sort_keys=True))
if summary_path:
    json.dump(s, open(summary_path, "w"), indent=1, sort_keys=True)
for m in bad[:40]:
    print("  " + m)
sys.exit(1 if bad else 0)
PY

it_finish
