#!/usr/bin/env bash
# Contract tests for the vSphere half of vmsweep-sim: every route through
# real HTTP, shapes compared with the API notes' sample bodies, both API
# generations, the result cap, legacy mode, sessions, the stop and
# delete state machines, tags, VI/JSON createDate and the delete faults.
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

cat >"$IT_TMP/inv.json" <<'EOF'
{"vmware": [
  {"id": "vm-101", "name": "ci-build-on", "power_state": "POWERED_ON",
   "folder": "group-v1001", "cpu_count": 2, "memory_mib": 4096},
  {"id": "vm-102", "name": "ci-build-off", "power_state": "POWERED_OFF",
   "folder": "group-v1001", "created": "2024-05-02T09:14:03Z"},
  {"id": "vm-103", "name": "ci-susp", "power_state": "SUSPENDED",
   "folder": "group-v1002"},
  {"id": "vm-104", "name": "half-created", "power_state": "POWERED_OFF",
   "config_unavailable": true, "folder": "group-v1002"},
  {"id": "vm-105", "name": "golden-tmpl", "power_state": "POWERED_OFF",
   "template": true, "folder": "group-v1004"},
  {"id": "vm-106", "name": "keeper", "power_state": "POWERED_ON",
   "keep": true, "folder": "group-v1004"},
  {"id": "vm-107", "name": "expiring", "power_state": "POWERED_OFF",
   "expires": "2030-01-01T00:00:00Z", "folder": "group-v1003"},
  {"id": "vm-108", "name": "dup", "power_state": "POWERED_ON",
   "folder": "group-v1003"},
  {"id": "vm-109", "name": "dup", "power_state": "POWERED_OFF",
   "folder": "group-v1003"},
  {"id": "vm-110", "name": "no-age", "power_state": "POWERED_OFF",
   "created": null, "folder": "group-v1001"}
]}
EOF

cat >"$IT_TMP/t.py" <<'PY'
import base64, json, sys, urllib.error, urllib.request

GROUP, BASE, SAMPLES = sys.argv[1], sys.argv[2], sys.argv[3]
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


def call(method, path, body=None, headers=None, raw=None):
    """(status, parsed JSON or None, raw bytes, headers)."""
    h = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
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


BASIC = {"Authorization": "Basic " +
         base64.b64encode(b"admin@vsphere.local:secret").decode()}


def login():
    st, j, _, _ = call("POST", "/api/session", headers=BASIC)
    return {"vmware-api-session-id": j} if st == 201 else {}


def login_legacy():
    st, j, _, _ = call("POST", "/rest/com/vmware/cis/session", headers=BASIC)
    return {"vmware-api-session-id": j["value"]} if st == 200 else {}


def same_error_shape(j, s):
    """Top-level keys, messages[0] keys (and value.* for legacy)."""
    if not isinstance(j, dict) or set(j) != set(s):
        return False
    if "value" in s:
        j, s = j["value"], s["value"]
        if set(j) != set(s):
            return False
    return (isinstance(j.get("messages"), list) and j["messages"] and
            set(j["messages"][0]) == set(s["messages"][0]))


def err_is(st, j, status, etype, legacy=False):
    if st != status or not isinstance(j, dict):
        return False
    if legacy:
        return j.get("type") == ("com.vmware.vapi.std.errors." +
                                 etype.lower())
    return j.get("error_type") == etype


def state():
    return {v["id"]: v for v in call("GET", "/_sim/state")[1]["vmware"]}


def ids(lst):
    return sorted(v["vm"] for v in lst)


def group_main():
    # Sessions.
    st, j, _, hd = call("POST", "/api/session")
    check("session create without credentials is 401 UNAUTHENTICATED",
          err_is(st, j, 401, "UNAUTHENTICATED") and
          same_error_shape(j, sample("vmware_error_unauthenticated.json")),
          (st, j))
    check("401 carries a WWW-Authenticate challenge",
          hd.get("WWW-Authenticate", "").startswith("Basic"))
    bad = {"Authorization": "Basic " + base64.b64encode(b"admin:nope").decode()}
    st, j, _, _ = call("POST", "/api/session", headers=bad)
    check("session create with a bad password is 401", st == 401, st)
    st, j, _, _ = call("POST", "/api/session", headers=BASIC)
    check("session create is 201 with a bare JSON string",
          st == 201 and isinstance(j, str) and
          type(j) == type(sample("vmware_session_create.json")), (st, j))
    tok = {"vmware-api-session-id": j}
    st, j, _, _ = call("POST", "/rest/com/vmware/cis/session", headers=BASIC)
    check("legacy session create is 200 {value: token}",
          st == 200 and set(j) == set(sample(
              "vmware_session_create_legacy.json")) and
          isinstance(j["value"], str), (st, j))
    ltok = {"vmware-api-session-id": j["value"]}

    st, j, _, _ = call("GET", "/api/vcenter/vm")
    check("list without a session is 401 (/api shape)",
          err_is(st, j, 401, "UNAUTHENTICATED") and
          same_error_shape(j, sample("vmware_error_unauthenticated.json")))
    st, j, _, _ = call("GET", "/api/vcenter/vm",
                       headers={"vmware-api-session-id": "f" * 32})
    check("list with an unknown token is 401", st == 401, st)
    st, j, _, _ = call("GET", "/rest/vcenter/vm")
    check("legacy list without a session is 401 (legacy shape)",
          err_is(st, j, 401, "UNAUTHENTICATED", legacy=True) and
          same_error_shape(j, sample(
              "vmware_error_unauthenticated_legacy.json")), j)

    st, j, _, _ = call("GET", "/api/session", headers=tok)
    check("session get has the sample's keys",
          st == 200 and set(j) == set(sample("vmware_session_get.json")) and
          j["user"].endswith("\\admin"), (st, j))
    st, j, _, _ = call("POST", "/rest/com/vmware/cis/session?~action=get",
                       headers=ltok)
    check("legacy session get is wrapped",
          st == 200 and set(j["value"]) == set(sample(
              "vmware_session_get.json")), (st, j))

    # Listing and filters.
    s_list = sample("vmware_vm_list.json")
    allowed = set().union(*[set(v) for v in s_list])
    st, j, _, _ = call("GET", "/api/vcenter/vm", headers=tok)
    check("list is 200 and an array", st == 200 and isinstance(j, list))
    byid = {v["vm"]: v for v in j}
    check("list entries use only the sample's keys",
          all(set(v) <= allowed and {"vm", "name", "power_state"} <= set(v)
              for v in j), j)
    check("templates are not listed", "vm-105" not in byid, sorted(byid))
    check("all nine VMs are listed", len(j) == 9, len(j))
    check("config-unavailable VM omits cpu_count and memory_size_MiB",
          "cpu_count" not in byid["vm-104"] and
          "memory_size_MiB" not in byid["vm-104"], byid.get("vm-104"))
    check("other VMs carry cpu_count and memory_size_MiB",
          byid["vm-101"].get("cpu_count") == 2 and
          byid["vm-101"].get("memory_size_MiB") == 4096, byid["vm-101"])

    def lst(q, h=tok, legacy=False):
        st, j, _, _ = call("GET", ("/rest" if legacy else "/api") +
                           "/vcenter/vm?" + q, headers=h)
        if legacy:
            return st, (ids(j["value"]) if st == 200 else j)
        return st, (ids(j) if st == 200 else j)

    check("names is an exact match", lst("names=dup")[1] == ["vm-108",
                                                          "vm-109"])
    check("names is not a prefix match", lst("names=du")[1] == [])
    check("names values are ORed",
          lst("names=dup&names=keeper")[1] == ["vm-106", "vm-108", "vm-109"])
    check("power_states filters",
          lst("power_states=SUSPENDED")[1] == ["vm-103"])
    check("power_states values are ORed",
          lst("power_states=SUSPENDED&power_states=POWERED_ON")[1] ==
          ["vm-101", "vm-103", "vm-106", "vm-108"])
    check("filters are ANDed",
          lst("names=dup&power_states=POWERED_OFF")[1] == ["vm-109"])
    check("folders filters",
          lst("folders=group-v1001")[1] == ["vm-101", "vm-102", "vm-110"])
    check("vms filters", lst("vms=vm-103&vms=vm-104")[1] ==
          ["vm-103", "vm-104"])
    check("an unknown id in vms matches nothing, no error",
          lst("vms=vm-103&vms=vm-999999") == (200, ["vm-103"]))
    check("a template id in vms is not listed", lst("vms=vm-105")[1] == [])
    st, j = lst("power_states=RUNNING")
    check("a bad power_states value is 400 INVALID_ARGUMENT",
          err_is(st, j, 400, "INVALID_ARGUMENT"), (st, j))
    st, j, _, _ = call("GET", "/rest/vcenter/vm", headers=ltok)
    check("legacy list is {value: [...]}",
          st == 200 and set(j) == set(sample("vmware_vm_list_legacy.json"))
          and len(j["value"]) == 9, (st, j))
    check("legacy filter.names",
          lst("filter.names=dup", ltok, True)[1] == ["vm-108", "vm-109"])
    check("legacy indexed filter.names.1",
          lst("filter.names.1=dup&filter.names.2=keeper", ltok, True)[1] ==
          ["vm-106", "vm-108", "vm-109"])
    check("legacy filter.vms",
          lst("filter.vms=vm-103&filter.vms=vm-999999", ltok, True) ==
          (200, ["vm-103"]))
    check("legacy filter.power_states",
          lst("filter.power_states=SUSPENDED", ltok, True)[1] == ["vm-103"])

    # Folders.
    st, j, _, _ = call("GET", "/api/vcenter/folder?type=VIRTUAL_MACHINE",
                       headers=tok)
    check("folder list has {folder,name,type} entries",
          st == 200 and j and all(set(f) == {"folder", "name", "type"} and
                                  f["type"] == "VIRTUAL_MACHINE" for f in j),
          (st, j))
    fids = {f["folder"] for f in j} if st == 200 else set()
    check("folder list covers every VM's folder",
          {v["folder"] for v in state().values()} <= fids, fids)
    st, j, _, _ = call("GET", "/rest/vcenter/folder?filter.type="
                       "VIRTUAL_MACHINE", headers=ltok)
    check("legacy folder list is wrapped",
          st == 200 and {f["folder"] for f in j["value"]} == fids, (st, j))

    # Hosts, the last partition a client can split by.
    st, j, _, _ = call("GET", "/api/vcenter/host", headers=tok)
    check("host list has {host,name,connection_state,power_state} entries",
          st == 200 and j and all(set(h) == {"host", "name",
                                             "connection_state",
                                             "power_state"} for h in j),
          (st, j))
    parts = sum((lst("hosts=" + h["host"])[1] for h in j), [])
    check("the hosts filter partitions the list",
          sorted(parts) == sorted(byid), parts)
    st, j, _, _ = call("GET", "/rest/vcenter/host", headers=ltok)
    check("legacy host list is wrapped", st == 200 and j["value"], (st, j))

    # VM get.
    s_get = sample("vmware_vm_get.json")
    st, j, _, _ = call("GET", "/api/vcenter/vm/vm-101", headers=tok)
    check("VM get has the sample's keys",
          st == 200 and set(j) == set(s_get) and
          all(set(j[k]) == set(s_get[k]) for k in s_get
              if isinstance(s_get[k], dict)), (st, j))
    check("VM get reports name and power state",
          j["name"] == "ci-build-on" and j["power_state"] == "POWERED_ON" and
          j["cpu"]["count"] == 2 and j["memory"]["size_MiB"] == 4096)
    check("templates can still be read", call(
        "GET", "/api/vcenter/vm/vm-105", headers=tok)[0] == 200)
    st, j, _, _ = call("GET", "/api/vcenter/vm/vm-999", headers=tok)
    check("unknown VM is 404 NOT_FOUND in the sample's shape",
          err_is(st, j, 404, "NOT_FOUND") and
          same_error_shape(j, sample("vmware_error_notfound.json")) and
          j["messages"][0]["id"] == "com.vmware.api.vcenter.vm.not_found",
          (st, j))
    st, j, _, _ = call("GET", "/rest/vcenter/vm/vm-999", headers=ltok)
    check("unknown VM on /rest is 404 in the legacy shape",
          err_is(st, j, 404, "NOT_FOUND", legacy=True) and
          same_error_shape(j, sample("vmware_error_notfound_legacy.json")),
          (st, j))
    st, j, _, _ = call("GET", "/rest/vcenter/vm/vm-101", headers=ltok)
    check("legacy VM get is wrapped",
          st == 200 and set(j["value"]) == set(s_get), st)

    # Hostile ids.
    for bad_id in ("..%2F..%2Fetc%2Fpasswd", "x" * 4000,
                   "vm-101'%22<>", "vm-101%00junk"):
        st, j, _, _ = call("GET", "/api/vcenter/vm/" + bad_id, headers=tok)
        check("hostile id %r is refused" % bad_id[:20],
              st in (400, 404, 414), st)
    # A decoded NUL must not cut the id short: vm-102%00x is not vm-102.
    st, j, _, _ = call("GET", "/api/vcenter/vm/vm-101%00junk", headers=tok)
    check("an id with %00 is 400 in the vSphere error shape",
          st == 400 and isinstance(j, dict) and "error_type" in j, (st, j))
    st, j, _, _ = call("DELETE", "/api/vcenter/vm/vm-102%00x", headers=tok)
    check("a delete of an id with %00 is 400", st == 400, (st, j))
    check("... and the VM the cut id names is still there",
          "vm-102" in state())
    st, j, _, _ = call("GET", "/api/vcenter/vm?names=ci-build-on%00x",
                       headers=tok)
    check("a query value with %00 is 400", st == 400, (st, j))
    st, j, _, _ = call("GET", "/api/vcenter/vm/vm-101%2500", headers=tok)
    check("an escaped %2500 is an ordinary unknown id", st == 404, st)

    # Power.
    st, j, _, _ = call("GET", "/api/vcenter/vm/vm-102/power", headers=tok)
    check("power get of an off VM matches the sample",
          st == 200 and j == sample("vmware_power_get.json"), j)
    st, j, _, _ = call("GET", "/api/vcenter/vm/vm-101/power", headers=tok)
    check("power get of an on VM has no clean_power_off",
          st == 200 and j == {"state": "POWERED_ON"}, j)
    st, j, _, _ = call("DELETE", "/api/vcenter/vm/vm-101", headers=tok)
    check("delete of a powered-on VM is 400 NOT_ALLOWED_IN_CURRENT_STATE",
          err_is(st, j, 400, "NOT_ALLOWED_IN_CURRENT_STATE") and
          same_error_shape(j, sample("vmware_error_delete_powered_on.json")),
          (st, j))
    st, _, raw, _ = call("POST", "/api/vcenter/vm/vm-101/power?action=stop",
                         headers=tok)
    check("stop is 204 with no body", st == 204 and raw == b"", st)
    st, j, _, _ = call("GET", "/api/vcenter/vm/vm-101/power", headers=tok)
    check("the stopped VM is POWERED_OFF", j == {"state": "POWERED_OFF",
                                                "clean_power_off": True}, j)
    st, j, _, _ = call("POST", "/api/vcenter/vm/vm-101/power?action=stop",
                       headers=tok)
    check("stop of an off VM is 400 ALREADY_IN_DESIRED_STATE",
          err_is(st, j, 400, "ALREADY_IN_DESIRED_STATE") and
          same_error_shape(j, sample("vmware_error_already_powered_off.json")),
          (st, j))
    st, j, _, _ = call("POST", "/rest/vcenter/vm/vm-101/power/stop",
                       headers=ltok)
    check("legacy stop of an off VM is 400 already_in_desired_state",
          err_is(st, j, 400, "ALREADY_IN_DESIRED_STATE", legacy=True), j)
    st, j, _, _ = call("POST", "/api/vcenter/vm/vm-101/power", headers=tok)
    check("power POST without action is 400", st == 400, st)

    # Delete.
    st, _, raw, _ = call("DELETE", "/api/vcenter/vm/vm-101", headers=tok)
    check("delete of an off VM is 204", st == 204 and raw == b"", st)
    st, j, _, _ = call("GET", "/api/vcenter/vm/vm-101", headers=tok)
    check("a deleted VM is 404", st == 404, st)
    st, j, _, _ = call("DELETE", "/api/vcenter/vm/vm-101", headers=tok)
    check("deleting it again is 404 NOT_FOUND",
          err_is(st, j, 404, "NOT_FOUND"), st)
    check("a deleted VM leaves /_sim/state", "vm-101" not in state())
    check("a deleted VM leaves the list", "vm-101" not in ids(
        call("GET", "/api/vcenter/vm", headers=tok)[1]))

    # Suspended VM through the legacy API.
    st, _, raw, _ = call("POST", "/rest/vcenter/vm/vm-103/power/stop",
                         headers=ltok)
    check("legacy stop works on a SUSPENDED VM (200)", st == 200, st)
    st, j, _, _ = call("GET", "/rest/vcenter/vm/vm-103/power", headers=ltok)
    check("legacy power get is wrapped and off",
          st == 200 and j["value"]["state"] == "POWERED_OFF", j)
    st, _, raw, _ = call("DELETE", "/rest/vcenter/vm/vm-103", headers=ltok)
    check("legacy delete is 200", st == 200, st)
    st, j, _, _ = call("DELETE", "/rest/vcenter/vm/vm-103", headers=ltok)
    check("legacy delete of a gone VM is 404 (legacy shape)",
          err_is(st, j, 404, "NOT_FOUND", legacy=True), (st, j))

    # Tags.
    objs = [{"type": "VirtualMachine", "id": i}
            for i in ("vm-106", "vm-107", "vm-102", "vm-999")]
    st, j, _, _ = call("POST", "/api/cis/tagging/tag-association?action="
                       "list-attached-tags-on-objects",
                       body={"object_ids": objs}, headers=tok)
    check("list-attached-tags-on-objects answers [{object_id, tag_ids}]",
          st == 200 and all(set(e) == {"object_id", "tag_ids"} for e in j),
          (st, j))
    att = {e["object_id"]["id"]: e["tag_ids"] for e in j} if st == 200 else {}
    check("unknown objects are left out", "vm-999" not in att, att)
    check("an untagged VM has no tag ids", att.get("vm-102") == [], att)
    check("the keep VM has one tag", len(att.get("vm-106", [])) == 1, att)

    def tag(tid, legacy=False):
        p = ("/rest/com/vmware/cis/tagging/tag/id:" if legacy
             else "/api/cis/tagging/tag/") + tid
        st, j, _, _ = call("GET", p, headers=ltok if legacy else tok)
        return st, (j["value"] if legacy and st == 200 else j)

    st, t = tag(att["vm-106"][0])
    check("tag get has the sample's keys",
          st == 200 and set(t) == set(sample("vmware_tag_get.json")), t)
    check("the keep tag is named vmsweep:keep", t.get("name") == "vmsweep:keep")
    st, t2 = tag(att["vm-107"][0])
    check("the expiry tag carries an RFC 3339 time",
          t2.get("name") == "vmsweep:expires=2030-01-01T00:00:00Z", t2)
    st, t3 = tag(att["vm-106"][0], legacy=True)
    check("legacy tag get (id:...) is wrapped", st == 200 and t3 == t, t3)
    st, j, _, _ = call("GET", "/api/cis/tagging/tag/urn:nope", headers=tok)
    check("unknown tag is 404", st == 404, st)
    st, j, _, _ = call("GET", "/api/cis/tagging/tag", headers=tok)
    check("tag list holds the ids",
          st == 200 and set(att["vm-106"] + att["vm-107"]) <= set(j), j)
    st, c, _, _ = call("GET", "/api/cis/tagging/category/" +
                       t["category_id"], headers=tok)
    check("category get has id,name,description,cardinality,"
          "associable_types,used_by",
          st == 200 and set(c) == {"id", "name", "description", "cardinality",
                                   "associable_types", "used_by"} and
          c["name"] == "vmsweep", c)
    st, j, _, _ = call("GET", "/api/cis/tagging/category", headers=tok)
    check("category list holds the category", st == 200 and
          t["category_id"] in j, j)
    st, j, _, _ = call("POST", "/api/cis/tagging/tag-association?action="
                       "list-attached-tags",
                       body=sample("vmware_tag_list_attached_request.json")
                       | {"object_id": {"type": "VirtualMachine",
                                        "id": "vm-106"}}, headers=tok)
    check("list-attached-tags answers a list of ids like the sample",
          st == 200 and j == att["vm-106"] and
          all(isinstance(x, str) for x in
              sample("vmware_tag_list_attached_response.json")), (st, j))
    st, j, _, _ = call("POST", "/api/cis/tagging/tag-association?action="
                       "list-attached-objects",
                       body={"tag_id": att["vm-106"][0]}, headers=tok)
    check("list-attached-objects finds the VM",
          st == 200 and {"type": "VirtualMachine", "id": "vm-106"} in j, j)
    st, j, _, _ = call("POST", "/rest/com/vmware/cis/tagging/tag-association"
                       "?~action=list-attached-tags-on-objects",
                       body={"object_ids": objs[:1]}, headers=ltok)
    check("legacy ~action form is wrapped",
          st == 200 and j["value"][0]["tag_ids"] == att["vm-106"], (st, j))
    st, j, _, _ = call("POST", "/api/cis/tagging/tag-association?action="
                       "list-attached-tags-on-objects", raw=b"{nope",
                       headers=tok)
    check("a malformed body is 400 INVALID_ARGUMENT",
          err_is(st, j, 400, "INVALID_ARGUMENT"), (st, j))
    st, j, _, _ = call("POST", "/api/cis/tagging/tag-association?action="
                       "list-attached-tags-on-objects",
                       raw=b" " * (2 * 1024 * 1024), headers=tok)
    check("an oversized body is 413", st == 413, st)

    # VI/JSON.
    vi = "/sdk/vim25/8.0.1.0"
    st, j, _, hd = call("POST", vi + "/SessionManager/SessionManager/Login",
                        body={"userName": "admin@vsphere.local",
                              "password": "nope"})
    check("VI/JSON login with a bad password fails", st >= 400 and
          j.get("_typeName") == "InvalidLogin", (st, j))
    st, j, _, hd = call("POST", vi + "/SessionManager/SessionManager/Login",
                        body={"userName": "admin@vsphere.local",
                              "password": "secret"})
    vitok = hd.get("vmware-api-session-id")
    check("VI/JSON login returns the token in vmware-api-session-id",
          st == 200 and vitok and j.get("_typeName") == "UserSession",
          (st, j))
    st, j, _, _ = call("GET", vi + "/VirtualMachine/vm-102/config",
                       headers={"vmware-api-session-id": vitok})
    check("VI/JSON config carries createDate",
          st == 200 and j.get("createDate", "").startswith(
              "2024-05-02T09:14:03"), (st, j))
    check("createDate matches /_sim/state",
          state()["vm-102"]["created"] == "2024-05-02T09:14:03Z")
    st, j, _, _ = call("GET", vi + "/VirtualMachine/vm-102/config",
                       headers=tok)
    check("VI/JSON accepts an /api session token", st == 200, st)
    st, j, _, _ = call("GET", vi + "/VirtualMachine/vm-102/config")
    check("VI/JSON without a session is 401 NotAuthenticated",
          st == 401 and j.get("_typeName") == "NotAuthenticated", (st, j))
    st, j, _, _ = call("GET", vi + "/VirtualMachine/vm-999/config",
                       headers=tok)
    check("VI/JSON unknown VM is ManagedObjectNotFound",
          st == 500 and j.get("_typeName") == "ManagedObjectNotFound", j)
    st, j, _, _ = call("GET", vi + "/VirtualMachine/vm-110/config",
                       headers=tok)
    check("a VM of unknown age has no createDate",
          st == 200 and "createDate" not in j, j)
    st, j, raw, _ = call("GET", vi + "/VirtualMachine/vm-104/config",
                         headers=tok)
    check("an unavailable config reads as null", st == 200 and raw == b"null",
          raw)
    st, j, _, _ = call("GET", "/sdk/vim25/latest/VirtualMachine/vm-102/config",
                       headers=tok)
    check("a malformed release is 404", st == 404, st)

    # /_sim/state.
    s = state()
    need = {"id", "name", "created", "power_state", "protected", "expires"}
    check("state entries carry the contract keys",
          all(need <= set(v) for v in s.values()), s)
    check("the keep-tagged VM is protected", s["vm-106"]["protected"] is True)
    check("a plain VM is not protected", s["vm-102"]["protected"] is False)
    check("the expiry is reported",
          s["vm-107"]["expires"] == "2030-01-01T00:00:00Z", s["vm-107"])

    # Unknown paths.
    st, j, _, _ = call("GET", "/api/vcenter/nope", headers=tok)
    check("unknown /api path is 404 httpNotFound",
          st == 404 and j["messages"][0]["id"] ==
          "com.vmware.vapi.rest.httpNotFound", (st, j))

    # Faults, switched on at run time.
    def fault(q):
        return call("POST", "/_sim/fault?" + q)[0]

    check("fault switch accepted", fault("clear=1&set=vmware:delete-error")
          == 200)
    st, j, _, _ = call("DELETE", "/api/vcenter/vm/vm-102", headers=tok)
    check("delete-error: DELETE is 500 ERROR", err_is(st, j, 500, "ERROR"),
          (st, j))
    check("delete-error: the VM is still there",
          call("GET", "/api/vcenter/vm/vm-102", headers=tok)[0] == 200)
    st, j, _, _ = call("DELETE", "/rest/vcenter/vm/vm-102", headers=ltok)
    check("delete-error on /rest is 500 error",
          err_is(st, j, 500, "ERROR", legacy=True), (st, j))
    fault("clear=1&set=vmware:delete-stuck")
    st, j, _, _ = call("DELETE", "/api/vcenter/vm/vm-109", headers=tok)
    check("delete-stuck: DELETE is 500 RESOURCE_BUSY",
          err_is(st, j, 500, "RESOURCE_BUSY"), (st, j))
    fault("clear=1")
    st, j, _, _ = call("DELETE", "/api/vcenter/vm/vm-109", headers=tok)
    check("delete-stuck: the VM stays busy after the fault is cleared",
          err_is(st, j, 500, "RESOURCE_BUSY"), (st, j))
    st, j, _, _ = call("DELETE", "/rest/vcenter/vm/vm-109", headers=ltok)
    check("delete-stuck on /rest is 400 resource_busy",
          err_is(st, j, 400, "RESOURCE_BUSY", legacy=True), (st, j))
    check("delete-stuck: the VM is still listed", "vm-109" in ids(
        call("GET", "/api/vcenter/vm", headers=tok)[1]))
    st, _, _, _ = call("DELETE", "/api/vcenter/vm/vm-102", headers=tok)
    check("with faults cleared the delete succeeds", st == 204, st)
    fault("set=vmware:503")
    st, j, _, _ = call("GET", "/api/vcenter/vm", headers=tok)
    check("injected 503 is SERVICE_UNAVAILABLE",
          err_is(st, j, 503, "SERVICE_UNAVAILABLE"), (st, j))
    fault("clear=1&set=vmware:502")
    st, _, raw, hd = call("GET", "/api/vcenter/vm", headers=tok)
    check("injected 502 is a proxy's HTML page",
          st == 502 and hd.get("Content-Type", "").startswith("text/html"),
          (st, hd.get("Content-Type")))
    fault("clear=1&set=vmware:429")
    st, _, raw, hd = call("GET", "/api/vcenter/vm", headers=tok)
    check("injected 429 carries Retry-After",
          st == 429 and hd.get("Retry-After"), (st, dict(hd)))
    fault("clear=1")

    # Logout.
    st, _, raw, _ = call("DELETE", "/api/session", headers=tok)
    check("logout is 204", st == 204, st)
    st, j, _, _ = call("GET", "/api/session", headers=tok)
    check("the token is dead after logout", st == 401, st)
    st, _, raw, _ = call("DELETE", "/rest/com/vmware/cis/session",
                         headers=ltok)
    check("legacy logout is 200", st == 200, st)


def group_cap():
    tok = login()
    ltok = login_legacy()
    st, j, _, _ = call("GET", "/api/vcenter/vm", headers=tok)
    check("over the cap /api is 500 UNABLE_TO_ALLOCATE_RESOURCE",
          err_is(st, j, 500, "UNABLE_TO_ALLOCATE_RESOURCE") and
          same_error_shape(j, sample("vmware_error_too_many_vms.json")) and
          j["messages"][0]["id"] ==
          "com.vmware.api.vcenter.vm.too_many_matches", (st, j))
    st, j, _, _ = call("GET", "/rest/vcenter/vm", headers=ltok)
    check("over the cap /rest is 400 unable_to_allocate_resource",
          err_is(st, j, 400, "UNABLE_TO_ALLOCATE_RESOURCE", legacy=True) and
          same_error_shape(j, sample("vmware_error_too_many_vms_legacy.json")),
          (st, j))
    folders = [f["folder"] for f in call(
        "GET", "/api/vcenter/folder?type=VIRTUAL_MACHINE", headers=tok)[1]]
    seen, capped = [], 0
    for ps in ("POWERED_ON", "POWERED_OFF", "SUSPENDED"):
        st, j, _, _ = call("GET", "/api/vcenter/vm?power_states=" + ps,
                           headers=tok)
        if st == 200:
            seen += ids(j)
            continue
        capped += 1
        for f in folders:
            st, j, _, _ = call("GET", "/api/vcenter/vm?power_states=%s"
                               "&folders=%s" % (ps, f), headers=tok)
            check("partition %s/%s fits under the cap" % (ps, f), st == 200
                  and len(j) <= 4000, st)
            seen += ids(j) if st == 200 else []
    check("at least one power state needed the folder split", capped >= 1)
    want = sorted(i for i, v in state().items() if not v.get("template"))
    check("the partitions add up to the whole inventory, once each",
          sorted(seen) == want, (len(seen), len(want)))


def group_legacy():
    st, j, _, _ = call("POST", "/api/session", headers=BASIC)
    check("legacy mode: /api/session is 404 httpNotFound",
          st == 404 and j["messages"][0]["id"] ==
          "com.vmware.vapi.rest.httpNotFound", (st, j))
    st, j, _, _ = call("GET", "/api/vcenter/vm")
    check("legacy mode: /api/vcenter/vm is 404", st == 404, st)
    st, j, _, _ = call("POST", "/sdk/vim25/8.0.1.0/SessionManager/"
                       "SessionManager/Login",
                       body={"userName": "admin", "password": "secret"})
    check("legacy mode: no VI/JSON", st == 404, st)
    ltok = login_legacy()
    check("legacy mode: /rest session works", bool(ltok))
    st, j, _, _ = call("GET", "/rest/vcenter/vm", headers=ltok)
    check("legacy mode: /rest list works",
          st == 200 and isinstance(j["value"], list) and j["value"], st)


def group_ttl():
    tok = login()
    codes = [call("GET", "/api/vcenter/vm", headers=tok)[0] for _ in range(4)]
    check("a token lasts --session-ttl requests, then 401",
          codes == [200, 200, 200, 401], codes)
    st, j, _, _ = call("GET", "/rest/vcenter/vm", headers=tok)
    check("the expired token is 401 on /rest in the legacy shape",
          err_is(st, j, 401, "UNAUTHENTICATED", legacy=True), (st, j))
    tok = login()
    check("a new login works again",
          call("GET", "/api/vcenter/vm", headers=tok)[0] == 200)


def group_flagfault():
    tok = login()
    off = [v["vm"] for v in call("GET", "/api/vcenter/vm?power_states="
                                 "POWERED_OFF", headers=tok)[1]]
    st, j, _, _ = call("DELETE", "/api/vcenter/vm/" + off[0], headers=tok)
    check("--fault vmware:delete-error makes DELETE fail with ERROR",
          err_is(st, j, 500, "ERROR"), (st, j))
    check("... and the VM stays", off[0] in state())


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

sim_start --inventory "$IT_TMP/inv.json" && run_group main
sim_start --generate vmware=10000 --seed 7 --vsphere-cap 4000 &&
	run_group cap
sim_start --vsphere-legacy --generate vmware=20 && run_group legacy
sim_start --generate vmware=5 --session-ttl 3 && run_group ttl
sim_start --generate vmware=30 --fault vmware:delete-error &&
	run_group flagfault
sim_stop

it_finish
