#!/bin/bash
# Failure reports and retry end to end with the OpenStack provider: a run
# whose deletes fail, its report in every format (JUnit parsed by a real
# XML parser, metrics by a Prometheus text parser), then `vmsweep retry`
# on that report and on hand-edited ones, against the simulator.
. "$(dirname "$0")/lib.sh"

# Fixed ids, so that hand-written reports can name the VMs.
mkinventory() {
	python3 - "$1" <<'PY'
import json, sys, datetime
now = datetime.datetime.now(datetime.timezone.utc)
def ago(h):
    return (now - datetime.timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
osp = [
  {"id": "00000000-0000-4000-8000-000000000001", "name": "test_vm_1", "created": ago(10), "status": "ACTIVE"},
  {"id": "00000000-0000-4000-8000-000000000002", "name": "test_vm_2", "created": ago(10), "status": "ACTIVE"},
  {"id": "00000000-0000-4000-8000-000000000003", "name": "test_vm_3", "created": ago(10), "status": "ACTIVE"},
  {"id": "00000000-0000-4000-8000-000000000004", "name": "test_vm_4", "created": ago(10), "status": "ACTIVE"},
  {"id": "00000000-0000-4000-8000-000000000005", "name": "test_vm_5", "created": ago(10), "status": "ACTIVE"},
  {"id": "00000000-0000-4000-8000-000000000006", "name": "test_locked", "created": ago(10), "status": "ACTIVE", "locked": True},
  {"id": "00000000-0000-4000-8000-000000000007", "name": "prod-db-2", "created": ago(5000), "status": "ACTIVE"},
]
json.dump({"osp": osp}, open(sys.argv[1], "w"))
PY
}

rules() {
	cat >>"$1" <<EOF
rules:
  - name: ci-leftovers
    match: ["test_*"]
    older_than: 4h
limits:
  max_deletes: 200
  max_delete_percent: 100
run:
  workers: 4
  retry_rounds: 1
  retry_delay: 100ms
  delete_timeout: 10s
  confirm_interval: 100ms
EOF
}

names_in_state() {
	sim_get /_sim/state | python3 -c '
import json, sys
print(" ".join(sorted(v["name"] for v in json.load(sys.stdin)["osp"])))'
}

sim_post() {
	python3 - "$SIM_URL$1" "$2" <<'PY'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(),
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=10).read()
PY
}

# pycheck FILE PYTHON: run PYTHON with r = the JSON of FILE.
pycheck() {
	python3 -c "
import json, sys, collections
r = json.load(open('$1'))
$2
"
}

# A minimal Prometheus text-format parser: HELP/TYPE before samples, one
# TYPE per family, families contiguous, label values properly escaped,
# every value a float.  promtool is used as well when installed.
prom_check() {
	python3 - "$1" <<'PY' || return 1
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
assert text.endswith("\n"), "no final newline"
types, seen_done, current, samples = {}, set(), None, {}
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{' + label + r'(?:,' + label + r')*\})? (\S+)$')
for line in text.splitlines():
    if line.startswith("# HELP "):
        name = line.split()[2]
        continue
    if line.startswith("# TYPE "):
        _, _, name, t = line.split()
        assert name not in types, "TYPE twice: " + name
        assert t == "gauge", line
        types[name] = t
        if current:
            seen_done.add(current)
        current = name
        continue
    m = sample.match(line)
    assert m, "bad sample line: %r" % line
    name = m.group(1)
    assert name in types, "sample before TYPE: " + name
    assert name == current and name not in seen_done, "family not contiguous: " + name
    float(m.group(3))
    samples[(name, m.group(2) or "")] = float(m.group(3))
assert samples, "no samples"
PY
	if command -v promtool >/dev/null; then
		promtool check metrics <"$1" || return 1
	fi
}

mkinventory "$IT_TMP/inv.json"
sim_start --inventory "$IT_TMP/inv.json" --fault osp:delete-error || exit 1
osp_config "$IT_TMP/cfg.yaml"
rules "$IT_TMP/cfg.yaml"
SELECTED="test_vm_1 test_vm_2 test_vm_3 test_vm_4 test_vm_5"

# --- a run whose every delete ends in ERROR
vs -c "$IT_TMP/cfg.yaml" run --yes --metrics-file "$IT_TMP/m/vmsweep.prom"
check "failing run exits 1" [ "$RC" = 1 ]
FIRST=$(ls "$IT_TMP/reports"/vmsweep-*.json 2>/dev/null | tail -n 1)
check "failing run wrote its report to report.dir" [ -n "$FIRST" ]
check "every selected VM failed with class server" pycheck "$FIRST" "
assert sorted(v['name'] for v in r['vms']) == sorted('$SELECTED'.split())
assert all(v['outcome'] == 'failed' and v['error']['class'] == 'server' for v in r['vms'])
assert all(v['attempts'] == 2 and v['rounds_failed'] == 2 for v in r['vms']), r['vms']
"
check "metrics are written for a failed run" prom_check "$IT_TMP/m/vmsweep.prom"
check "metrics say what happened" python3 -c "
t = open('$IT_TMP/m/vmsweep.prom').read()
for want in ['vmsweep_last_run_success 0', 'vmsweep_last_run_exit_code 1',
             'vmsweep_provider_up{provider=\"osp-sim\"} 1',
             'vmsweep_vms_listed{provider=\"osp-sim\"} 7',
             'vmsweep_vms_selected{provider=\"osp-sim\"} 5',
             'vmsweep_vms_kept{provider=\"osp-sim\"} 1',
             'vmsweep_vms{provider=\"osp-sim\",outcome=\"failed\"} 5',
             'vmsweep_vms{provider=\"osp-sim\",outcome=\"deleted\"} 0',
             'vmsweep_failures{provider=\"osp-sim\",class=\"server\"} 5']:
    assert want + '\n' in t, want
"

# --- the report in each format
vs -c "$IT_TMP/cfg.yaml" report "$FIRST"
check "report text exits 0" [ "$RC" = 0 ]
check "report text has the table and each failure" bash -c "
	grep -q '^PROVIDER .*FAILED' '$IT_TMP/out' && grep -q '^Failures (5):' '$IT_TMP/out' &&
	for n in $SELECTED; do grep -q \"osp-sim \$n (id .*): failed, 2 attempts, server\" '$IT_TMP/out' || exit 1; done"
vs report "$FIRST" --exit-code
check "report --exit-code exits 1 for failures" [ "$RC" = 1 ]
vs report "$FIRST" --format json
check "report json re-emits the report" python3 -c "
import json
a = json.load(open('$FIRST')); b = json.load(open('$IT_TMP/out'))
assert a == b, 'differs'
"
vs report "$FIRST" --format junit
cp "$IT_TMP/out" "$IT_TMP/junit.xml"
check "report junit exits 0" [ "$RC" = 0 ]
check "junit parses and has one failing testcase per VM" python3 -c "
import xml.etree.ElementTree as ET
root = ET.parse('$IT_TMP/junit.xml').getroot()
assert root.tag == 'testsuites', root.tag
suites = root.findall('testsuite')
assert [s.get('name') for s in suites] == ['osp-sim'], suites
s = suites[0]
cases = s.findall('testcase')
vms = [c for c in cases if c.get('name') != '(inventory)']
assert sorted(c.get('name') for c in vms) == sorted('$SELECTED'.split())
assert all(c.get('classname') == 'osp-sim' for c in cases)
for c in vms:
    f = c.find('failure')
    assert f is not None and f.get('type') == 'server', ET.tostring(c)
    assert f.get('message').startswith('failed: server'), f.get('message')
    assert 'attempts: 2' in f.text, f.text
assert s.get('tests') == '6' and s.get('failures') == '5', s.attrib
assert root.get('failures') == '5', root.attrib
"
vs report "$FIRST" --format markdown
check "report markdown has the tables" bash -c "
	grep -q '^| provider | failed | total |$' '$IT_TMP/out' &&
	grep -q '^| osp-sim | 5 | 5 |$' '$IT_TMP/out' &&
	grep -q '^\*\*Failures (5)\*\*$' '$IT_TMP/out' &&
	[ \$(grep -c '^| osp-sim | test\\\\_vm\\\\_[1-5] | ' '$IT_TMP/out') = 5 ]"
# An older report (by its name) must not win.
python3 -c "
import json
r = json.load(open('$FIRST')); r['run']['id'] = 'older'
json.dump(r, open('$IT_TMP/reports/vmsweep-20000103T000000Z-0c.json', 'w'))"
vs -c "$IT_TMP/cfg.yaml" report --last --format json
check "report --last picks the newest report" python3 -c "
import json
assert json.load(open('$IT_TMP/out'))['run']['id'] == json.load(open('$FIRST'))['run']['id']
"
vs report --format yaml "$FIRST"
check "an unknown format is a usage error" [ "$RC" = 2 ]

# --- retry refuses what it cannot retry
vs -c "$IT_TMP/cfg.yaml" plan --format json
cp "$IT_TMP/out" "$IT_TMP/plan.json"
vs -c "$IT_TMP/cfg.yaml" retry "$IT_TMP/plan.json" --yes
check "retry of a plan exits 2" [ "$RC" = 2 ]
check "retry of a plan says so" grep -q "is a plan, not a report" "$IT_TMP/err"
vs -c "$IT_TMP/cfg.yaml" run --dry-run --report "$IT_TMP/dry.json"
vs -c "$IT_TMP/cfg.yaml" retry "$IT_TMP/dry.json" --yes
check "retry of a dry run's report exits 2" [ "$RC" = 2 ]

# --- the platform recovers; retry without --yes refuses and deletes nothing
sim_post /_sim/fault '{"clear": true}'
before=$(names_in_state)
vs -c "$IT_TMP/cfg.yaml" retry "$FIRST"
check "retry without --yes exits 2" [ "$RC" = 2 ]
check "retry without --yes deletes nothing" [ "$(names_in_state)" = "$before" ]
vs -c "$IT_TMP/cfg.yaml" retry "$FIRST" --dry-run --report "$IT_TMP/retry-dry.json"
check "retry --dry-run exits 0" [ "$RC" = 0 ]
check "retry --dry-run deletes nothing" [ "$(names_in_state)" = "$before" ]
check "retry --dry-run pretends on exactly the failed VMs" pycheck "$IT_TMP/retry-dry.json" "
assert sorted(v['name'] for v in r['vms']) == sorted('$SELECTED'.split())
assert all(v['outcome'] == 'pretend' for v in r['vms'])
"

# --- a hand-edited report: exact VMs, a gone one, a renamed one, one
# protected since, one deleted already (not retried), one on a provider
# that is not configured
python3 - "$FIRST" "$IT_TMP/edited.json" <<'PY'
import json, sys, copy
r = json.load(open(sys.argv[1]))
by = {v["name"]: v for v in r["vms"]}
vms = []
v = by["test_vm_1"]; vms.append(v)                           # failed: retried
v = copy.deepcopy(by["test_vm_2"]); v["outcome"] = "requested"
v["error"] = {"class": "timeout", "http_status": None, "message": "not confirmed", "retryable": True}
vms.append(v)                                                # requested: retried
v = copy.deepcopy(by["test_vm_3"]); v["outcome"] = "deleted"; del v["error"]
vms.append(v)                                                # deleted: not touched
v = copy.deepcopy(by["test_vm_4"]); v["name"] = "test_vm_4-old-name"
vms.append(v)                                                # renamed since: kept
v = copy.deepcopy(by["test_vm_5"]); v["outcome"] = "not_attempted"
vms.append(v)                                                # not_attempted: not taken
v = copy.deepcopy(by["test_vm_1"]); v["id"] = "00000000-0000-4000-8000-0000000000ff"
v["name"] = "test_vm_gone"; vms.append(v)                    # gone: already_absent
v = copy.deepcopy(by["test_vm_1"]); v["id"] = "00000000-0000-4000-8000-000000000006"
v["name"] = "test_locked"; vms.append(v)                     # protected since: kept
v = copy.deepcopy(by["test_vm_1"]); v["provider"] = "osp-old"; v["name"] = "test_elsewhere"
vms.append(v)                                                # not configured
r["summary"]["osp-old"] = copy.deepcopy(r["summary"]["osp-sim"])
r["vms"] = vms
json.dump(r, open(sys.argv[2], "w"), indent=2)
PY
vs -c "$IT_TMP/cfg.yaml" retry "$IT_TMP/edited.json" --yes --report "$IT_TMP/retry.json" \
	--metrics-file "$IT_TMP/m/retry.prom"
check "retry with an unconfigured provider's VM exits 1" [ "$RC" = 1 ]
check "retry deleted exactly the failed and requested VMs" python3 -c "
s = set('$(names_in_state)'.split())
assert s == {'test_vm_3', 'test_vm_4', 'test_vm_5', 'test_locked', 'prod-db-2'}, s
"
check "retry report: outcomes, kept reasons, retry_of" pycheck "$IT_TMP/retry.json" "
import os
o = {v['name']: v['outcome'] for v in r['vms']}
assert o == {'test_vm_1': 'deleted', 'test_vm_2': 'deleted',
             'test_vm_gone': 'already_absent', 'test_elsewhere': 'not_attempted'}, o
el = [v for v in r['vms'] if v['name'] == 'test_elsewhere'][0]
assert el['error']['class'] == 'config' and 'osp-old' in el['error']['message'], el
k = {x['name']: x['reason'] for x in r['kept']}
assert set(k) == {'test_vm_4', 'test_locked'}, k
assert 'renamed since' in k['test_vm_4'] and 'test_vm_4-old-name' in k['test_vm_4'], k
assert k['test_locked'] == 'protected by the platform: locked', k
assert r['run']['retry_of'] == os.path.realpath('$IT_TMP/edited.json'), r['run']
assert r['summary']['osp-old']['listed'] is None and r['summary']['osp-old']['error']['class'] == 'config'
assert r['summary']['osp-sim']['listed'] == 7
"
check "retry metrics name the unconfigured provider as down" python3 -c "
t = open('$IT_TMP/m/retry.prom').read()
assert 'vmsweep_provider_up{provider=\"osp-old\"} 0\n' in t
assert 'vmsweep_vms{provider=\"osp-sim\",outcome=\"deleted\"} 2\n' in t
assert 'vmsweep_failures{provider=\"osp-old\",class=\"config\"} 1\n' in t
"
vs report "$IT_TMP/retry.json"
check "report text names the retried report" grep -q "^retry of .*edited.json" "$IT_TMP/out"

# --- the first report, retried for real now that deletes work
vs -c "$IT_TMP/cfg.yaml" retry "$FIRST" --yes
check "retry of the first report exits 0" [ "$RC" = 0 ]
LAST=$(ls "$IT_TMP/reports"/vmsweep-*.json | tail -n 1)
check "retry wrote a new report to report.dir with retry_of" pycheck "$LAST" "
import os
assert r['run']['retry_of'] == os.path.realpath('$FIRST'), r['run']
o = {v['name']: v['outcome'] for v in r['vms']}
assert o == {'test_vm_1': 'already_absent', 'test_vm_2': 'already_absent',
             'test_vm_3': 'deleted', 'test_vm_4': 'deleted',
             'test_vm_5': 'deleted'}, o
assert r['kept'] == [], r['kept']
"
check "only the protected and unmatched VMs are left" python3 -c "
s = set('$(names_in_state)'.split())
assert s == {'test_locked', 'prod-db-2'}, s
"
vs -c "$IT_TMP/cfg.yaml" retry "$LAST" --yes
check "nothing left to retry exits 0" [ "$RC" = 0 ]
check "nothing left to retry says so" grep -q "nothing to retry" "$IT_TMP/out"

# --- report.keep prunes old reports of ours and nothing else
touch "$IT_TMP/reports/vmsweep-20000101T000000Z-0a.json" \
	"$IT_TMP/reports/vmsweep-20000102T000000Z-0b.json" \
	"$IT_TMP/reports/notes.txt" "$IT_TMP/reports/vmsweep-20000101T000000Z-0a.json.bak"
printf 'report:\n  dir: %s\n  keep: 2\n' "$IT_TMP/reports" >"$IT_TMP/keep.yaml"
sed -n '/^providers:/,/^report:/p' "$IT_TMP/cfg.yaml" | sed '$d' >"$IT_TMP/keep-cfg.yaml"
cat "$IT_TMP/keep.yaml" >>"$IT_TMP/keep-cfg.yaml"
rules "$IT_TMP/keep-cfg.yaml"
vs -c "$IT_TMP/keep-cfg.yaml" run --yes
check "a run with report.keep exits 0" [ "$RC" = 0 ]
check "report.keep leaves the 2 newest reports" bash -c "
	[ \$(ls '$IT_TMP/reports' | grep -c '^vmsweep-.*\.json\$') = 2 ] &&
	[ ! -e '$IT_TMP/reports/vmsweep-20000101T000000Z-0a.json' ]"
check "report.keep leaves other files alone" bash -c "
	[ -e '$IT_TMP/reports/notes.txt' ] && [ -e '$IT_TMP/reports/vmsweep-20000101T000000Z-0a.json.bak' ]"

# --- report.metrics_file: written by a real run stopped by a gate, left
# alone by a dry run
sim_start --inventory "$IT_TMP/inv.json" || exit 1
osp_config "$IT_TMP/gate.yaml"
printf '  metrics_file: %s\n' "$IT_TMP/m/cfg.prom" >>"$IT_TMP/gate.yaml"
rules "$IT_TMP/gate.yaml"
sed -i 's/max_deletes: 200/max_deletes: 1/' "$IT_TMP/gate.yaml"
vs -c "$IT_TMP/gate.yaml" run --dry-run
check "a dry run does not write report.metrics_file" [ ! -e "$IT_TMP/m/cfg.prom" ]
vs -c "$IT_TMP/gate.yaml" run --yes
check "a gate stops the run (exit 4)" [ "$RC" = 4 ]
check "metrics of a gated run parse" prom_check "$IT_TMP/m/cfg.prom"
check "metrics of a gated run say exit 4, nothing deleted" python3 -c "
t = open('$IT_TMP/m/cfg.prom').read()
for want in ['vmsweep_last_run_success 0', 'vmsweep_last_run_exit_code 4',
             'vmsweep_vms{provider=\"osp-sim\",outcome=\"not_attempted\"} 5',
             'vmsweep_vms{provider=\"osp-sim\",outcome=\"deleted\"} 0',
             'vmsweep_failures{provider=\"osp-sim\",class=\"cancelled\"} 5']:
    assert want + '\n' in t, want
"
check "a gated run deleted nothing" [ "$(names_in_state)" = "prod-db-2 test_locked test_vm_1 test_vm_2 test_vm_3 test_vm_4 test_vm_5" ]

it_finish
