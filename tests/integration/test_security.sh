#!/bin/bash
# Security end to end: TLS is verified by default (an untrusted certificate
# is refused with a clear message and exit 3, a configured CA is accepted),
# no password or token the platforms issued ever reaches a log line, a
# report, the metrics or the state store, even at trace level, a secret
# file others can read (password_file, clouds.yaml) is warned about and,
# with --strict, refused before anything is deleted, and no shell is ever
# started.
. "$(dirname "$0")/lib.sh"

CERTS=$IT_BUILD/certs
PW='Sw33p-Pa55!q7Zr'
export VMSWEEP_SEC_PASSWORD=$PW

# all_config FILE URL [PROVIDER KEY LINE]...: the three providers at URL.
all_config() {
	local f=$1 url=$2
	shift 2
	cat >"$f" <<EOF
providers:
  - name: vc-sim
    type: vmware
    url: $url
    username: admin@vsphere.local
    password_env: VMSWEEP_SEC_PASSWORD
EOF
	for kv in "$@"; do echo "    $kv" >>"$f"; done
	cat >>"$f" <<EOF
  - name: rhv-sim
    type: rhv
    url: $url/ovirt-engine/api
    username: admin@internal
    password_env: VMSWEEP_SEC_PASSWORD
    tags: true
EOF
	for kv in "$@"; do echo "    $kv" >>"$f"; done
	cat >>"$f" <<EOF
  - name: osp-sim
    type: osp
    auth_url: $url/identity
    username: admin
    password_env: VMSWEEP_SEC_PASSWORD
    project_name: admin
    user_domain_name: Default
    project_domain_name: Default
    region: RegionOne
EOF
	for kv in "$@"; do echo "    $kv" >>"$f"; done
	cat >>"$f" <<EOF
rules:
  - name: leftovers
    match: ["test_*", "jenkins-*", "ci-*"]
    older_than: 1h
limits:
  max_deletes: 10000
  max_delete_percent: 100
run:
  workers: 4
  retry_delay: 100ms
  confirm_interval: 100ms
  request_timeout: 10s
state:
  path: $IT_TMP/state.db
report:
  dir: $IT_TMP/reports
EOF
}

# --- TLS: an untrusted certificate is refused --------------------------
sim_start --generate vmware=5,rhv=5,osp=5 --password "$PW" \
	--tls-cert "$CERTS/untrusted.pem" --tls-key "$CERTS/untrusted.key" || exit 1
https=https://127.0.0.1:$SIM_PORT
all_config "$IT_TMP/tls.yaml" "$https"
vs -c "$IT_TMP/tls.yaml" check
check "untrusted certificate: check exits 3" [ "$RC" = 3 ]
check "untrusted certificate: the message says so" \
	grep -qiE 'certificate|tls|ssl' "$IT_TMP/err"
vs -c "$IT_TMP/tls.yaml" run --yes --report "$IT_TMP/tls-report.json"
check "untrusted certificate: a real run exits 3" [ "$RC" = 3 ]
check "untrusted certificate: nothing deleted" python3 -c "
import json, urllib.request, ssl
ctx = ssl._create_unverified_context()
s = json.load(urllib.request.urlopen('$https/_sim/state', context=ctx))
assert sum(len(s[p]) for p in ('vmware', 'rhv', 'osp')) == 15, s
"

# --- TLS: the test CA's server certificate -----------------------------
sim_start --generate vmware=5,rhv=5,osp=5 --password "$PW" \
	--tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" || exit 1
https=https://127.0.0.1:$SIM_PORT
all_config "$IT_TMP/tls.yaml" "$https"
vs -c "$IT_TMP/tls.yaml" check
check "CA not configured: the system store does not trust it (exit 3)" [ "$RC" = 3 ]
all_config "$IT_TMP/tls-ca.yaml" "$https" "ca_file: $CERTS/ca.pem"
vs -c "$IT_TMP/tls-ca.yaml" check
check "ca_file given: check exits 0" [ "$RC" = 0 ]
vs -c "$IT_TMP/tls-ca.yaml" plan --format json
check "ca_file given: every provider lists" python3 -c "
import json
p = json.load(open('$IT_TMP/out'))
assert all(p['summary'][n]['listed'] > 0 for n in ('vc-sim', 'rhv-sim', 'osp-sim')), p['summary']
"

# --- no credential anywhere it should not be ---------------------------
# A recording proxy in front of the simulator collects every token issued
# and every credential sent; short sessions make every provider log in
# again several times.
sim_start --generate vmware=20,rhv=20,osp=20 --password "$PW" \
	--session-ttl 15 --fault all:503:0.05 || exit 1
python3 "$IT_ROOT/tests/integration/token_proxy.py" "$SIM_URL" \
	"$IT_TMP/proxy.port" "$IT_TMP/secrets.txt" 2>"$IT_TMP/proxy.log" &
PROXY_PID=$!
trap 'kill $PROXY_PID 2>/dev/null; it_cleanup' EXIT
for i in $(seq 1 100); do [ -s "$IT_TMP/proxy.port" ] && break; sleep 0.05; done
proxy=http://127.0.0.1:$(cat "$IT_TMP/proxy.port")
all_config "$IT_TMP/sec.yaml" "$proxy"
cat >>"$IT_TMP/sec.yaml" <<EOF
log:
  file: $IT_TMP/vmsweep.log
EOF
mkdir -p "$IT_TMP/outputs"
vs -v -v -c "$IT_TMP/sec.yaml" check
cp "$IT_TMP/out" "$IT_TMP/outputs/check.out"; cp "$IT_TMP/err" "$IT_TMP/outputs/check.err"
check "check through the proxy exits 0" [ "$RC" = 0 ]
vs -v -v -c "$IT_TMP/sec.yaml" plan -o "$IT_TMP/outputs/plan.json"
cp "$IT_TMP/err" "$IT_TMP/outputs/plan.err"
vs -v -v --log-format json -c "$IT_TMP/sec.yaml" run --dry-run \
	--report "$IT_TMP/outputs/dry.json"
cp "$IT_TMP/err" "$IT_TMP/outputs/dry.err"
vs -v -v -c "$IT_TMP/sec.yaml" run --yes --report "$IT_TMP/outputs/real.json" \
	--metrics-file "$IT_TMP/outputs/metrics.prom"
cp "$IT_TMP/out" "$IT_TMP/outputs/real.out"; cp "$IT_TMP/err" "$IT_TMP/outputs/real.err"
check "the real run through the proxy ends (exit 0 or 1)" [ "$RC" = 0 -o "$RC" = 1 ]
check "the real run deleted VMs on every provider" python3 -c "
import json
r = json.load(open('$IT_TMP/outputs/real.json'))
got = {v['provider'] for v in r['vms'] if v['outcome'] == 'deleted'}
assert got == {'vc-sim', 'rhv-sim', 'osp-sim'}, got
"
vs -v -v -c "$IT_TMP/sec.yaml" report "$IT_TMP/outputs/real.json" --format junit
cp "$IT_TMP/out" "$IT_TMP/outputs/junit.xml"
check "trace level logged the HTTP exchanges" \
	bash -c "[ \$(wc -l <'$IT_TMP/outputs/real.err') -gt 100 ]"
check "the proxy recorded the tokens issued and the credentials sent" python3 -c "
t = open('$IT_TMP/secrets.txt').read().split()
assert len(t) >= 6, t
"
echo "$PW" >>"$IT_TMP/secrets.txt"
printf '%s' "admin@vsphere.local:$PW" | base64 >>"$IT_TMP/secrets.txt"
printf '%s' "admin@internal:$PW" | base64 >>"$IT_TMP/secrets.txt"
cp "$IT_TMP/vmsweep.log" "$IT_TMP/reports"/* "$IT_TMP/outputs/" 2>/dev/null
[ -e "$IT_TMP/state.db" ] && strings -a "$IT_TMP/state.db" >"$IT_TMP/outputs/state.strings"
check "the state store exists and was searched" [ -s "$IT_TMP/outputs/state.strings" ]
check "no password, token or Basic credential in any log, report, metrics or state" \
	python3 - "$IT_TMP/secrets.txt" "$IT_TMP/outputs" <<'PY'
import os, sys
secrets = [s for s in open(sys.argv[1]).read().split("\n") if len(s) >= 8]
found = []
for name in sorted(os.listdir(sys.argv[2])):
    data = open(os.path.join(sys.argv[2], name), "rb").read()
    for s in secrets:
        if s.encode() in data:
            found.append("%s holds %s...%s" % (name, s[:4], s[-2:]))
print("searched %d files for %d secrets" % (len(os.listdir(sys.argv[2])), len(secrets)))
for f in found[:20]:
    print("  " + f)
sys.exit(1 if found else 0)
PY
kill $PROXY_PID 2>/dev/null
wait $PROXY_PID 2>/dev/null

# --- a secret file others can read -------------------------------------
echo "$PW" >"$IT_TMP/pw-open"
chmod 644 "$IT_TMP/pw-open"
sed "s|password_env: VMSWEEP_SEC_PASSWORD|password_file: $IT_TMP/pw-open|" \
	"$IT_TMP/sec.yaml" | sed "s|$proxy|$SIM_URL|" >"$IT_TMP/open.yaml"
vs -c "$IT_TMP/open.yaml" check
check "a secret file readable by others is warned about" \
	grep -q "pw-open.*readable by group or others" "$IT_TMP/err"
check "the warning does not quote the secret" bash -c "! grep -qF -- '$PW' '$IT_TMP/err'"
chmod 600 "$IT_TMP/pw-open"
vs -c "$IT_TMP/open.yaml" check
check "a private secret file is not warned about" \
	bash -c "! grep -q 'readable by group or others' '$IT_TMP/err'"

# --- --strict: a secret file others can read is an error --------------
# A fresh simulator, so that "nothing deleted" counts every VM.
sim_start --generate vmware=5,rhv=5,osp=5 --password "$PW" || exit 1
chmod 644 "$IT_TMP/pw-open"
all_config "$IT_TMP/strict.yaml" "$SIM_URL"
sed -i "s|password_env: VMSWEEP_SEC_PASSWORD|password_file: $IT_TMP/pw-open|" \
	"$IT_TMP/strict.yaml"
# sim_vms [PLATFORM]...: how many VMs the simulator holds on them.
sim_vms() {
	sim_get /_sim/state | python3 -c "
import json, sys
s = json.load(sys.stdin)
print(sum(len(s[p]) for p in sys.argv[1:]))" "$@"
}
vs --strict -c "$IT_TMP/strict.yaml" run --yes --report "$IT_TMP/strict-report.json"
check "--strict: a password_file others can read stops the run (exit 2)" [ "$RC" = 2 ]
check "--strict: one line naming the file, its mode and the fix" grep -qE \
	"strict\.yaml:[0-9]+:[0-9]+: secret file '$IT_TMP/pw-open' for 'password' is readable by group or others \(mode 0644\); chmod 600 it\$" \
	"$IT_TMP/err"
check "--strict: the message does not quote the secret" \
	bash -c "! grep -qF -- '$PW' '$IT_TMP/err' '$IT_TMP/out'"
check "--strict: nothing deleted" [ "$(sim_vms vmware rhv osp)" = 15 ]
check "--strict: no report written" [ ! -e "$IT_TMP/strict-report.json" ]
vs --strict -c "$IT_TMP/strict.yaml" check
check "--strict: check fails the same way (exit 2)" [ "$RC" = 2 ]
check "--strict: check names the file" \
	grep -q "pw-open' for 'password' is readable" "$IT_TMP/err"
vs -c "$IT_TMP/strict.yaml" run --yes --report "$IT_TMP/loose-report.json"
check "without --strict the run goes ahead (exit 0)" [ "$RC" = 0 ]
check "without --strict: a warning naming the file" grep -q \
	"WARN.*secret file '$IT_TMP/pw-open' for 'password' is readable by group or others (mode 0644)" \
	"$IT_TMP/err"
check "without --strict: the warning does not quote the secret" \
	bash -c "! grep -qF -- '$PW' '$IT_TMP/err' '$IT_TMP/out'"
check "without --strict: VMs were deleted" [ "$(sim_vms vmware rhv osp)" -lt 15 ]

# --- a clouds.yaml holding a password that others can read -------------
sim_start --generate osp=5 --password "$PW" || exit 1
mkdir -p "$IT_TMP/os"
cat >"$IT_TMP/os/clouds.yaml" <<EOF
clouds:
  sim:
    auth:
      auth_url: $SIM_URL/identity
      username: admin
      password: "$PW"
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
EOF
chmod 644 "$IT_TMP/os/clouds.yaml"
# Two instances on one file: one warning.
cat >"$IT_TMP/clouds.yaml" <<EOF
providers:
  - name: osp-a
    type: osp
    cloud: sim
  - name: osp-b
    type: osp
    cloud: sim
rules:
  - name: leftovers
    match: ["test_*", "jenkins-*", "ci-*"]
    older_than: 1h
limits:
  max_deletes: 10000
  max_delete_percent: 100
state:
  path: $IT_TMP/state.db
report:
  dir: $IT_TMP/reports
EOF
export OS_CLIENT_CONFIG_FILE=$IT_TMP/os/clouds.yaml
clouds_msg="'$IT_TMP/os/clouds.yaml' holds secrets (password) and is readable by group or others (mode 0644); chmod 600 it"
vs -c "$IT_TMP/clouds.yaml" check
check "clouds.yaml readable by others: check still authenticates (exit 0)" [ "$RC" = 0 ]
check "clouds.yaml readable by others: one warning for two instances" \
	[ "$(grep -cF -- "$clouds_msg" "$IT_TMP/err")" = 1 ]
check "clouds.yaml warning: no secret in it" \
	bash -c "! grep -qF -- '$PW' '$IT_TMP/err' '$IT_TMP/out'"
vs --strict -c "$IT_TMP/clouds.yaml" check
check "--strict: check fails on the clouds.yaml (exit 2)" [ "$RC" = 2 ]
check "--strict: the error names osp-a, the file, its mode and the fix" \
	grep -qF -- "config: osp-a: $clouds_msg" "$IT_TMP/err"
check "--strict: and osp-b" grep -qF -- "config: osp-b: $clouds_msg" "$IT_TMP/err"
check "--strict: the clouds.yaml error holds no secret" \
	bash -c "! grep -qF -- '$PW' '$IT_TMP/err' '$IT_TMP/out'"
vs --strict -c "$IT_TMP/clouds.yaml" run --yes --report "$IT_TMP/clouds-report.json"
check "--strict: a run on it fails (exit 2)" [ "$RC" = 2 ]
check "--strict: a run on it deletes nothing" [ "$(sim_vms osp)" = 5 ]
chmod 600 "$IT_TMP/os/clouds.yaml"
vs --strict -c "$IT_TMP/clouds.yaml" check
check "--strict: a private clouds.yaml passes (exit 0)" [ "$RC" = 0 ]
check "a private clouds.yaml is not warned about" \
	bash -c "! grep -q 'readable by group or others' '$IT_TMP/err'"
unset OS_CLIENT_CONFIG_FILE

# --- no shell ----------------------------------------------------------
check "no system(), popen(), exec*() or /bin/sh in the sources" bash -c "
	! grep -nE '(^|[^_a-zA-Z0-9])(system|popen|execl|execlp|execle|execv|execvp|execvpe|posix_spawn|posix_spawnp)[ \t]*\(|/bin/sh' \
		'$IT_ROOT'/src/*.[ch] '$IT_ROOT'/providers/*/*.[ch] '$IT_ROOT'/providers/*.h"
check "the binary imports no shell-starting function" bash -c "
	! nm -D --undefined-only '$IT_BUILD/vmsweep' '$IT_BUILD'/providers/*.so \
		| grep -wE 'system|popen|execl|execlp|execv|execvp|execvpe|posix_spawn|posix_spawnp'"

[ -n "${SEC_KEEP:-}" ] && cp -r "$IT_TMP" "$SEC_KEEP"
it_finish
