#!/bin/bash
# Selection and safety end to end on all three providers at once: an
# inventory holding every protection and edge case (name rule plus
# exclusion, markers in tags, metadata and descriptions, expiry past,
# future and garbage, locked, delete_protected, unknown ages, power
# states, rules with different ages, a VM two rules select).  plan, dry
# run, real run and plan+apply must select exactly the same VMs and never
# touch a protected one.  Then apply's re-check (renamed, recreated, gone,
# protected since), a stale plan, a report passed as a plan, a gate, the
# confirmation prompt on a terminal, the circuit breaker and explain.
#
# Not expressible in the simulator, covered by unit tests instead: an
# unparsable creation date (osp "not a time", vSphere createDate
# "yesterday": test_osp_parse, test_vmw_parse; both become an unknown age,
# which this script covers with "created": null) and vSphere templates
# (the simulator, like vCenter, never lists them; test_vmw_parse checks
# that VI/JSON template:true is read, and vmw_list marks such a VM
# protected by the platform).
. "$(dirname "$0")/lib.sh"

# The system interpreter when there is one: a version manager's shim in
# front of python3 costs a second or more per call, and this script makes
# many.
if [ -x /usr/bin/python3 ]; then
	python3() { /usr/bin/python3 "$@"; }
	export -f python3
fi

mkinventory() {
	python3 - "$1" "$2" "$NOW" <<'PY'
import json, sys, datetime
now = datetime.datetime.fromtimestamp(int(sys.argv[3]), datetime.timezone.utc)
def ago(h):
    return (now - datetime.timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
future = (now + datetime.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
past = ago(24 * 30)
variant = sys.argv[2]
ON = {"osp": "ACTIVE", "rhv": "up", "vmware": "POWERED_ON"}
OFF = {"osp": "SHUTOFF", "rhv": "down", "vmware": "POWERED_OFF"}
inv = {}
for p, short in (("osp", "osp"), ("rhv", "rhv"), ("vmware", "vmw")):
    n = [0]
    def vm(name, hours, state=None, **kw):
        n[0] += 1
        if p == "vmware":
            vid = "vm-%d" % (100 + n[0])
        else:
            vid = "%08d-0000-4000-8000-%012d" % (n[0], {"osp": 1, "rhv": 2}[p])
        d = {"id": vid, "name": name, "created": ago(hours) if hours is not None else None,
             "state": state or (OFF[p] if p != "osp" else ON[p])}
        d.update(kw)
        return d
    def expiry(v):
        if p == "osp":
            return {"metadata": {"vmsweep:expires": v}}
        if p == "rhv":
            return {"description": "temporary, vmsweep:expires=%s." % v}
        return {"tags": ["vmsweep:expires=%s" % v]}
    vms = [
        vm("test_%s_old" % short, 10),                  # ci + two
        vm("test_%s_old2" % short, 30),                 # ci
        vm("test_%s_young" % short, 1),                 # kept: age
        vm("jenkins-%s-1" % short, 20),                 # jenkins
        vm("jenkins-%s-2" % short, 6),                  # kept: under 12h
        vm("test_%s_db-keep" % short, 10),              # kept: name
        vm("test_%s_tagkeep" % short, 10, keep=True),   # kept: tag marker
        vm("test_%s_expfuture" % short, 10, **expiry(future)),
        vm("test_%s_exppast" % short, 10, **expiry(past)),   # ci
        vm("test_%s_expgarbage" % short, 10, **expiry("next-week")),
        vm("test_%s_unknown" % short, None),            # kept: unknown age
        vm("ci-%s-7" % short, 30, state=OFF[p]),        # stopped
        vm("ci-%s-8" % short, 30, state=ON[p]),         # kept: power on
        vm("prod-%s-db" % short, 900),                  # no rule
    ]
    if p == "osp":
        vms.append(vm("test_osp_metakeep", 10, metadata={"vmsweep:keep": "yes"}))
        vms.append(vm("test_osp_locked", 10, locked=True))
    if p == "rhv":
        vms.append(vm("test_rhv_desckeep", 10, description="owner bob; vmsweep:keep"))
        vms.append(vm("test_rhv_protected", 10, delete_protected=True))
    if p == "vmware":
        vms.append(vm("test_vmw_infra1", 900))          # kept: vc-sim's own names
    if variant == "changed":
        by = {v["name"]: v for v in vms}
        if p == "osp":
            # Everything osp was to lose is gone, but one VM renamed.
            for name in ("test_osp_old2", "jenkins-osp-1", "test_osp_exppast", "ci-osp-7"):
                vms.remove(by[name])
            by["test_osp_old"]["name"] = "test_osp_old-rescued"
        if p == "rhv":
            by["test_rhv_old"]["created"] = ago(1)      # recreated, same id
            vms.remove(by["jenkins-rhv-1"])
        if p == "vmware":
            by["test_vmw_old"]["keep"] = True            # protected since
    inv[p] = vms
json.dump(inv, open(sys.argv[1], "w"), indent=1)
PY
}

# config FILE [EXTRA YAML]: the three providers on the simulator.  Ages
# only from the platforms (age_source: created), so that a VM without a
# creation time is of unknown age, not aged from its first sighting.
config() {
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
    age_source: created
  - name: rhv-sim
    type: rhv
    url: $SIM_URL/ovirt-engine/api
    username: admin@internal
    password_env: VMSWEEP_IT_PASSWORD
    tags: true
    age_source: created
  - name: vc-sim
    type: vmware
    url: $SIM_URL
    username: admin@vsphere.local
    password_env: VMSWEEP_IT_PASSWORD
    age_source: created
    max_concurrency: ${VC_CONC:-8}
    protect_names: ["test_vmw_infra*"]
rules:
  - name: ci
    match: ["test_*"]
    older_than: 4h
  - name: two
    regex: ["^TEST_[a-z]+_OLD\$"]
    case_sensitive: false
    older_than: 1h
  - name: jenkins
    match: ["jenkins-*"]
    older_than: 12h
  - name: stopped
    regex: ["^ci-[a-z]+-[0-9]+\$"]
    older_than: 1d
    power_states: [off]
protect:
  names: ["*-keep"]
limits:
  max_deletes: 100
  max_delete_percent: 100
run:
  workers: 8
  retry_rounds: ${ROUNDS:-0}
  retry_delay: 100ms
  delete_timeout: 20s
  confirm_interval: 100ms
  breaker_consecutive: ${BREAK:-10}
report:
  dir: $IT_TMP/reports
state:
  path: $IT_TMP/state.db
${2:-}
EOF
}

# Every VM the rules must select, as provider/name.
SELECTED="osp-sim/test_osp_old osp-sim/test_osp_old2 osp-sim/jenkins-osp-1 osp-sim/test_osp_exppast osp-sim/ci-osp-7
rhv-sim/test_rhv_old rhv-sim/test_rhv_old2 rhv-sim/jenkins-rhv-1 rhv-sim/test_rhv_exppast rhv-sim/ci-rhv-7
vc-sim/test_vmw_old vc-sim/test_vmw_old2 vc-sim/jenkins-vmw-1 vc-sim/test_vmw_exppast vc-sim/ci-vmw-7"
WANT=$(echo $SELECTED | tr ' ' '\n' | sort | tr '\n' ' ')

# names FILE [OUTCOME]: provider/name of the vms[] of a plan or report
# (only those with OUTCOME, when given), sorted, on one line.
names() {
	python3 - "$1" "${2:-}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(" ".join(sorted(v["provider"] + "/" + v["name"] for v in r["vms"]
                      if not sys.argv[2] or v["outcome"] == sys.argv[2])) + " ")
PY
}

# state_names: provider/name of every VM the simulator still has.
state_names() {
	sim_get /_sim/state | python3 -c '
import json, sys
s = json.load(sys.stdin)
m = {"osp": "osp-sim", "rhv": "rhv-sim", "vmware": "vc-sim"}
print(" ".join(sorted(m[p] + "/" + v["name"] for p in m for v in s[p])) + " ")'
}

# pycheck FILE PYTHON: run PYTHON with r = the JSON of FILE.
pycheck() {
	python3 -c "
import json, sys
r = json.load(open('$1'))
kept = {k['provider'] + '/' + k['name']: k['reason'] for k in r['kept']}
vms = {v['provider'] + '/' + v['name']: v for v in r['vms']}
$2
"
}

# No request of the simulator's log changed a VM outside the expected
# ones: every DELETE or power action names an id of a selected VM.
only_selected_touched() {
	python3 - "$IT_TMP/requests.log" "$IT_TMP/ids.json" <<'PY'
import json, sys
ids = set(json.load(open(sys.argv[2])))
bad = []
for line in open(sys.argv[1]):
    q = json.loads(line)
    if q["method"] == "GET" or "/_sim/" in q["path"] or "session" in q["path"] \
            or "sso" in q["path"] or "auth/tokens" in q["path"] \
            or "tagging" in q["path"] or "SessionManager" in q["path"]:
        continue
    if not any(i in q["path"] for i in ids):
        bad.append(q["method"] + " " + q["path"])
if bad:
    print("\n".join(bad[:5]))
    sys.exit(1)
PY
}

sim_post() {
	python3 - "$SIM_URL$1" <<'PY'
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=b"{}"), timeout=10).read()
PY
}

# One clock for both inventories: only what the test changes differs.
NOW=$(date +%s)
mkinventory "$IT_TMP/inv.json" same
mkinventory "$IT_TMP/changed.json" changed
sim_start --inventory "$IT_TMP/inv.json" --delete-polls 1 \
	--request-log "$IT_TMP/requests.log" || exit 1
config "$IT_TMP/cfg.yaml"
ALL=$(state_names)

# --- plan: exactly the expected VMs, each kept VM with its reason
vs -c "$IT_TMP/cfg.yaml" plan -o "$IT_TMP/plan.json"
check "plan exits 0" [ "$RC" = 0 ]
check "plan selects exactly the expected VMs on all three providers" \
	[ "$(names "$IT_TMP/plan.json")" = "$WANT" ]
python3 -c "
import json
r = json.load(open('$IT_TMP/plan.json'))
json.dump([v['id'] for v in r['vms']], open('$IT_TMP/ids.json', 'w'))"
check "plan: every protection and edge case kept with its reason" pycheck "$IT_TMP/plan.json" "
want = {}
for p, s in (('osp-sim', 'osp'), ('rhv-sim', 'rhv'), ('vc-sim', 'vmw')):
    want[p + '/test_%s_young' % s] = 'is not over older_than 4h'
    want[p + '/jenkins-%s-2' % s] = 'is not over older_than 12h'
    want[p + '/test_%s_db-keep' % s] = \"protected by name pattern '*-keep'\"
    want[p + '/test_%s_tagkeep' % s] = \"protected by marker 'vmsweep:keep' (tag)\"
    want[p + '/test_%s_expfuture' % s] = \"by 'vmsweep:expires'\"
    want[p + '/test_%s_expgarbage' % s] = \"protected: unparsable expiry 'next-week'\"
    want[p + '/test_%s_unknown' % s] = \"unknown creation time (rule 'ci' needs older_than 4h)\"
    want[p + '/ci-%s-8' % s] = \"rule 'stopped': power state on (needs off)\"
want['osp-sim/test_osp_metakeep'] = \"protected by marker 'vmsweep:keep' (metadata)\"
want['osp-sim/test_osp_locked'] = 'protected by the platform: locked'
want['rhv-sim/test_rhv_desckeep'] = \"protected by marker 'vmsweep:keep' (description)\"
want['rhv-sim/test_rhv_protected'] = 'protected by the platform: delete_protected'
want['vc-sim/test_vmw_infra1'] = \"protected by name pattern 'test_vmw_infra*'\"
for k, frag in want.items():
    assert k in kept, 'not kept: ' + k
    assert frag in kept[k], (k, kept[k])
assert set(kept) == set(want), set(kept) ^ set(want)
for p in ('osp-sim', 'rhv-sim', 'vc-sim'):
    assert r['summary'][p]['selected'] == 5, r['summary'][p]
"
check "plan: a VM two rules select records both, with the first one's reason" \
	pycheck "$IT_TMP/plan.json" "
for s, p in (('osp', 'osp-sim'), ('rhv', 'rhv-sim'), ('vmw', 'vc-sim')):
    v = vms[p + '/test_%s_old' % s]
    assert v['rules'] == ['ci', 'two'], v['rules']
    assert v['reason'].startswith(\"rule 'ci': name matches 'test_*'\"), v['reason']
    assert vms[p + '/jenkins-%s-1' % s]['rules'] == ['jenkins']
    assert vms[p + '/ci-%s-7' % s]['rules'] == ['stopped']
"
check "plan: unknown ages warned once per provider, with the count" bash -c "
	for p in osp-sim rhv-sim vc-sim; do
		[ \$(grep -c \"\$p.*1 VM matched a rule but has no known creation time\" '$IT_TMP/err') = 1 ] || exit 1
	done"

# --- explain: every rule and protection, and the verdict
vs -c "$IT_TMP/cfg.yaml" explain test_rhv_db-keep
check "explain exits 0 for a VM it finds" [ "$RC" = 0 ]
check "explain names the provider, the protection, each rule and the verdict" bash -c "
	grep -q '^rhv-sim test_rhv_db-keep (id ' '$IT_TMP/out' &&
	grep -q \"applies protect.names: protected by name pattern '\\*-keep'\" '$IT_TMP/out' &&
	grep -q \"selects ci: rule 'ci': name matches 'test_\\*', age 10h0m > 4h\" '$IT_TMP/out' &&
	grep -q \"no jenkins: name 'test_rhv_db-keep' matches none of 'jenkins-\\*'\" '$IT_TMP/out' &&
	grep -q \"no stopped: name 'test_rhv_db-keep' matches none of regex\" '$IT_TMP/out' &&
	grep -q \"verdict: kept: protected by name pattern '\\*-keep'\" '$IT_TMP/out'"
vs -c "$IT_TMP/cfg.yaml" explain vm-112 --provider vc-sim
check "explain by id: power state rule and its verdict" bash -c "
	grep -q '^vc-sim ci-vmw-7 (id vm-112)' '$IT_TMP/out' &&
	grep -q \"selects stopped: rule 'stopped': name matches regex\" '$IT_TMP/out' &&
	grep -q 'verdict: would be deleted' '$IT_TMP/out'"
vs -c "$IT_TMP/cfg.yaml" explain test_osp_exppast
check "explain shows an expiry that has passed, and the VM selected" bash -c "
	grep -q \"expired protect.expiry_marker: expiry .* by 'vmsweep:expires' has passed\" '$IT_TMP/out' &&
	grep -q 'verdict: would be deleted' '$IT_TMP/out'"
vs -c "$IT_TMP/cfg.yaml" explain prod-osp-db
check "explain: a VM no rule matches is not selected" \
	grep -q 'verdict: not selected: no rule matches its name' "$IT_TMP/out"
vs -c "$IT_TMP/cfg.yaml" explain no-such-vm
check "explain exits 1 and says so for a VM it does not find" bash -c "
	[ '$RC' = 1 ] && grep -q \"no VM with the id or name 'no-such-vm'\" '$IT_TMP/err'"

# --- dry run: the same selection, nothing changed
vs -c "$IT_TMP/cfg.yaml" run --dry-run --report "$IT_TMP/dry.json"
check "dry run exits 0" [ "$RC" = 0 ]
check "dry run probes exactly the plan's VMs" \
	[ "$(names "$IT_TMP/dry.json" pretend)" = "$WANT" ]
check "dry run changes nothing" [ "$(state_names)" = "$ALL" ]

# --- real run: the same selection; protected VMs untouched
vs -c "$IT_TMP/cfg.yaml" run --yes --report "$IT_TMP/run.json"
check "real run exits 0" [ "$RC" = 0 ]
check "real run deletes exactly the plan's VMs" \
	[ "$(names "$IT_TMP/run.json" deleted)" = "$WANT" ]
check "real run: everything else is still there" python3 -c "
left = set('$(state_names)'.split()); allv = set('$ALL'.split())
assert left == allv - set('$WANT'.split()), allv - left"
check "real run: no request changed a VM outside the plan" only_selected_touched

# --- plan + apply on the same inventory: the same VMs again
sim_post "/_sim/reset?inventory=1"
: >"$IT_TMP/requests.log"
vs -c "$IT_TMP/cfg.yaml" apply "$IT_TMP/plan.json" --yes --report "$IT_TMP/apply.json"
check "apply exits 0" [ "$RC" = 0 ]
check "apply deletes exactly the plan's VMs" \
	[ "$(names "$IT_TMP/apply.json" deleted)" = "$WANT" ]
check "apply: no request changed a VM outside the plan" only_selected_touched
check "apply's report names the plan (run.plan)" pycheck "$IT_TMP/apply.json" "
assert r['run']['plan'] == '$IT_TMP/plan.json', r['run']
assert r['run']['retry_of'] is None
"

# --- refusals: a report as a plan, a stale plan, a gate
vs -c "$IT_TMP/cfg.yaml" apply "$IT_TMP/run.json" --yes
check "apply refuses a report (exit 2)" bash -c "
	[ '$RC' = 2 ] && grep -q 'run.json: is a report, not a plan' '$IT_TMP/err'"
python3 -c "
import json
p = json.load(open('$IT_TMP/plan.json'))
p['created'] = '2020-01-01T00:00:00Z'
json.dump(p, open('$IT_TMP/old-plan.json', 'w'))"
sim_post "/_sim/reset?inventory=1"
vs -c "$IT_TMP/cfg.yaml" apply "$IT_TMP/old-plan.json" --yes
check "apply refuses a plan older than limits.max_plan_age (exit 2, age and limit)" bash -c "
	[ '$RC' = 2 ] && grep -q 'old-plan.json: the plan is [0-9]*d old, limits.max_plan_age is 1d' '$IT_TMP/err'"
config "$IT_TMP/gate.yaml" "
" && sed -i 's/max_deletes: 100/max_deletes: 3/' "$IT_TMP/gate.yaml"
vs -c "$IT_TMP/gate.yaml" apply "$IT_TMP/plan.json" --yes
check "apply is stopped by max_deletes (exit 4, by how much)" bash -c "
	[ '$RC' = 4 ] && grep -q 'safety gate: 15 VMs selected, max_deletes is 3 (over by 12)' '$IT_TMP/err'"
check "nothing was deleted by the refused applies" [ "$(state_names)" = "$ALL" ]

# --- apply's re-check against a changed inventory, confirmed on a tty
sim_stop
sim_start --inventory "$IT_TMP/changed.json" --delete-polls 1 || exit 1
config "$IT_TMP/cfg.yaml"
python3 - "$VMSWEEP" "$VMSWEEP_PLUGINS" "$IT_TMP" <<'PY' >"$IT_TMP/tty.out" 2>&1
import os, pty, select, subprocess, sys, time
vmsweep, plugins, tmp = sys.argv[1:4]
master, slave = pty.openpty()
p = subprocess.Popen([vmsweep, "--plugin-dir", plugins, "-c", tmp + "/cfg.yaml",
                      "apply", tmp + "/plan.json", "--no-progress",
                      "--report", tmp + "/changed-apply.json"],
                     stdin=slave, stdout=subprocess.DEVNULL, stderr=slave)
os.close(slave)
buf, sent, end = b"", False, time.time() + 60
while time.time() < end:
    r, _, _ = select.select([master], [], [], 0.2)
    if r:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        buf += data
    if not sent and b"\n> " in buf:
        os.write(master, b"rhv-sim vc-sim\n")
        sent = True
    if p.poll() is not None and not r:
        break
p.wait(timeout=30)
sys.stdout.write(buf.decode(errors="replace"))
print("\nEXIT %d" % p.returncode)
PY
check "apply on a terminal asks only for the providers that lose VMs" bash -c "
	grep -q 'about to delete 7 VMs: rhv-sim (3), vc-sim (4)' '$IT_TMP/tty.out' &&
	grep -q 'type the provider names: rhv-sim vc-sim' '$IT_TMP/tty.out' &&
	grep -q '^EXIT 0' '$IT_TMP/tty.out'"
check "apply re-checks each VM: renamed, recreated and protected since are kept" \
	pycheck "$IT_TMP/changed-apply.json" "
assert \"renamed since $IT_TMP/plan.json: was 'test_osp_old', now 'test_osp_old-rescued'; not applied\" == kept['osp-sim/test_osp_old-rescued'], kept
assert 'creation time changed since' in kept['rhv-sim/test_rhv_old'], kept
assert kept['rhv-sim/test_rhv_old'].endswith('; not applied')
assert kept['vc-sim/test_vmw_old'] == \"protected by marker 'vmsweep:keep' (tag)\", kept
assert len(kept) == 3, kept
"
check "apply: VMs gone since the plan are already_absent, the rest deleted" \
	pycheck "$IT_TMP/changed-apply.json" "
gone = {k for k, v in vms.items() if v['outcome'] == 'already_absent'}
assert gone == {'osp-sim/test_osp_old2', 'osp-sim/jenkins-osp-1', 'osp-sim/test_osp_exppast',
                'osp-sim/ci-osp-7', 'rhv-sim/jenkins-rhv-1'}, gone
dele = {k for k, v in vms.items() if v['outcome'] == 'deleted'}
assert dele == {'rhv-sim/test_rhv_old2', 'rhv-sim/test_rhv_exppast', 'rhv-sim/ci-rhv-7',
                'vc-sim/test_vmw_old2', 'vc-sim/jenkins-vmw-1', 'vc-sim/test_vmw_exppast',
                'vc-sim/ci-vmw-7'}, dele
assert len(vms) == 12, len(vms)
"
check "apply: the kept VMs are still there" python3 -c "
left = set('$(state_names)'.split())
assert {'osp-sim/test_osp_old-rescued', 'rhv-sim/test_rhv_old', 'vc-sim/test_vmw_old'} <= left, left
"

# --- the circuit breaker: vSphere deletes fail; after 2 in a row the rest
# there is not attempted, the others are unaffected, retry rounds too
sim_stop
sim_start --inventory "$IT_TMP/inv.json" --delete-polls 1 --fault vmware:delete-error || exit 1
VC_CONC=1 BREAK=2 ROUNDS=1 config "$IT_TMP/breaker.yaml"
vs -c "$IT_TMP/breaker.yaml" run --yes --report "$IT_TMP/breaker.json"
check "breaker run exits 1" [ "$RC" = 1 ]
check "breaker: 2 vSphere deletes failed, the other 3 not attempted with the reason" \
	pycheck "$IT_TMP/breaker.json" "
vc = [v for v in r['vms'] if v['provider'] == 'vc-sim']
failed = [v for v in vc if v['outcome'] == 'failed']
na = [v for v in vc if v['outcome'] == 'not_attempted']
assert len(failed) == 2 and len(na) == 3, [(v['name'], v['outcome']) for v in vc]
assert all(v['attempts'] == 1 for v in failed), failed
for v in na:
    assert v['attempts'] == 0
    assert v['error']['message'] == 'not attempted: circuit breaker open for vc-sim: 2 consecutive failures', v['error']
others = [v['outcome'] for v in r['vms'] if v['provider'] != 'vc-sim']
assert others == ['deleted'] * 10, others
"
check "breaker: logged once at WARN" bash -c "
	[ \$(grep -c 'WARN.*circuit breaker open for vc-sim: 2 consecutive failures' '$IT_TMP/err') = 1 ]"

it_finish
