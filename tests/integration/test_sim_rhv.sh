#!/usr/bin/env bash
# Contract tests for the oVirt / RHV half of vmsweep-sim: SSO, Bearer and
# Basic, the engine's JSON (boolean strings, epoch-ms dates, {} for an
# empty collection), search and paging, the stop and delete state
# machines with their faults, tags, and /_sim/state, compared with the
# API notes' sample bodies.
#
# Needs build/asan/vmsweep-sim (SIM= for another) and python3 (standard
# library only).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SAMPLES=$IT_SHARED/api/samples
if [ ! -d "$SAMPLES" ]; then
	echo "samples not found in $SAMPLES (set VS_SHARED)" >&2
	exit 1
fi
if [ ! -x "$SIM" ]; then
	echo "$SIM not built (make build/asan/vmsweep-sim)" >&2
	exit 1
fi

U=11111111-1111-4111-8111-111111111
cat >"$IT_TMP/inv.json" <<EOF
{"rhv": [
  {"id": "${U}101", "name": "ci-build-up", "status": "up",
   "created": "2024-05-02T09:00:00Z", "cpu_count": 2, "memory_mib": 4096},
  {"id": "${U}102", "name": "ci-build-down", "status": "down"},
  {"id": "${U}103", "name": "ci-susp", "status": "suspended"},
  {"id": "${U}104", "name": "db-primary", "status": "down",
   "delete_protected": true},
  {"id": "${U}105", "name": "img-locked", "status": "image_locked"},
  {"id": "${U}106", "name": "Web-Keep", "status": "up", "keep": true},
  {"id": "${U}107", "name": "desc-keep", "status": "down",
   "description": "owner: ci; vmsweep:keep"},
  {"id": "${U}108", "name": "exp-vm", "status": "down",
   "tags": ["vmsweep:expires=2030-01-01T00:00:00Z"]},
  {"id": "${U}109", "name": "ci-paused", "status": "paused"},
  {"id": "${U}110", "name": "exp-desc", "status": "down",
   "description": "vmsweep:expires=2031-02-03T04:05:06Z"},
  {"id": "${U}111", "name": "comment-keep", "status": "down",
   "comment": "vmsweep:keep"},
  {"id": "${U}112", "name": "victim-1", "status": "down"},
  {"id": "${U}113", "name": "victim-2", "status": "down"}
]}
EOF

cat >"$IT_TMP/t.py" <<'PY'
import base64, json, sys, urllib.error, urllib.parse, urllib.request

GROUP, BASE, SAMPLES = sys.argv[1], sys.argv[2], sys.argv[3]
U = "11111111-1111-4111-8111-111111111"
API = "/ovirt-engine/api"
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   - " + name)
    else:
        failed += 1
        print("FAIL - %s %s" % (name, detail))


def sample(name):
    with open("%s/%s" % (SAMPLES, name)) as f:
        return json.load(f)


def call(method, path, body=None, headers=None, raw=None, form=None):
    h = {"Accept": "application/json"}
    h.update(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        h["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(BASE + path, data=data, method=method,
                                 headers=h)
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            st, b, hd = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        st, b, hd = e.code, e.read(), e.headers
    try:
        j = json.loads(b) if b else None
    except ValueError:
        j = None
    return st, j, b, hd


GOOD = {"grant_type": "password", "scope": "ovirt-app-api",
        "username": "admin@internal", "password": "secret"}
BASIC = {"Authorization": "Basic " +
         base64.b64encode(b"admin@internal:secret").decode(),
         "Version": "4"}


def sso(form=GOOD):
    return call("POST", "/ovirt-engine/sso/oauth/token", form=form)


def bearer():
    st, j, _, _ = sso()
    return {"Authorization": "Bearer " + j["access_token"], "Version": "4"}


def q(s):
    return urllib.parse.quote(s, safe="")


def state():
    return {v["id"]: v for v in call("GET", "/_sim/state")[1]["rhv"]}


def names(j):
    return [v["name"] for v in (j or {}).get("vm", [])]


S_VMS = sample("rhv_vms.json")["vm"]
VM_KEYS = set().union(*[set(v) for v in S_VMS])


def group_main():
    # SSO.
    st, j, _, _ = sso()
    check("SSO token is 200 with the sample's keys",
          st == 200 and set(j) == set(sample("rhv_sso_token.json")), (st, j))
    check("SSO token_type is bearer and exp an epoch-ms string",
          j["token_type"] == "bearer" and isinstance(j["exp"], str) and
          j["exp"].isdigit() and len(j["exp"]) >= 13, j)
    check("SSO scope names ovirt-app-api", "ovirt-app-api" in j["scope"])
    st, j, _, _ = sso(dict(GOOD, password="nope"))
    check("SSO with bad credentials is 400 access_denied (sample shape)",
          st == 400 and set(j) == set(sample("rhv_sso_error.json")) and
          j["error_code"] == "access_denied" and
          "Cannot authenticate user 'admin@internal'" in j["error"], (st, j))
    st, j, _, _ = sso({k: v for k, v in GOOD.items() if k != "scope"})
    check("SSO without scope is 400", st == 400 and
          "access_token" not in j, (st, j))
    st, j, _, _ = sso(dict(GOOD, grant_type="client_credentials"))
    check("SSO with another grant type is 400", st == 400, (st, j))
    auth = bearer()

    # Authentication on the API.
    st, _, raw, hd = call("GET", API + "/vms")
    check("no credentials is 401", st == 401, st)
    st, _, _, _ = call("GET", API + "/vms",
                       headers={"Authorization": "Bearer nope"})
    check("an unknown bearer token is 401", st == 401, st)
    st, _, _, _ = call("GET", API + "/vms", headers=BASIC)
    check("Basic works", st == 200, st)
    st, _, _, _ = call("GET", API + "/vms", headers=dict(auth, Version="3"))
    check("Version: 3 is refused with 400", st == 400, st)
    st, j, _, _ = call("GET", API + "/v4/vms",
                       headers={"Authorization": auth["Authorization"]})
    check("/v4 prefix works without the header", st == 200 and
          len(j["vm"]) == 13, st)

    st, j, _, _ = call("GET", API, headers=auth)
    check("API root has product_info and a vms link",
          st == 200 and j["product_info"]["version"]["major"] == "4" and
          any(l["rel"] == "vms" for l in j["link"]), j)

    # Listing and the wire types.
    st, j, _, _ = call("GET", API + "/vms", headers=auth)
    vms = j["vm"]
    check("list is {vm: [...]} with every VM", st == 200 and set(j) == {"vm"}
          and len(vms) == 13, (st, len(vms)))
    check("VM keys are within the sample's",
          all(set(v) <= VM_KEYS for v in vms),
          [set(v) - VM_KEYS for v in vms][:1])
    check("VMs carry id, href, name, status, creation_time, "
          "delete_protected, link",
          all({"id", "href", "name", "status", "creation_time",
               "delete_protected", "link"} <= set(v) for v in vms))
    check("booleans are the strings true/false",
          all(v["delete_protected"] in ("true", "false") and
              v["stateless"] in ("true", "false") for v in vms))
    byname = {v["name"]: v for v in vms}
    check("delete_protected is \"true\" where set",
          byname["db-primary"]["delete_protected"] == "true" and
          byname["ci-build-up"]["delete_protected"] == "false")
    up = byname["ci-build-up"]
    check("creation_time is an epoch-ms number",
          isinstance(up["creation_time"], int) and
          up["creation_time"] == 1714640400000, up["creation_time"])
    check("memory is a number in bytes, small ints are strings",
          up["memory"] == 4096 * 1024 * 1024 and
          up["cpu"]["topology"]["sockets"] == "2", up.get("cpu"))
    check("a running VM has a host, a down one none",
          "host" in up and "host" not in byname["ci-build-down"])
    check("href points at the VM",
          up["href"] == API + "/vms/" + up["id"], up["href"])
    check("links include tags", any(l["rel"] == "tags" for l in up["link"]))

    def search(s, extra=""):
        st, j, _, _ = call("GET", API + "/vms?search=" + q(s) + extra,
                           headers=auth)
        return st, j

    check("name glob", sorted(names(search("name=ci-*")[1])) ==
          ["ci-build-down", "ci-build-up", "ci-paused", "ci-susp"])
    check("searches are case-insensitive",
          names(search("name=web-keep")[1]) == ["Web-Keep"])
    check("case_sensitive=true makes them exact",
          names(search("name=web-keep", "&case_sensitive=true")[1]) == [])
    check("status", sorted(names(search("status=suspended")[1])) ==
          ["ci-susp"])
    check("and", names(search("name=ci-* and status=up")[1]) ==
          ["ci-build-up"])
    check("or", len(names(search("name=ci-* or name=db-*")[1])) == 5)
    check("tag", names(search("tag=vmsweep:keep")[1]) == ["Web-Keep"])
    check("!=", "ci-build-up" not in names(search("name!=ci-build-up")[1]))
    check("Vms: prefix and '+' as space",
          names(call("GET", API + "/vms?search=Vms:+name%3Dci-build-up",
                     headers=auth)[1]) == ["ci-build-up"])
    st, _, raw, _ = call("GET", API + "/vms?search=" + q("name=zzz*"),
                         headers=auth)
    check("an empty result is exactly {}", st == 200 and
          json.loads(raw) == {} == sample("rhv_vms_empty.json"), raw)
    for bad in ("name=", "foo=bar", "name=ci-* and", "status=flying",
                "((", "name=\"open", "page 0", "sortby colour"):
        st, j = search(bad)
        check("garbage search %r is 400 with reason/detail" % bad,
              st == 400 and set(j) == {"reason", "detail"}, (st, j))
    st, j, _, _ = call("GET", API + "/vms?max=abc", headers=auth)
    check("max=abc is 400", st == 400, st)

    # Sorting and paging.
    every = sorted((v["name"] for v in vms), key=str.lower)
    pages = []
    for p in range(1, 7):
        st, j = search("sortby name asc page %d" % p, "&max=3")
        pages.append(names(j))
    check("sortby name asc pages through everything in order",
          sum(pages, []) == every, pages)
    check("a page past the end is {}", pages[-1] == [], pages[-1])
    st, j = search("sortby name desc", "&max=2")
    check("sortby name desc", names(j) == every[::-1][:2], names(j))
    st, j, _, _ = call("GET", API + "/vms;max=2", headers=auth)
    check("max as a matrix parameter", st == 200 and len(j["vm"]) == 2, st)

    # One VM.
    vid = U + "101"
    st, j, _, _ = call("GET", API + "/vms/" + vid, headers=auth)
    check("VM get", st == 200 and j["id"] == vid and set(j) <= VM_KEYS, j)
    st, _, raw, _ = call("GET", API + "/vms/" + U + "999", headers=auth)
    check("unknown VM is 404 with an empty body", st == 404 and raw == b"",
          (st, raw))
    for bad_id in ("..%2F..%2Fetc%2Fpasswd", "x" * 4000, vid + "x",
                   vid[:-1]):
        st, _, _, _ = call("GET", API + "/vms/" + bad_id, headers=auth)
        check("hostile id %r is 404" % bad_id[:20], st in (404, 414), st)
    st, j, _, _ = call("GET", API + "/vms/" + U + "106?follow=tags",
                       headers=auth)
    check("follow=tags inlines the tags",
          st == 200 and j["tags"]["tag"][0]["name"] == "vmsweep:keep", j)

    # Tags.
    s_tag = sample("rhv_vm_tags.json")["tag"][0]
    st, j, _, _ = call("GET", API + "/vms/" + U + "106/tags", headers=auth)
    check("VM tags have the sample's keys",
          st == 200 and set(j) == {"tag"} and
          set(j["tag"][0]) == set(s_tag) and
          j["tag"][0]["name"] == "vmsweep:keep", j)
    st, _, raw, _ = call("GET", API + "/vms/" + U + "102/tags", headers=auth)
    check("no tags is {}", st == 200 and json.loads(raw) == {}, raw)
    st, j, _, _ = call("GET", API + "/tags", headers=auth)
    check("the tag list holds the markers",
          st == 200 and {"vmsweep:keep",
                         "vmsweep:expires=2030-01-01T00:00:00Z"} <=
          {t["name"] for t in j["tag"]}, j)

    # Removal refusals.
    def delete(i, extra="", h=auth):
        st, j, raw, _ = call("DELETE", API + "/vms/" + i + extra, headers=h)
        return st, j, raw

    s_run = sample("rhv_fault_vm_running.json")
    st, j, _ = delete(U + "101")
    check("deleting a running VM is 409 like the sample",
          st == 409 and j == s_run, (st, j))
    st, j, _ = delete(U + "109")
    check("deleting a paused VM is 409 VM is running",
          st == 409 and j == s_run, (st, j))
    st, j, _ = delete(U + "103")
    check("deleting a suspended VM is 409 'not down'",
          st == 409 and j["detail"] ==
          "[Cannot remove VM that its state is not down.\n"
          "-Please stop the VM first.]", (st, j))
    st, j, _ = delete(U + "104")
    check("deleting a delete-protected VM is 409 like the sample",
          st == 409 and j == sample("rhv_fault_delete_protected.json"),
          (st, j))
    st, j, _ = delete(U + "105")
    check("deleting a locked VM is 409 locked", st == 409 and j["detail"] ==
          "[Cannot remove VM: VM is locked. Please try again in a few "
          "minutes.]", (st, j))
    st, _, raw = delete(U + "999")
    check("deleting an unknown VM is 404 with an empty body",
          st == 404 and raw == b"", st)

    # Stop.
    s_fail = sample("rhv_action_failed.json")
    st, j, _, _ = call("POST", API + "/vms/" + U + "102/stop",
                       body=sample("rhv_stop_request.json"), headers=auth)
    check("stopping a down VM is 409 in the action fault shape",
          st == 409 and set(j) == set(s_fail) and
          set(j["fault"]) == set(s_fail["fault"]) and
          j["status"] == "failed", (st, j))
    st, j, _, _ = call("POST", API + "/vms/" + U + "105/stop", body={},
                       headers=auth)
    check("stopping a locked VM is 409 'VM is locked'",
          st == 409 and "VM is locked" in j["fault"]["detail"], j)
    st, j, _, _ = call("POST", API + "/vms/" + U + "101/stop", raw=b"junk",
                       headers=dict(auth, **{"Content-Type":
                                             "application/json"}))
    check("a stop body that is not an action is 400", st == 400, st)
    st, j, _, _ = call("POST", API + "/vms/" + U + "101/stop", body={},
                       headers=auth)
    s_ok = sample("rhv_action_complete.json")
    check("stop is 200 complete like the sample",
          st == 200 and set(j) == set(s_ok) and j["status"] == "complete" and
          set(j["job"]) == set(s_ok["job"]), (st, j))
    seen = []
    for _ in range(6):
        st, j, _, _ = call("GET", API + "/vms/" + U + "101", headers=auth)
        seen.append(j["status"])
        if j["status"] == "down":
            break
        st2, j2, _ = delete(U + "101")
        check("deleting while powering_down is 409 VM is running",
              st2 == 409 and j2 == s_run, (st2, j2))
    check("stop goes powering_down, then down",
          seen[0] == "powering_down" and seen[-1] == "down" and
          len(seen) <= 4, seen)
    st, j, _, _ = call("POST", API + "/v4/vms/" + U + "106/stop", body={},
                       headers=auth)
    check("stop under /v4", st == 200 and j["status"] == "complete", st)

    # Delete and linger.
    st, j, _ = delete(U + "101")
    check("deleting a down VM is 200 complete",
          st == 200 and j["status"] == "complete", (st, j))
    seen = []
    for _ in range(6):
        st, j, _, _ = call("GET", API + "/vms/" + U + "101", headers=auth)
        seen.append(j["status"] if st == 200 else st)
        if st == 404:
            break
    check("a deleted VM lingers image_locked, then 404",
          seen == ["image_locked", "image_locked", 404], seen)
    check("it is gone from /_sim/state", U + "101" not in state())
    st, j, _ = delete(U + "105", "?force=true")
    check("force=true removes a locked VM", st == 200, (st, j))
    st, j, _ = delete(U + "107", ";async=true")
    check("async=true as a matrix parameter is 202", st == 202, st)
    st, j, _ = delete(U + "107", ";force=false")
    check("a VM being removed is locked against a second DELETE",
          st == 409 and "locked" in j["detail"], (st, j))
    st, j, _ = delete(U + "107", ";force=true")
    check("force=true as a matrix parameter is accepted", st == 200, st)

    # /_sim/state.
    s = state()
    need = {"id", "name", "created", "power_state", "protected", "expires"}
    check("state entries carry the contract keys",
          all(need <= set(v) for v in s.values()))
    check("delete_protected, keep tag and comment marker protect",
          all(s[U + k]["protected"] is True for k in ("104", "106", "111")),
          [s[U + k]["protected"] for k in ("104", "106", "111")])
    check("a plain VM is not protected", s[U + "102"]["protected"] is False)
    check("expiry from a tag", s[U + "108"]["expires"] ==
          "2030-01-01T00:00:00Z", s[U + "108"])
    check("expiry from the description", s[U + "110"]["expires"] ==
          "2031-02-03T04:05:06Z", s[U + "110"])

    # Delete faults.
    def fault(qs):
        return call("POST", "/_sim/fault?" + qs)[0]

    fault("clear=1&set=rhv:delete-error")
    st, j, _ = delete(U + "112")
    check("delete-error: the DELETE is accepted", st == 200, st)
    seen = []
    for _ in range(5):
        st, j, _, _ = call("GET", API + "/vms/" + U + "112", headers=auth)
        seen.append(j["status"] if st == 200 else st)
    check("delete-error: image_locked, then back down for good",
          seen == ["image_locked", "image_locked", "down", "down", "down"],
          seen)
    fault("clear=1&set=rhv:delete-stuck")
    st, j, _ = delete(U + "113")
    check("delete-stuck: the DELETE is accepted", st == 200, st)
    fault("clear=1")
    seen = {call("GET", API + "/vms/" + U + "113", headers=auth)[1]["status"]
            for _ in range(8)}
    check("delete-stuck: image_locked forever", seen == {"image_locked"},
          seen)
    st, j, _ = delete(U + "113")
    check("delete-stuck: a second DELETE is 409 locked", st == 409, st)
    st, j, _ = delete(U + "113", "?force=true")
    check("delete-stuck: force is accepted but changes nothing",
          st == 200 and call("GET", API + "/vms/" + U + "113",
                             headers=auth)[1]["status"] == "image_locked")
    fault("set=rhv:503")
    st, _, raw, hd = call("GET", API + "/vms", headers=auth)
    check("an injected 503 is Apache's HTML page",
          st == 503 and hd.get("Content-Type", "").startswith("text/html"),
          (st, hd.get("Content-Type")))
    fault("clear=1")


def group_logout():
    auth = bearer()
    check("the token works before logout",
          call("GET", API + "/vms", headers=auth)[0] == 200)
    tok = auth["Authorization"][7:]
    st, j, _, _ = call("POST", "/ovirt-engine/services/sso-logout",
                       form={"scope": "ovirt-app-api", "token": tok})
    check("sso-logout is 200 without an error key",
          st == 200 and isinstance(j, dict) and "error" not in j, (st, j))
    check("the token is dead after logout",
          call("GET", API + "/vms", headers=auth)[0] == 401)
    st, j, _, _ = call("GET", "/ovirt-engine/services/sso-logout?token=nope")
    check("logging out an unknown token is harmless", st == 200, st)


def group_ttl():
    auth = bearer()
    codes = [call("GET", API + "/vms", headers=auth)[0] for _ in range(3)]
    check("a bearer token lasts --session-ttl requests, then 401",
          codes == [200, 200, 401], codes)
    check("Basic is not limited by it",
          call("GET", API + "/vms", headers=BASIC)[0] == 200)


def group_fast():
    auth = bearer()
    every, page = [], 1
    while page < 100:
        st, j, _, _ = call("GET", API + "/vms?search=" +
                           q("sortby name asc page %d" % page) + "&max=100",
                           headers=auth)
        if st != 200 or not j.get("vm"):
            break
        every += [v["id"] for v in j["vm"]]
        page += 1
    check("max=100 paging returns each of 500 VMs once",
          len(every) == 500 and len(set(every)) == 500, len(every))
    st, j, _, _ = call("GET", API + "/vms?search=" + q("status=up"),
                       headers=auth)
    vid = j["vm"][0]["id"]
    call("POST", API + "/vms/%s/stop" % vid, body={}, headers=auth)
    st, j, _, _ = call("GET", API + "/vms/" + vid, headers=auth)
    check("--delete-polls 0: stop ends down at once", j["status"] == "down",
          j["status"])
    st, j, _, _ = call("DELETE", API + "/vms/" + vid, headers=auth)
    st, _, _, _ = call("GET", API + "/vms/" + vid, headers=auth)
    check("--delete-polls 0: delete is gone at once", st == 404, st)
    prot = [v for v in state().values() if v["protected"]]
    check("a generated lab has protected VMs", len(prot) > 0, len(prot))


globals()["group_" + GROUP]()
print("#counts %d %d" % (passed, failed))
PY

# run_group NAME: run one group of checks against the running simulator.
run_group() {
	local out
	out=$(timeout 300 python3 "$IT_TMP/t.py" "$1" "$SIM_URL" "$SAMPLES" 2>&1)
	local rc=$?
	echo "$out" | grep -v '^#counts'
	local counts
	counts=$(echo "$out" | sed -n 's/^#counts //p')
	if [ -z "$counts" ] || [ $rc -ne 0 ]; then
		echo "FAIL - group $1 did not finish (rc $rc)"
		IT_FAIL=$((IT_FAIL + 1))
		return
	fi
	IT_PASS=$((IT_PASS + ${counts% *}))
	IT_FAIL=$((IT_FAIL + ${counts#* }))
}

sim_start --inventory "$IT_TMP/inv.json" --delete-polls 2 && run_group main
sim_start --generate rhv=10 --session-ttl 2 && run_group ttl
sim_start --generate rhv=10 && run_group logout
sim_start --generate rhv=500 --seed 3 --delete-polls 0 && run_group fast
sim_stop

it_finish
