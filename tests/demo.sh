#!/bin/bash
# make demo: start the simulator with a generated lab, show the plan, a dry
# run, a real run with some injected faults and the report, then stop the
# simulator.  Everything runs on 127.0.0.1 and in a temporary directory.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmsweep-demo.XXXXXX")
sim_pid=
cleanup() {
	[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "Starting the simulator: an OpenStack lab of 300 servers, 5% of deletes ending in ERROR, some 503s; an oVirt lab of 200 VMs; a vCenter of 200 VMs"
"$bin/vmsweep-sim" --listen 127.0.0.1:0 --port-file "$tmp/port" \
	--generate osp=300,rhv=200,vmware=200 --seed 7 --latency 2:2 --delete-polls 2 \
	--fault osp:503:0.03 --fault osp:delete-error:0.05 \
	>"$tmp/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
if [ ! -s "$tmp/port" ]; then
	echo "demo: the simulator did not start:" >&2
	cat "$tmp/sim.log" >&2
	exit 1
fi
url=http://127.0.0.1:$(cat "$tmp/port")
echo "simulator listening on $url"

cat >"$tmp/vmsweep.yaml" <<EOF
# A demo configuration: OpenStack, oVirt and vSphere providers, the simulator.
providers:
  - name: osp-lab
    type: osp
    auth_url: $url/identity
    username: admin
    password_env: VMSWEEP_DEMO_PASSWORD
    project_name: admin
    user_domain_name: Default
    project_domain_name: Default
    region: RegionOne
    max_concurrency: 16
  - name: rhv-lab
    type: rhv
    url: $url/ovirt-engine/api
    username: admin@internal
    password_env: VMSWEEP_DEMO_PASSWORD
    tags: true
    max_concurrency: 16
  - name: vc-lab
    type: vmware
    url: $url
    username: admin@vsphere.local
    password_env: VMSWEEP_DEMO_PASSWORD
    max_concurrency: 16

rules:
  - name: ci-leftovers
    match: ["test_*", "jenkins-*"]
    older_than: 4h
  - name: nightly
    match: ["ci-*"]
    older_than: 24h

protect:
  names: ["*-keep", "infra-*", "prod-*"]

limits:
  max_deletes: 500
  max_delete_percent: 80

run:
  workers: 16
  retry_rounds: 2
  retry_delay: 1s
  delete_timeout: 1m
  confirm_interval: 500ms

report:
  dir: $tmp/reports
EOF
export VMSWEEP_DEMO_PASSWORD=secret
vs() { "$bin/vmsweep" -c "$tmp/vmsweep.yaml" "$@"; }

step "The configuration"
sed -n '1,40p' "$tmp/vmsweep.yaml"

step "vmsweep check: the config, the plugins, and authentication"
show vs check || exit 1

step "vmsweep plan: what would be deleted, and what is kept and why"
show vs plan | sed -n '1,25p'
echo "  ..."

step "vmsweep run --dry-run: the same plan, the same pool; nothing is deleted"
show vs -q run --dry-run --report "$tmp/dry-run.json"
grep -c . <(vs run --dry-run --report "$tmp/dry2.json" 2>&1 | grep 'Pretend delete') |
	sed 's/^/Pretend delete lines: /'

step "vmsweep run --yes: the real cleanup, through faults"
show vs run --yes --report "$tmp/report.json"
rc=$?
echo "exit code: $rc (0 all done, 1 some VMs failed; see vmsweep(1))"

step "The report"
python3 - "$tmp/report.json" <<'PY'
import collections, json, sys
r = json.load(open(sys.argv[1]))
c = collections.Counter(v["outcome"] for v in r["vms"])
print("report %s: %d planned VMs: %s" % (sys.argv[1].rsplit("/", 1)[-1],
      len(r["vms"]), ", ".join("%s %d" % kv for kv in sorted(c.items()))))
for v in r["vms"]:
    if v["outcome"] == "failed":
        print("  failed: %s (%s): %s" % (v["name"], v["error"]["class"],
              v["error"]["message"]))
PY

step "What the simulator has left"
python3 - "$url" <<'PY'
import json, sys, urllib.request
s = json.load(urllib.request.urlopen(sys.argv[1] + "/_sim/state"))
print("%d OpenStack servers remain" % len(s["osp"]))
print("%d oVirt VMs remain" % len(s["rhv"]))
print("%d vSphere VMs remain" % len(s["vmware"]))
PY
[ "$rc" -le 1 ]
