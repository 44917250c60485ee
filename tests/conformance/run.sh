#!/usr/bin/env bash
# Conformance: drive the simulator with the real OpenStack command-line
# client (Debian's python3-openstackclient) and check what it did in
# /_sim/state.  If the client can list, show and delete servers on the
# simulator, the simulator speaks Keystone and Nova well enough for
# vmsweep's tests to mean something.
#
# Installs python3-openstackclient when missing and running as root;
# otherwise says what to install and fails.  Prints one closing line
# "N passed, N failed"; exits non-zero when anything failed.

set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SIM=${SIM:-$ROOT/build/vmsweep-sim}
CERTS=$ROOT/build/certs
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vmsweep-conformance.XXXXXX")
PASS=0
FAIL=0
SIM_PID=
PORT=

cleanup() {
	sim_stop
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() {
	echo "ok - $*"
	PASS=$((PASS + 1))
}
notok() {
	echo "not ok - $*"
	FAIL=$((FAIL + 1))
}

if ! command -v openstack >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		echo "conformance: installing python3-openstackclient"
		DEBIAN_FRONTEND=noninteractive apt-get update -q &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
				--no-install-recommends python3-openstackclient ||
			{
				echo "conformance: cannot install python3-openstackclient" >&2
				exit 1
			}
	else
		echo "conformance: the openstack client is missing; run as root:" >&2
		echo "  apt-get install python3-openstackclient" >&2
		exit 1
	fi
fi
if [ ! -x "$SIM" ]; then
	make -C "$ROOT" build/vmsweep-sim >/dev/null || exit 1
fi

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
	fi
}

sim_start() {
	sim_stop
	rm -f "$TMP/port"
	"$SIM" --listen 127.0.0.1:0 --port-file "$TMP/port" \
		--request-log "$TMP/requests.log" "$@" >"$TMP/sim.log" 2>&1 &
	SIM_PID=$!
	for _ in $(seq 1 100); do
		if [ -s "$TMP/port" ]; then
			PORT=$(cat "$TMP/port")
			return 0
		fi
		kill -0 "$SIM_PID" 2>/dev/null || break
		sleep 0.05
	done
	notok "simulator did not start: $*"
	cat "$TMP/sim.log" >&2
	SIM_PID=
	return 1
}

# clouds.yaml with a password cloud, an application credential cloud and
# (when test certificates exist) the password cloud over TLS.
write_clouds() {
	local scheme=$1 extra=$2
	cat >"$TMP/clouds.yaml" <<EOF
clouds:
  sim:
    auth:
      auth_url: $scheme://127.0.0.1:$PORT/identity/v3
      username: admin
      password: secret
      project_name: ci
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
$extra
  sim-appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: $scheme://127.0.0.1:$PORT/identity/v3
      application_credential_id: sim-appcred
      application_credential_secret: secret
    region_name: RegionOne
$extra
EOF
}

# osc CLOUD ARGS...: the real client, bounded, isolated from the
# caller's OpenStack settings.
osc() {
	local cloud=$1
	shift
	env -u OS_AUTH_URL -u OS_USERNAME -u OS_PASSWORD -u OS_PROJECT_NAME \
		-u OS_TOKEN -u OS_AUTH_TYPE HOME="$TMP" \
		OS_CLIENT_CONFIG_FILE="$TMP/clouds.yaml" \
		timeout 120 openstack --os-cloud "$cloud" "$@"
}

state() {
	curl -s -m 10 -k "$SCHEME://127.0.0.1:$PORT/_sim/state"
}

# py EXPR FILE...: evaluate a Python expression over JSON files a, b.
py() {
	python3 -c '
import json, re, sys
a = json.load(open(sys.argv[2]))
b = json.load(open(sys.argv[3])) if len(sys.argv) > 3 else None
r = eval(sys.argv[1])
print(r if not isinstance(r, bool) else ("yes" if r else "no"))
' "$@"
}

conform() {
	local label=$1
	state >"$TMP/state.json"

	# server list: one request, so Nova's max_limit (1000) servers,
	# the newest first -- what the client shows against a real Nova.
	if osc sim server list -f json >"$TMP/list.json" 2>"$TMP/err"; then
		r=$(py '[s["ID"] for s in a] == [v["id"] for v in b["osp"]][:1000]' \
			"$TMP/list.json" "$TMP/state.json")
		n=$(py 'len(a)' "$TMP/list.json")
		[ "$r" = yes ] && ok "$label: server list shows the newest $n servers" ||
			notok "$label: server list shows the wrong servers ($n listed)"
	else
		notok "$label: server list failed: $(tail -n 3 "$TMP/err")"
	fi

	# server list --limit -1: every server, following Nova's markers.
	if osc sim server list --limit -1 -f json >"$TMP/list.json" 2>"$TMP/err"; then
		r=$(py 'sorted(s["ID"] for s in a) == sorted(v["id"] for v in b["osp"])' \
			"$TMP/list.json" "$TMP/state.json")
		n=$(py 'len(a)' "$TMP/list.json")
		[ "$r" = yes ] && ok "$label: server list --limit -1 pages through all $n servers" ||
			notok "$label: server list --limit -1 shows the wrong servers ($n listed)"
	else
		notok "$label: server list --limit -1 failed: $(tail -n 3 "$TMP/err")"
	fi

	# server list --name REGEX.
	if osc sim server list --name '^jenkins-' -f json \
		>"$TMP/list.json" 2>"$TMP/err"; then
		r=$(py 'sorted(s["ID"] for s in a) == sorted(v["id"] for v in b["osp"] if re.search("^jenkins-", v["name"], re.I))' \
			"$TMP/list.json" "$TMP/state.json")
		[ "$r" = yes ] && ok "$label: server list --name '^jenkins-'" ||
			notok "$label: server list --name '^jenkins-' selects the wrong servers"
	else
		notok "$label: server list --name failed: $(tail -n 3 "$TMP/err")"
	fi

	# server show.
	id=$(py '[v["id"] for v in a["osp"] if not v["locked"] and v["status"] == "ACTIVE" and v["task_state"] is None][0]' \
		"$TMP/state.json")
	if osc sim server show "$id" -f json >"$TMP/show.json" 2>"$TMP/err"; then
		r=$(py '[(a["id"], a["name"], a["status"]) == (v["id"], v["name"], v["status"]) for v in b["osp"] if v["id"] == a["id"]] == [True]' \
			"$TMP/show.json" "$TMP/state.json")
		[ "$r" = yes ] && ok "$label: server show $id" ||
			notok "$label: server show $id disagrees with the state"
	else
		notok "$label: server show failed: $(tail -n 3 "$TMP/err")"
	fi

	# server delete --wait: gone from the state afterwards.
	if osc sim server delete --wait "$id" 2>"$TMP/err"; then
		state >"$TMP/after.json"
		r=$(py '"'"$id"'" not in [v["id"] for v in a["osp"]]' "$TMP/after.json")
		[ "$r" = yes ] && ok "$label: server delete --wait $id removed it" ||
			notok "$label: server delete --wait left $id in the state"
	else
		notok "$label: server delete --wait failed: $(tail -n 3 "$TMP/err")"
	fi

	# A locked server: the client reports the 409, the server stays.
	locked=$(py '[v["id"] for v in a["osp"] if v["locked"]][0]' "$TMP/state.json")
	if osc sim server delete "$locked" >/dev/null 2>"$TMP/err"; then
		notok "$label: deleting locked $locked succeeded"
	else
		state >"$TMP/after.json"
		r=$(py '"'"$locked"'" in [v["id"] for v in a["osp"]]' "$TMP/after.json")
		[ "$r" = yes ] && ok "$label: locked server refused and kept" ||
			notok "$label: locked server vanished"
	fi

	# The application credential cloud.
	if osc sim-appcred server list -f value -c ID >"$TMP/ids" 2>"$TMP/err" &&
		[ -s "$TMP/ids" ]; then
		ok "$label: application credential auth lists servers"
	else
		notok "$label: application credential server list failed: $(tail -n 3 "$TMP/err")"
	fi
}

# Plain HTTP, a lab bigger than one Nova page.
SCHEME=http
if sim_start --generate osp=1200,vmware=0,rhv=0 --seed 42; then
	write_clouds http ""
	conform http
	sim_stop
fi

# HTTPS with the test CA.
if [ -r "$CERTS/server.pem" ] && [ -r "$CERTS/ca.pem" ]; then
	SCHEME=https
	if sim_start --generate osp=50,vmware=0,rhv=0 --seed 43 \
		--tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key"; then
		write_clouds https "    cacert: $CERTS/ca.pem"
		conform https
		sim_stop
	fi
else
	echo "# TLS skipped: no test certificates (make certs)"
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
