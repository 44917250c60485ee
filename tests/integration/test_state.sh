#!/bin/bash
# The state store end to end: first-seen ages carried across runs with
# the testing clock, a locked and a corrupt store failing closed with one
# warning, two processes sharing one store, and a run killed with SIGKILL
# part-way that 'report --last' still tells completely.
. "$(dirname "$0")/lib.sh"

T0=2030-01-01T00:00:00Z
T5=2030-01-01T05:00:00Z
DB=$IT_TMP/state.db

# mkinventory FILE N: N vSphere VMs test_vm_<i>, created 10 days ago
# (where the API can say so).
mkinventory() {
	python3 - "$1" "$2" <<'PY'
import datetime, json, sys
ago = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=10)
vms = [{"name": "test_vm_%d" % i, "created": ago.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "power_state": ("POWERED_ON", "POWERED_OFF")[i % 2]}
       for i in range(int(sys.argv[2]))]
json.dump({"vmware": vms}, open(sys.argv[1], "w"))
PY
}

# config FILE [PROVIDER KEY LINE]: vc-sim, a 4h rule, the store at $DB.
config() {
	vmware_config "$1"
	[ -n "${2:-}" ] && sed -i "s/^    max_concurrency: 8/    max_concurrency: 8\n    $2/" "$1"
	cat >>"$1" <<EOF
rules:
  - name: ci
    match: ["test_*"]
    older_than: 4h
limits:
  max_deletes: unlimited
  max_delete_percent: 100
run:
  workers: 4
  retry_rounds: 0
  confirm_interval: 100ms
state:
  path: ${3:-$DB}
  busy_timeout: 300ms
EOF
}

# plan_check PYTHON: run PYTHON with p = the JSON plan in $IT_TMP/out.
plan_check() {
	python3 -c "
import json
p = json.load(open('$IT_TMP/out'))
$1
"
}

# --- first seen: a vCenter without creation times (6.7-era REST only)
mkinventory "$IT_TMP/inv.json" 6
sim_start --inventory "$IT_TMP/inv.json" --vsphere-legacy || exit 1
config "$IT_TMP/cfg.yaml"

VMSWEEP_NOW=$T0 vs -c "$IT_TMP/cfg.yaml" plan --format json
check "first plan exits 0" [ "$RC" = 0 ]
check "first sighting: no VM is old enough, each kept as first seen now" plan_check "
assert p['vms'] == [], [v['name'] for v in p['vms']]
assert len(p['kept']) == 6, p['kept']
assert all('0s (first seen)' in k['reason'] for k in p['kept']), p['kept']
"
VMSWEEP_NOW=2030-01-01T03:00:00Z vs -c "$IT_TMP/cfg.yaml" run --dry-run --report "$IT_TMP/dry3.json"
check "a dry run at T+3h selects nothing either" python3 -c "
import json
r = json.load(open('$IT_TMP/dry3.json'))
assert r['vms'] == [], r['vms']
"
VMSWEEP_NOW=$T5 vs -c "$IT_TMP/cfg.yaml" plan --format json
check "at T+5h every VM is older than 4h since first seen" plan_check "
assert sorted(v['name'] for v in p['vms']) == ['test_vm_%d' % i for i in range(6)], p['vms']
assert all(v['age_source'] == 'first_seen' for v in p['vms']), p['vms']
assert all(v['created'] == '$T0' for v in p['vms']), p['vms']
"
VMSWEEP_NOW=$T5 vs -c "$IT_TMP/cfg.yaml" plan
check "the text plan marks first-seen ages with ~" bash -c "
	grep -q 'test_vm_0 .* ~5h' '$IT_TMP/out' && grep -q '^~ age since vmsweep first saw' '$IT_TMP/out'"
VMSWEEP_NOW=$T5 vs -c "$IT_TMP/cfg.yaml" run --dry-run --report "$IT_TMP/dry5.json"
check "a dry run at T+5h predicts them, first_seen in the report" python3 -c "
import json
r = json.load(open('$IT_TMP/dry5.json'))
assert len(r['vms']) == 6 and all(v['outcome'] == 'pretend' and v['age_source'] == 'first_seen' for v in r['vms']), r['vms']
"
config "$IT_TMP/created.yaml" "age_source: created"
VMSWEEP_NOW=$T5 vs -c "$IT_TMP/created.yaml" plan --format json
check "age_source created: no creation time, no age, nothing selected" plan_check "
assert p['vms'] == [], p['vms']
assert all('unknown creation time' in k['reason'] for k in p['kept']), p['kept']
"

# --- a locked store: one warning, no age, the plan goes on
python3 - "$DB" "$IT_TMP/locked" "$IT_TMP/release" <<'PY' &
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
c.execute("UPDATE seen SET last_seen = last_seen")
open(sys.argv[2], "w").close()
for _ in range(600):  # bounded: 60 s at most
    if os.path.exists(sys.argv[3]):
        break
    time.sleep(0.1)
c.execute("ROLLBACK")
PY
HOLDER=$!
for _ in $(seq 1 100); do [ -e "$IT_TMP/locked" ] && break; sleep 0.1; done
VMSWEEP_NOW=$T5 vs -c "$IT_TMP/cfg.yaml" plan --format json
touch "$IT_TMP/release"
wait "$HOLDER"
check "locked store: the plan still exits 0" [ "$RC" = 0 ]
check "locked store: one warning line naming the store" bash -c "
	[ \"\$(grep -c 'state store .*state.db.*locked' '$IT_TMP/err')\" = 1 ]"
check "locked store: first-seen ages unknown, nothing selected" plan_check "
assert p['vms'] == [], p['vms']
assert all('unknown creation time' in k['reason'] for k in p['kept']), p['kept']
"

# --- a corrupt store: one warning, never an age, the file left alone
head -c 8192 /dev/urandom >"$IT_TMP/junk.db"
sum_before=$(md5sum <"$IT_TMP/junk.db")
config "$IT_TMP/junk.yaml" "" "$IT_TMP/junk.db"
VMSWEEP_NOW=$T5 vs -c "$IT_TMP/junk.yaml" plan --format json
check "corrupt store: the plan still exits 0" [ "$RC" = 0 ]
check "corrupt store: one warning line, 'not a database'" bash -c "
	[ \"\$(grep -c 'state store .*junk.db.*not a database' '$IT_TMP/err')\" = 1 ]"
check "corrupt store: nothing selected by age" plan_check "assert p['vms'] == [], p['vms']"
check "corrupt store: the file is not touched" [ "$(md5sum <"$IT_TMP/junk.db")" = "$sum_before" ]
VMSWEEP_NOW=$T5 vs -c "$IT_TMP/junk.yaml" history
check "corrupt store: history fails with one line" bash -c "
	[ '$RC' = 2 ] && [ \"\$(wc -l <'$IT_TMP/err')\" = 1 ] && grep -q 'not a database' '$IT_TMP/err'"

# --- two processes at once share the store and leave it consistent
VMSWEEP_NOW=$T5 "$VMSWEEP" --plugin-dir "$VMSWEEP_PLUGINS" -c "$IT_TMP/cfg.yaml" \
	run --dry-run --report "$IT_TMP/par1.json" >"$IT_TMP/par1.out" 2>&1 </dev/null &
P1=$!
VMSWEEP_NOW=$T5 "$VMSWEEP" --plugin-dir "$VMSWEEP_PLUGINS" -c "$IT_TMP/cfg.yaml" \
	run --dry-run --report "$IT_TMP/par2.json" >"$IT_TMP/par2.out" 2>&1 </dev/null &
P2=$!
wait "$P1"
R1=$?
wait "$P2"
R2=$?
check "two dry runs at once both exit 0" [ "$R1$R2" = 00 ]
check "neither warned about the store" bash -c "! grep -q 'state store' '$IT_TMP/par1.out' '$IT_TMP/par2.out'"
check "the store passes integrity_check" python3 -c "
import sqlite3
c = sqlite3.connect('$DB')
assert c.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
assert c.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
assert c.execute('SELECT count(*) FROM seen').fetchone()[0] == 6
"
vs -c "$IT_TMP/cfg.yaml" history --format json
check "history lists both dry runs as finished with 6 pretend each" python3 -c "
import json
h = json.load(open('$IT_TMP/out'))
ids = {json.load(open('$IT_TMP/par%d.json' % i))['run']['id'] for i in (1, 2)}
got = {r['id']: r for r in h}
assert ids <= set(got), (ids, list(got))
for i in ids:
    assert got[i]['status'] == 'finished' and got[i]['outcomes'] == {'pretend': 6}, got[i]
"

# --- a run killed with SIGKILL part-way: the journal tells it whole
N=40
mkinventory "$IT_TMP/big.json" $N
sim_start --inventory "$IT_TMP/big.json" --latency 200 || exit 1
# Its own store: the runs above ran at a clock set years ahead.
config "$IT_TMP/kill.yaml" "" "$IT_TMP/kill.db"
"$VMSWEEP" --plugin-dir "$VMSWEEP_PLUGINS" -c "$IT_TMP/kill.yaml" run --yes \
	--report "$IT_TMP/never.json" >"$IT_TMP/kill.out" 2>&1 </dev/null &
VICTIM=$!
# Kill it once some VMs are gone, long before all are.
gone=0
for _ in $(seq 1 300); do
	gone=$(sim_get /_sim/state | python3 -c "import json,sys; print($N - len(json.load(sys.stdin)['vmware']))")
	[ "$gone" -ge 4 ] && break
	sleep 0.05
done
kill -9 "$VICTIM"
wait "$VICTIM" 2>/dev/null
check "the run was killed part-way ($gone of $N gone)" [ "$gone" -ge 4 ] && [ "$gone" -lt "$N" ]
check "it wrote no report" [ ! -e "$IT_TMP/never.json" ]
# Requests that reached the simulator before the kill may still end.
prev=-1
for _ in $(seq 1 50); do
	sim_get /_sim/state >"$IT_TMP/after.json"
	now=$(python3 -c "import json; print(len(json.load(open('$IT_TMP/after.json'))['vmware']))")
	[ "$now" = "$prev" ] && break
	prev=$now
	sleep 0.5
done
vs -c "$IT_TMP/kill.yaml" report --last --format json
check "report --last exits 0 from the journal" [ "$RC" = 0 ]
check "report --last says the run did not finish" grep -q 'did not finish' "$IT_TMP/err"
cp "$IT_TMP/out" "$IT_TMP/killed.json"
check "every VM the simulator deleted shows as started or done" python3 -c "
import json
r = json.load(open('$IT_TMP/killed.json'))
left = {v['name'] for v in json.load(open('$IT_TMP/after.json'))['vmware']}
by = {v['name']: v for v in r['vms']}
assert len(r['vms']) == $N and len(by) == $N, len(r['vms'])
deleted = {'test_vm_%d' % i for i in range($N)} - left
assert deleted, 'nothing deleted'
for n in deleted:
    assert by[n]['outcome'] in ('deleted', 'requested'), by[n]
    assert by[n]['attempts'] >= 1, by[n]
# And nothing still there is claimed deleted.
for n in left:
    assert by[n]['outcome'] != 'deleted', by[n]
"
check "the unfinished VMs are requested or not_attempted" python3 -c "
import json
r = json.load(open('$IT_TMP/killed.json'))
outs = {v['outcome'] for v in r['vms']}
assert outs <= {'deleted', 'requested', 'not_attempted'}, outs
assert 'not_attempted' in outs, outs
"
vs -c "$IT_TMP/kill.yaml" history
check "history shows the killed run as unfinished" grep -q ' real .* unfinished ' "$IT_TMP/out"
run_id=$(python3 -c "import json; print(json.load(open('$IT_TMP/killed.json'))['run']['id'])")
vs -c "$IT_TMP/kill.yaml" report --run "$run_id"
check "report --run ID shows the same run as text" bash -c "
	[ '$RC' = 0 ] && grep -q 'run $run_id (real): $N VMs planned' '$IT_TMP/out'"
vs -c "$IT_TMP/kill.yaml" report --run nosuchrun
check "report --run of an unknown run: one line, exit 2" bash -c "
	[ '$RC' = 2 ] && grep -q \"no run 'nosuchrun'\" '$IT_TMP/err'"

it_finish
