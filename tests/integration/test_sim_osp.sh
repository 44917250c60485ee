#!/usr/bin/env bash
# Contract tests for the simulator's OpenStack side (Keystone v3, Nova
# 2.1, the minimal Glance/Neutron/Cinder answers) and its core (faults,
# latency, sessions, /_sim endpoints, concurrency, TLS, shutdown), all
# through real HTTP against build/asan/vmsweep-sim (SIM= for another).
#
# Shapes are compared with the sample bodies in the shared api/samples
# directory (VS_SHARED, default ../shared next to the repository); the
# shape checks are skipped when the samples are not there.
#
# Prints "ok"/"not ok" per check and a final "N passed, N failed" line;
# exits non-zero when anything failed.  Every wait is bounded.

set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SIM=${SIM:-$ROOT/build/asan/vmsweep-sim}
SHARED=${VS_SHARED:-$ROOT/../shared}
SAMPLES=$SHARED/api/samples
[ -d "$SAMPLES" ] || SAMPLES=
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vmsweep-simosp.XXXXXX")
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

sim_stop() {
	if [ -n "$SIM_PID" ]; then
		kill "$SIM_PID" 2>/dev/null
		# Bounded: a simulator that ignores SIGTERM gets SIGKILL.
		for _ in $(seq 1 50); do
			kill -0 "$SIM_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$SIM_PID" 2>/dev/null
		wait "$SIM_PID" 2>/dev/null
		SIM_PID=
		# A sanitizer build (SIM=...) reports on stderr.
		if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer' \
			"$TMP/sim.log" 2>/dev/null; then
			echo "not ok - simulator sanitizer report:"
			head -n 40 "$TMP/sim.log"
			FAIL=$((FAIL + 1))
		fi
	fi
}

# sim_start ARGS...: start the simulator on a free port, wait for it.
sim_start() {
	sim_stop
	rm -f "$TMP/port"
	"$SIM" --listen 127.0.0.1:0 --port-file "$TMP/port" "$@" \
		>"$TMP/sim.log" 2>&1 &
	SIM_PID=$!
	for _ in $(seq 1 100); do
		if [ -s "$TMP/port" ]; then
			PORT=$(cat "$TMP/port")
			return 0
		fi
		kill -0 "$SIM_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "not ok - simulator did not start: $*"
	cat "$TMP/sim.log"
	FAIL=$((FAIL + 1))
	SIM_PID=
	return 1
}

# Count the "ok"/"not ok" lines a check program prints.
tally() {
	local line
	while IFS= read -r line; do
		echo "$line"
		case "$line" in
		"ok "*) PASS=$((PASS + 1)) ;;
		"not ok "*) FAIL=$((FAIL + 1)) ;;
		esac
	done
}

ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; }

# run SECTION [ARGS]: run one section of the Python checks (bounded).
run() {
	local rc
	timeout 180 python3 "$TMP/checks.py" "$1" "$PORT" "${SAMPLES:-}" \
		"${@:2}" >"$TMP/section.out" 2>&1
	rc=$?
	tally <"$TMP/section.out"
	if [ $rc -ne 0 ]; then
		echo "not ok - section $1 crashed or timed out (rc $rc)"
		FAIL=$((FAIL + 1))
	fi
}

if [ ! -x "$SIM" ]; then
	echo "not ok - $SIM missing (make build/asan/vmsweep-sim)"
	echo "0 passed, 1 failed"
	exit 1
fi

cat >"$TMP/checks.py" <<'PY'
import http.client, json, os, re, socket, ssl, sys, threading, time
import urllib.parse

SECTION, PORT = sys.argv[1], int(sys.argv[2])
SAMPLES = sys.argv[3] if len(sys.argv) > 3 else ""
EXTRA = sys.argv[4:]
BASE = "http://127.0.0.1:%d" % PORT
USER, PASSWORD = "admin", "secret"


def check(name, cond, detail=""):
    print(("ok - " if cond else "not ok - ") + name +
          ("" if cond or not detail else "  [%s]" % str(detail)[:300]))
    sys.stdout.flush()
    return cond


def req(method, path, body=None, headers=None, timeout=10, conn=None):
    """One request; returns (status, headers dict lower-case, body bytes)."""
    h = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    c = conn or http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    b = r.read()
    hd = {k.lower(): v for k, v in r.getheaders()}
    if conn is None:
        c.close()
    return r.status, hd, b


def jreq(method, path, body=None, headers=None, **kw):
    s, h, b = req(method, path, body, headers, **kw)
    try:
        j = json.loads(b) if b else None
    except ValueError:
        j = None
    return s, h, j


def sample(name):
    if not SAMPLES:
        return None
    try:
        with open(os.path.join(SAMPLES, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def same_shape(name, got, want_sample, subset=False):
    """Compare key sets recursively for dicts (the first element for
    lists); subset: the sample's keys must all be there."""
    want = sample(want_sample)
    if want is None:
        print("ok - %s (skipped: no sample %s)" % (name, want_sample))
        return True

    def walk(g, w, path):
        if isinstance(w, dict):
            if not isinstance(g, dict):
                return "%s: want object" % path
            gk, wk = set(g), set(w)
            missing = wk - gk
            extra = gk - wk
            if missing or (extra and not subset):
                return "%s: missing %s extra %s" % (path, sorted(missing),
                                                    sorted(extra))
            for k in wk:
                if w[k] is None or g[k] is None:
                    continue
                e = walk(g[k], w[k], path + "." + k)
                if e:
                    return e
        elif isinstance(w, list) and w and isinstance(w[0], dict):
            if not isinstance(g, list):
                return "%s: want list" % path
            if g:
                return walk(g[0], w[0], path + "[0]")
        return None

    err = walk(got, want, "$")
    return check(name, err is None, err)


def token(user=USER, password=PASSWORD, project="ci"):
    s, h, j = jreq("POST", "/identity/v3/auth/tokens", {
        "auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": user, "domain": {"name": "Default"},
                     "password": password}}},
            "scope": {"project": {"name": project,
                                  "domain": {"name": "Default"}}}}})
    return s, h.get("x-subject-token"), j


def auth(tok, mv=None):
    h = {"X-Auth-Token": tok}
    if mv:
        h["OpenStack-API-Version"] = "compute " + mv
    return h


def state():
    return jreq("GET", "/_sim/state")[2]


def osp_by_id():
    return {v["id"]: v for v in state()["osp"]}


# ---------------------------------------------------------------------

def sec_keystone():
    s, h, j = jreq("GET", "/identity")
    check("GET /identity lists v3", s == 300 and
          j["versions"]["values"][0]["id"].startswith("v3"), (s, j))
    s, h, j = jreq("GET", "/identity/v3")
    check("GET /identity/v3 is the v3 document", s == 200 and
          j["version"]["status"] == "stable" and
          j["version"]["links"][0]["href"].endswith("/identity/v3/"), j)

    s, tok, j = token()
    check("password auth gives 201 and X-Subject-Token", s == 201 and tok, s)
    same_shape("token body has the sample's keys", j, "osp_token.json",
               subset=True)
    t = j["token"]
    types = {e["type"]: e for e in t["catalog"]}
    check("catalog has compute, image, network, volumev3, identity",
          {"compute", "image", "network", "volumev3",
           "identity"} <= set(types), sorted(types))
    nova = types["compute"]
    check("compute service is nova", nova["name"] == "nova")
    check("compute endpoints: public, internal, admin in RegionOne",
          sorted(e["interface"] for e in nova["endpoints"]) ==
          ["admin", "internal", "public"] and
          all(e["region"] == "RegionOne" and e["region_id"] == "RegionOne"
              for e in nova["endpoints"]))
    check("compute URL points back at the simulator",
          all(e["url"] == BASE + "/compute/v2.1" for e in nova["endpoints"]),
          nova["endpoints"][0]["url"])
    check("token scoped to the project by name",
          t["project"]["name"] == "ci" and t["user"]["name"] == USER)
    check("expires_at after issued_at", t["expires_at"] > t["issued_at"])

    # Host header decides the URLs in the catalog.
    s, h, j = jreq("POST", "/identity/v3/auth/tokens", {
        "auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": USER, "domain": {"id": "default"},
                     "password": PASSWORD}}}}},
        headers={"Host": "localhost:%d" % PORT})
    url = [e for e in j["token"]["catalog"] if e["type"] == "compute"][0]
    check("catalog URLs follow the Host header",
          url["endpoints"][0]["url"].startswith("http://localhost:%d/" % PORT),
          url["endpoints"][0]["url"])

    # By ids.
    uid = t["user"]["id"]
    pid = t["project"]["id"]
    s, h, j = jreq("POST", "/identity/v3/auth/tokens", {
        "auth": {"identity": {"methods": ["password"], "password": {
            "user": {"id": uid, "password": PASSWORD}}},
            "scope": {"project": {"id": pid}}}})
    check("password auth by user id and project id", s == 201 and
          j["token"]["project"]["id"] == pid, (s, j))

    # Application credentials.
    s, h, j = jreq("POST", "/identity/v3/auth/tokens", {
        "auth": {"identity": {"methods": ["application_credential"],
                              "application_credential": {
                                  "id": "sim-appcred", "secret": PASSWORD}}}})
    check("application credential by id", s == 201 and
          j["token"]["methods"] == ["application_credential"] and
          h.get("x-subject-token"), (s, j))
    s, h, j = jreq("POST", "/identity/v3/auth/tokens", {
        "auth": {"identity": {"methods": ["application_credential"],
                              "application_credential": {
                                  "name": "sim-appcred", "secret": PASSWORD,
                                  "user": {"name": USER,
                                           "domain": {"name": "Default"}}}}}})
    check("application credential by name and user", s == 201, (s, j))

    for what, body in [
        ("wrong password", {"auth": {"identity": {
            "methods": ["password"], "password": {"user": {
                "name": USER, "domain": {"name": "Default"},
                "password": "nope"}}}}}),
        ("unknown user", {"auth": {"identity": {
            "methods": ["password"], "password": {"user": {
                "name": "eve", "domain": {"name": "Default"},
                "password": PASSWORD}}}}}),
        ("wrong app credential secret", {"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {"id": "sim-appcred",
                                       "secret": "x"}}}}),
    ]:
        s, h, j = jreq("POST", "/identity/v3/auth/tokens", body)
        check("%s gives 401 with WWW-Authenticate" % what, s == 401 and
              h.get("www-authenticate", "").startswith("Keystone uri="), s)
        same_shape("%s: Keystone error body" % what, j,
                   "osp_keystone_error_401.json")
    s, h, j = jreq("POST", "/identity/v3/auth/tokens", b"{not json")
    check("malformed auth body gives 400", s == 400 and "error" in j, s)

    s, h, j = jreq("GET", "/identity/v3/auth/tokens",
                   headers={"X-Auth-Token": tok, "X-Subject-Token": tok})
    check("GET auth/tokens validates a token", s == 200 and
          h.get("x-subject-token") == tok and "catalog" in j["token"], s)
    s, h, j = jreq("GET", "/identity/v3/auth/tokens",
                   headers={"X-Auth-Token": tok, "X-Subject-Token": "bogus"})
    check("GET auth/tokens of an unknown token gives 404", s == 404, s)
    s, h, j = jreq("GET", "/identity/v3/auth/tokens",
                   headers={"X-Subject-Token": tok})
    check("GET auth/tokens without X-Auth-Token gives 401", s == 401, s)


def sec_nova_basics():
    s, tok, _ = token()
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail")
    check("Nova without a token gives 401", s == 401 and "error" in j, s)
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail",
                   headers={"X-Auth-Token": "bogus"})
    check("Nova with a bogus token gives 401", s == 401, s)

    s, h, j = jreq("GET", "/compute/v2.1/")
    check("GET /compute/v2.1/ version document", s == 200 and
          j["version"]["id"] == "v2.1" and j["version"]["version"] == "2.96"
          and j["version"]["min_version"] == "2.1", j)
    s, h, j = jreq("GET", "/compute/")
    check("GET /compute/ lists versions", s == 200 and
          j["versions"][0]["id"] == "v2.1", j)

    # Microversions.
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail?limit=5",
                   headers=auth(tok))
    srv = j["servers"][0]
    check("2.1 by default: header echoed", h.get("openstack-api-version") ==
          "compute 2.1" and h.get("x-openstack-nova-api-version") == "2.1",
          h)
    check("Vary names both microversion headers",
          "OpenStack-API-Version" in h.get("vary", "") and
          "X-OpenStack-Nova-API-Version" in h.get("vary", ""), h.get("vary"))
    check("2.1 has no tags, locked or description",
          not ({"tags", "locked", "description"} & set(srv)), sorted(srv))
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail?limit=5",
                   headers={"X-Auth-Token": tok,
                            "X-OpenStack-Nova-API-Version": "2.9"})
    srv = j["servers"][0]
    check("2.9 (legacy header) adds locked only", "locked" in srv and
          "tags" not in srv and "description" not in srv and
          h.get("x-openstack-nova-api-version") == "2.9", sorted(srv))
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail?limit=5",
                   headers=auth(tok, "2.19"))
    check("2.19 adds description", "description" in j["servers"][0] and
          "tags" not in j["servers"][0])
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail?limit=5",
                   headers=auth(tok, "2.26"))
    check("2.26 adds tags", "tags" in j["servers"][0])
    want = sample("osp_servers_detail_page1.json")
    if want:
        wk = set(want["servers"][0]) - {"fault"}
        check("2.26 server has every key of the sample server",
              wk <= set(j["servers"][0]), sorted(wk - set(j["servers"][0])))
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail?limit=1",
                   headers=auth(tok, "latest"))
    check("latest maps to 2.96", h.get("openstack-api-version") ==
          "compute 2.96", h.get("openstack-api-version"))
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail?limit=1",
                   headers=auth(tok, "2.200"))
    check("2.200 gives 406", s == 406 and "notAcceptable" in j, (s, j))
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail?limit=1",
                   headers=auth(tok, "two"))
    check("malformed microversion gives 400", s == 400, s)

    # /servers (brief).
    s, h, j = jreq("GET", "/compute/v2.1/servers?limit=3", headers=auth(tok))
    check("/servers entries are id, name, links",
          s == 200 and all(set(x) == {"id", "name", "links"}
                           for x in j["servers"]), j)

    # Errors and one server.
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail?marker=nope",
                   headers=auth(tok))
    check("unknown marker gives 400", s == 400, s)
    same_shape("unknown marker: badRequest body", j,
               "osp_error_badrequest_marker.json")
    check("badRequest message names the marker",
          j["badRequest"]["message"] == "marker [nope] not found", j)
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail?limit=-1",
                   headers=auth(tok))
    check("negative limit gives 400", s == 400, s)
    s, h, j = jreq("GET", "/compute/v2.1/servers/no-such-server",
                   headers=auth(tok))
    check("unknown server gives 404", s == 404, s)
    same_shape("404 itemNotFound body", j, "osp_error_itemnotfound.json")
    check("404 message like Nova's", j["itemNotFound"]["message"] ==
          "Instance no-such-server could not be found.", j)
    check("Nova errors are application/json; charset=UTF-8",
          h.get("content-type") == "application/json; charset=UTF-8",
          h.get("content-type"))
    any_id = state()["osp"][0]["id"]
    s, h, j = jreq("GET", "/compute/v2.1/servers/" + any_id,
                   headers=auth(tok, "2.26"))
    check("GET /servers/{id}", s == 200 and j["server"]["id"] == any_id, s)
    s, h, j = jreq("GET", "/compute/v2.1/servers/%s/tags" % any_id,
                   headers=auth(tok, "2.26"))
    check("GET /servers/{id}/tags", s == 200 and "tags" in j, s)

    # The project-id-in-path form.
    s, _, tj = jreq("GET", "/identity/v3/auth/tokens",
                    headers={"X-Auth-Token": tok, "X-Subject-Token": tok})
    pid = tj["token"]["project"]["id"]
    s, h, j = jreq("GET", "/compute/v2.1/%s/servers/detail?limit=2" % pid,
                   headers=auth(tok))
    check("project id in the path works", s == 200 and
          len(j["servers"]) == 2, s)
    nxt = j["servers_links"][0]["href"]
    check("its next link keeps the project id", nxt == BASE +
          "/compute/v2.1/%s/servers/detail?limit=2&marker=%s" %
          (pid, j["servers"][1]["id"]), nxt)
    check("its self links keep the project id",
          ("/v2.1/%s/servers/" % pid) in j["servers"][0]["links"][0]["href"])
    s, h, j = jreq("GET", "/compute/v2.1/%s/servers/detail" % ("0" * 32),
                   headers=auth(tok))
    check("another project's id in the path gives 400", s == 400, s)

    # Flavors, images, networks, volumes.
    s, h, j = jreq("GET", "/compute/v2.1/flavors/1", headers=auth(tok))
    check("GET /flavors/1", s == 200 and j["flavor"]["id"] == "1" and
          "ram" in j["flavor"], s)
    s, h, j = jreq("GET", "/compute/v2.1/flavors/99", headers=auth(tok))
    check("unknown flavor gives 404", s == 404 and "itemNotFound" in j, s)
    s, h, j = jreq("GET", "/compute/v2.1/flavors/detail", headers=auth(tok))
    check("GET /flavors/detail", s == 200 and len(j["flavors"]) >= 1, s)
    s, h, j = jreq("GET", "/image/v2/images", headers=auth(tok))
    check("GET /image/v2/images", s == 200 and isinstance(j["images"], list),
          s)
    img = j["images"][0]["id"]
    s, h, j = jreq("GET", "/image/v2/images/" + img, headers=auth(tok))
    check("GET /image/v2/images/{id}", s == 200 and j["id"] == img, s)
    for res, key in [("networks", "networks"), ("ports", "ports"),
                     ("security-groups", "security_groups"),
                     ("floatingips", "floatingips")]:
        s, h, j = jreq("GET", "/network/v2.0/" + res, headers=auth(tok))
        check("GET /network/v2.0/%s is an empty list" % res,
              s == 200 and j == {key: []}, (s, j))
    s, h, j = jreq("GET", "/volume/v3/%s/volumes/detail" % pid,
                   headers=auth(tok))
    check("GET /volume/v3/{project}/volumes/detail", s == 200 and
          j == {"volumes": []}, (s, j))
    s, h, j = jreq("GET", "/image/v2/images")
    check("Glance without a token gives 401", s == 401, s)


def walk(tok, limit, path="/compute/v2.1/servers/detail", extra=""):
    """Follow next links; returns (ids, pages, last page size, links)."""
    url = "%s?limit=%d%s" % (path, limit, extra)
    ids, pages, hrefs = [], 0, []
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=20)
    while url and pages < 100:
        s, h, b = req("GET", url, headers=auth(tok, "2.26"), conn=c)
        if s != 200:
            return None, pages, s, hrefs
        j = json.loads(b)
        ids += [x["id"] for x in j["servers"]]
        pages += 1
        links = j.get("servers_links") or []
        nxt = [l["href"] for l in links if l["rel"] == "next"]
        hrefs.append((nxt[0] if nxt else None, j["servers"]))
        url = nxt[0][len(BASE):] if nxt else None
    c.close()
    return ids, pages, len(hrefs[-1][1]), hrefs


def sec_paging():
    s, tok, _ = token()
    st = state()["osp"]
    n = len(st)
    check("generated %d servers" % n, n == int(EXTRA[0]), n)
    ids, pages, lastn, hrefs = walk(tok, 1000)
    check("limit=1000: three pages, all servers once",
          ids is not None and pages == 3 and sorted(ids) ==
          sorted(v["id"] for v in st) and lastn == n - 2000, (pages, lastn))
    check("no next link on a short last page", hrefs[-1][0] is None)
    first_next, first_servers = hrefs[0]
    check("next link exactly as Nova builds it", first_next == BASE +
          "/compute/v2.1/servers/detail?limit=1000&marker=" +
          first_servers[-1]["id"], first_next)
    ids, pages, lastn, hrefs = walk(tok, 500)
    check("limit=500: a full last page still has a next link, then an "
          "empty page without one", pages == 6 and lastn == 0 and
          hrefs[-2][0] is not None and hrefs[-1][0] is None,
          (pages, lastn))
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail?limit=5000",
                   headers=auth(tok))
    check("limit is capped at 1000", len(j["servers"]) == 1000 and
          "limit=5000" in j["servers_links"][0]["href"], len(j["servers"]))
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail", headers=auth(tok))
    check("no limit means max_limit 1000 with a next link",
          len(j["servers"]) == 1000 and "servers_links" in j)
    created = [x["created"] for x in j["servers"]]
    check("listed newest first", created == sorted(created, reverse=True))

    # name regex filter, compared with Python's regex over the state.
    for pat in ["^jenkins-", "^ci-build-[0-9a-f]{4}$", "keep", "^TEST_VM_1"]:
        ids, pages, lastn, hrefs = walk(
            tok, 1000, extra="&name=" + urllib.parse.quote(pat))
        want = sorted(v["id"] for v in st
                      if re.search(pat, v["name"], re.I))
        check("name regex %r selects %d servers" % (pat, len(want)),
              ids is not None and sorted(ids) == want,
              (len(ids or []), len(want)))
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail?name=%28",
                   headers=auth(tok))
    check("invalid name regex gives 400", s == 400, s)
    ids, pages, lastn, hrefs = walk(tok, 1000, extra="&status=ERROR")
    want = sorted(v["id"] for v in st if v["status"] == "ERROR")
    check("status=ERROR filter", ids is not None and sorted(ids) == want and
          len(want) > 0, (len(ids or []), len(want)))
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail?status=ERROR&limit=3",
                   headers=auth(tok))
    e = j["servers"][0]
    check("ERROR servers carry fault{code,message,created}",
          set(e.get("fault", {})) >= {"code", "message", "created"}, e)
    want2 = sample("osp_servers_detail_page2.json")
    if want2:
        s, h, j = jreq("GET",
                       "/compute/v2.1/servers/detail?status=ERROR&limit=1",
                       headers=auth(tok, "2.26"))
        wk = set(want2["servers"][0])
        check("ERROR server has every key of the page2 sample",
              wk <= set(j["servers"][0]), sorted(wk - set(j["servers"][0])))
    # tags filters at 2.26
    ids, _, _, _ = walk(tok, 1000, extra="&not-tags=vmsweep:keep")
    want = sorted(v["id"] for v in st if "vmsweep:keep" not in v["tags"])
    check("not-tags filter", ids is not None and sorted(ids) == want,
          (len(ids or []), len(want)))


def sec_delete():
    s, tok, _ = token()
    st = state()["osp"]
    H = auth(tok, "2.26")
    plain = [v for v in st if not v["locked"] and v["status"] in
             ("ACTIVE", "SHUTOFF")]
    victim = plain[0]["id"]
    s, h, b = req("DELETE", "/compute/v2.1/servers/" + victim, headers=H)
    check("DELETE gives 204 with no body", s == 204 and b == b"", s)
    for i in (1, 2):
        s, h, j = jreq("GET", "/compute/v2.1/servers/" + victim, headers=H)
        check("GET %d after DELETE shows task_state deleting" % i,
              s == 200 and j["server"]["OS-EXT-STS:task_state"] ==
              "deleting", (s, j and j.get("server", {}).get(
                  "OS-EXT-STS:task_state")))
        if i == 1:
            same_shape("deleting server has the sample's keys", {
                "servers": [j["server"]]}, "osp_servers_detail_deleting.json",
                subset=True)
            check("/_sim/state shows it deleting",
                  osp_by_id()[victim]["task_state"] == "deleting")
    s, h, j = jreq("GET", "/compute/v2.1/servers/" + victim, headers=H)
    check("then GET gives 404", s == 404 and "itemNotFound" in j, s)
    check("and /_sim/state no longer has it", victim not in osp_by_id())
    s, h, j = jreq("DELETE", "/compute/v2.1/servers/" + victim, headers=H)
    check("DELETE of a deleted server gives 404", s == 404, s)
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail?limit=1&marker=" +
                   victim, headers=H)
    check("a deleted server still works as a marker", s == 200, s)

    # A listing counts as a look too.
    v2 = plain[1]
    req("DELETE", "/compute/v2.1/servers/" + v2["id"], headers=H)
    seen = []
    for _ in range(3):
        ids, _, _, hrefs = walk(tok, 1000)
        seen.append(v2["id"] in ids)
    check("a deleting server is listed for 2 listings, then gone",
          seen == [True, True, False], seen)

    locked = [v for v in st if v["locked"]][0]["id"]
    s, h, j = jreq("DELETE", "/compute/v2.1/servers/" + locked, headers=H)
    check("DELETE of a locked server gives 409", s == 409, s)
    same_shape("409 conflictingRequest body", j,
               "osp_error_conflict_locked.json")
    check("409 message says locked", j["conflictingRequest"]["message"] ==
          "Instance %s is locked" % locked, j)
    check("locked server counts as protected in /_sim/state",
          osp_by_id()[locked]["protected"] is True)

    soft = [v for v in st if v["status"] == "SOFT_DELETED" and
            not v["locked"]]
    if check("inventory has SOFT_DELETED servers", len(soft) > 0):
        sid = soft[0]["id"]
        s, h, b = req("POST", "/compute/v2.1/servers/%s/action" % sid,
                      body={"forceDelete": None}, headers=H)
        check("forceDelete of a SOFT_DELETED server gives 202", s == 202, s)
        for _ in range(3):
            s, h, j = jreq("GET", "/compute/v2.1/servers/" + sid, headers=H)
        check("and it is gone after the polls", s == 404, s)
    active = [v for v in st if v["status"] == "ACTIVE" and
              not v["locked"]][-1]["id"]
    s, h, j = jreq("POST", "/compute/v2.1/servers/%s/action" % active,
                   body={"forceDelete": None}, headers=H)
    check("forceDelete of an ACTIVE server gives 409", s == 409 and
          "conflictingRequest" in j, s)
    s, h, j = jreq("POST", "/compute/v2.1/servers/%s/action" % active,
                   body={"nonsense": None}, headers=H)
    check("unknown action gives 400", s == 400 and "badRequest" in j, s)
    s, h, j = jreq("POST", "/compute/v2.1/servers/%s/action" % active,
                   body=b"[", headers=H)
    check("malformed action body gives 400", s == 400, s)
    s, h, j = jreq("POST", "/compute/v2.1/servers/%s/action" % active,
                   body={"os-stop": None}, headers=H)
    check("os-stop of an ACTIVE server gives 202", s == 202, s)
    s, h, j = jreq("POST", "/compute/v2.1/servers/%s/action" % active,
                   body={"os-stop": None}, headers=H)
    same_shape("os-stop of a stopped server: 409 like the sample", j,
               "osp_error_conflict_state.json")

    # Oversized bodies are refused, not buffered.
    big = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    try:
        s, h, j = jreq("POST", "/compute/v2.1/servers/%s/action" % active,
                       body=big, headers=H)
        check("a body over 1 MiB gives 413", s == 413, s)
    except (ConnectionError, socket.timeout) as e:
        check("a body over 1 MiB gives 413", False, e)

    # Reset restores the inventory and zeroes the stats.
    s, h, j = jreq("POST", "/_sim/reset?inventory=1")
    check("POST /_sim/reset?inventory=1", s == 200 and j["inventory"], j)
    check("the deleted server is back", victim in osp_by_id())
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail?limit=1",
                   headers=H)
    check("tokens are forgotten by an inventory reset", s == 401, s)


def sec_sim():
    s, tok, _ = token()
    st = state()
    check("/_sim/state has vmware, rhv, osp lists",
          set(st) >= {"vmware", "rhv", "osp"} and
          all(isinstance(st[k], list) for k in ("vmware", "rhv", "osp")))
    v = st["osp"][0]
    check("state VM keys", set(v) >= {"id", "name", "created", "power_state",
                                      "protected", "expires"}, sorted(v))
    rfc = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
    check("created is RFC 3339", all(rfc.match(x["created"])
                                     for x in st["osp"]))
    exp = [x for x in st["osp"] if x["expires"]]
    check("some servers carry an expiry, as RFC 3339",
          exp and all(rfc.match(x["expires"]) for x in exp), len(exp))
    prot = [x for x in st["osp"] if x["protected"]]
    check("protected iff locked or keep marker", all(
        x["protected"] == (x["locked"] or "vmsweep:keep" in x["tags"] or
                           "vmsweep:keep" in x["metadata"])
        for x in st["osp"]) and prot)
    names = [x["name"] for x in st["osp"]]
    check("names look like a lab",
          any(re.match(r"^test_vm_\d+$", n) for n in names) and
          any(re.match(r"^jenkins-\d+$", n) for n in names) and
          any(re.match(r"^ci-build-[0-9a-f]{4}$", n) for n in names))
    ages = [time.time() - time.mktime(time.strptime(x["created"],
                                                    "%Y-%m-%dT%H:%M:%SZ"))
            + time.timezone * 0 for x in st["osp"]]
    check("ages span minutes to months",
          min(ages) < 6 * 3600 and max(ages) > 30 * 86400,
          (min(ages), max(ages)))
    check("mixed states", {"ACTIVE", "SHUTOFF", "ERROR"} <=
          {x["status"] for x in st["osp"]})

    jreq("GET", "/compute/v2.1/servers/detail?limit=1", headers=auth(tok))
    s, h, j = jreq("GET", "/_sim/stats")
    check("/_sim/stats keys", s == 200 and set(j) >= {
        "requests", "connections", "tls_handshakes", "max_in_flight",
        "in_flight", "by_route", "by_status"}, sorted(j))
    check("by_route names the route", j["by_route"].get(
        "osp GET /servers/detail", 0) >= 1, j["by_route"])
    check("by_status counts statuses", j["by_status"].get("200", 0) >= 1)
    s, h, j = jreq("POST", "/_sim/reset")
    s, h, j = jreq("GET", "/_sim/stats")
    check("POST /_sim/reset zeroes the stats", j["requests"] <= 2 and
          "osp GET /servers/detail" not in j["by_route"], j)
    s, h, j = jreq("GET", "/_sim/nope")
    check("unknown /_sim endpoint gives 404", s == 404, s)
    s, h, j = jreq("GET", "/nowhere")
    check("unknown path gives 404", s == 404, s)


def sec_concurrency():
    # 256 connections at once, each held open by the latency; the
    # whole lot must finish in far less than 256 x latency.  The latency
    # is a second so that all 256 overlap even when the client's threads
    # and a sanitizer build of the simulator are slow to get going.
    n = 256
    results = [None] * n
    barrier = threading.Barrier(n, timeout=20)

    def one(i):
        try:
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=20)
            c.connect()
            barrier.wait()
            c.request("GET", "/compute/v2.1/")
            r = c.getresponse()
            r.read()
            results[i] = r.status
            c.close()
        except Exception as e:  # reported below
            results[i] = repr(e)

    jreq("POST", "/_sim/reset")
    t0 = time.time()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    dt = time.time() - t0
    bad = [r for r in results if r != 200]
    check("256 concurrent connections all served", not bad,
          bad[:3])
    check("in parallel (%.2fs for 256 x 1 s)" % dt, dt < 15, dt)
    s, h, j = jreq("GET", "/_sim/stats")
    check("stats saw >= 256 connections", j["connections"] >= 256,
          j["connections"])
    check("max_in_flight >= 200 (latency without a thread each)",
          j["max_in_flight"] >= 200, j["max_in_flight"])
    t0 = time.time()
    jreq("GET", "/_sim/stats")
    check("/_sim/* skips the latency", time.time() - t0 < 0.5)
    t0 = time.time()
    s, h, j = jreq("GET", "/compute/v2.1/")
    dt = time.time() - t0
    check("API requests get the latency (%.3fs)" % dt, dt >= 0.99, dt)


def set_faults(*specs):
    s, h, j = jreq("POST", "/_sim/fault", {"clear": True, "set": list(specs)})
    return s == 200


def sec_faults():
    s, tok, _ = token()
    H = auth(tok, "2.26")
    check("POST /_sim/fault", set_faults("osp:429"))
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail?limit=1", headers=H)
    check("429 fault: status and Retry-After", s == 429 and
          h.get("retry-after") == "1", (s, h.get("retry-after")))
    same_shape("429 body is overLimit like the sample", j,
               "osp_error_overlimit.json")
    check("retryAfter is a string", isinstance(
        (j or {}).get("overLimit", {}).get("retryAfter"), str), j)
    s, h, j = jreq("GET", "/_sim/state")
    check("/_sim/* never gets faults", s == 200)
    s, h, j = jreq("POST", "/identity/v3/auth/tokens", {})
    check("Keystone gets faults too, in its own format", s == 429 and
          "error" in j, (s, j))

    set_faults("osp:500")
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail", headers=H)
    check("500 fault: computeFault", s == 500 and "computeFault" in j, s)
    set_faults("osp:503")
    s, h, j = jreq("GET", "/compute/v2.1/servers/detail", headers=H)
    check("503 fault: serviceUnavailable", s == 503 and
          "serviceUnavailable" in j, s)
    set_faults("osp:502")
    s, h, b = req("GET", "/compute/v2.1/servers/detail", headers=H)
    check("502 fault: a gateway's HTML page", s == 502 and
          h.get("content-type", "").startswith("text/html"), s)

    set_faults("osp:drop")
    try:
        req("GET", "/compute/v2.1/servers/detail", headers=H, timeout=5)
        check("drop fault closes the connection", False, "got a response")
    except (http.client.RemoteDisconnected, ConnectionError,
            http.client.BadStatusLine) as e:
        check("drop fault closes the connection", True)
    except socket.timeout:
        check("drop fault closes the connection", False, "timed out")

    set_faults("osp:hang")
    t0 = time.time()
    try:
        req("GET", "/compute/v2.1/servers/detail", headers=H, timeout=1)
        check("hang fault never answers", False, "got a response")
    except socket.timeout:
        check("hang fault never answers", time.time() - t0 >= 0.9)
    except Exception as e:
        check("hang fault never answers", False, repr(e))

    set_faults("osp:500:0.5")
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    codes = [req("GET", "/compute/v2.1/", conn=c)[0] for _ in range(300)]
    c.close()
    n500 = codes.count(500)
    check("rate 0.5 fails about half (%d/300)" % n500, 90 < n500 < 210 and
          codes.count(200) == 300 - n500, n500)

    set_faults()
    st = state()["osp"]
    plain = [v for v in st if not v["locked"] and
             v["status"] in ("ACTIVE", "SHUTOFF")]
    set_faults("osp:delete-error")
    vid = plain[0]["id"]
    s, h, b = req("DELETE", "/compute/v2.1/servers/" + vid, headers=H)
    check("delete-error: the DELETE is accepted", s == 204, s)
    for _ in range(3):
        s, h, j = jreq("GET", "/compute/v2.1/servers/" + vid, headers=H)
    srv = j["server"] if s == 200 else {}
    check("delete-error: ends in ERROR with a fault", s == 200 and
          srv["status"] == "ERROR" and srv["OS-EXT-STS:task_state"] is None
          and set(srv.get("fault", {})) >= {"code", "message", "created"},
          (s, srv.get("status")))
    check("delete-error: /_sim/state shows ERROR",
          osp_by_id()[vid]["status"] == "ERROR")
    set_faults("osp:delete-stuck")
    vid = plain[1]["id"]
    req("DELETE", "/compute/v2.1/servers/" + vid, headers=H)
    for _ in range(6):
        s, h, j = jreq("GET", "/compute/v2.1/servers/" + vid, headers=H)
    check("delete-stuck: still deleting after 6 polls", s == 200 and
          j["server"]["OS-EXT-STS:task_state"] == "deleting", s)
    set_faults()
    s, h, j = jreq("POST", "/_sim/fault", {"set": ["osp:bogus"]})
    check("a bad fault spec gives 400", s == 400, s)
    s, h, j = jreq("GET", "/compute/v2.1/", headers=H)
    check("faults cleared", s == 200, s)


def sec_ttl():
    s, tok, _ = token()
    codes = [jreq("GET", "/compute/v2.1/servers?limit=1",
                  headers=auth(tok))[0] for _ in range(4)]
    check("--session-ttl 3: three requests, then 401",
          codes == [200, 200, 200, 401], codes)
    s, tok2, _ = token()
    s = jreq("GET", "/compute/v2.1/servers?limit=1", headers=auth(tok2))[0]
    check("a new token works again", s == 200, s)


def sec_tls():
    ca = EXTRA[0]
    ctx = ssl.create_default_context(cafile=ca)
    c = http.client.HTTPSConnection("127.0.0.1", PORT, timeout=10,
                                    context=ctx)
    c.request("POST", "/identity/v3/auth/tokens", body=json.dumps({
        "auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": USER, "domain": {"name": "Default"},
                     "password": PASSWORD}}}}}),
        headers={"Content-Type": "application/json"})
    r = c.getresponse()
    j = json.loads(r.read())
    url = [e for e in j["token"]["catalog"]
           if e["type"] == "compute"][0]["endpoints"][0]["url"]
    check("TLS: token over HTTPS", r.status == 201)
    check("TLS: catalog URLs are https", url.startswith("https://"), url)
    c.request("GET", "/_sim/stats")
    r = c.getresponse()
    j = json.loads(r.read())
    c.close()
    check("TLS: tls_handshakes counted", j["tls_handshakes"] >= 1, j)


def sec_inventory():
    st = {v["name"]: v for v in state()["osp"]}
    check("inventory file: all servers loaded", len(st) == 4, sorted(st))
    check("inventory: given id kept", st["db-primary"]["id"] ==
          "9b1c2d3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e")
    check("inventory: missing id generated",
          re.match(r"^[0-9a-f-]{36}$", st["ci-build-7f3a"]["id"]))
    check("inventory: locked protects", st["db-primary"]["protected"])
    check("inventory: metadata expiry", st["ci-build-7f3a"]["expires"] ==
          "2030-01-01T00:00:00Z", st["ci-build-7f3a"]["expires"])
    check("inventory: SOFT_DELETED kept", st["old-soft"]["status"] ==
          "SOFT_DELETED")
    check("inventory: created kept", st["test_vm_1"]["created"] ==
          "2024-05-01T04:01:32Z")
    check("inventory: rhv too", len(state()["rhv"]) == 1)


globals()["sec_" + SECTION]()
PY

# --- a large generated lab --------------------------------------------
if sim_start --generate osp=2500,vmware=3,rhv=3 --seed 7; then
	run keystone
	run nova_basics
	run paging 2500
	run sim
	sim_stop
fi

# --- deletes (a small lab, so every kind of server is easy to find) ---
if sim_start --generate osp=300,vmware=0,rhv=0 --seed 11; then
	run delete
	sim_stop
fi

# --- faults at run time -----------------------------------------------
if sim_start --generate osp=100,vmware=0,rhv=0 --seed 3; then
	run faults
	sim_stop
fi

# --- --fault on the command line, and the same seed gives the same lab -
if sim_start --generate osp=20,vmware=0,rhv=0 --fault all:503 --seed 5; then
	code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 \
		"http://127.0.0.1:$PORT/compute/v2.1/")
	[ "$code" = 503 ] && ok "--fault all:503 applies" ||
		notok "--fault all:503 applies (got $code)"
	curl -s -m 5 "http://127.0.0.1:$PORT/_sim/state" |
		python3 -c 'import json,sys; print("\n".join(v["id"]+v["name"]+v["created"][:13] for v in json.load(sys.stdin)["osp"]))' \
			>"$TMP/lab1"
	sim_stop
fi
if sim_start --generate osp=20,vmware=0,rhv=0 --seed 5; then
	curl -s -m 5 "http://127.0.0.1:$PORT/_sim/state" |
		python3 -c 'import json,sys; print("\n".join(v["id"]+v["name"]+v["created"][:13] for v in json.load(sys.stdin)["osp"]))' \
			>"$TMP/lab2"
	cmp -s "$TMP/lab1" "$TMP/lab2" && ok "one seed, one lab" ||
		notok "one seed, one lab"
	sim_stop
fi

# --- session TTL -------------------------------------------------------
if sim_start --generate osp=10,vmware=0,rhv=0 --session-ttl 3; then
	run ttl
	sim_stop
fi

# --- latency and 256 concurrent connections ----------------------------
if sim_start --generate osp=10,vmware=0,rhv=0 --latency 1000; then
	run concurrency
	sim_stop
fi

# --- TLS -----------------------------------------------------------------
CERTS=$ROOT/build/certs
if [ -r "$CERTS/server.pem" ] && [ -r "$CERTS/ca.pem" ]; then
	if sim_start --generate osp=5,vmware=0,rhv=0 \
		--tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key"; then
		run tls "$CERTS/ca.pem"
		sim_stop
	fi
else
	ok "TLS checks skipped (make certs)"
fi

# --- an inventory file, in JSON and in YAML ----------------------------
cat >"$TMP/inv.json" <<'EOF'
{"osp": [
  {"name": "db-primary", "id": "9b1c2d3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e",
   "status": "SHUTOFF", "locked": true, "created": "2023-05-03T10:00:00Z"},
  {"name": "ci-build-7f3a", "created": "2024-05-01T04:01:32Z",
   "metadata": {"vmsweep:expires": "2030-01-01T00:00:00Z"}},
  {"name": "old-soft", "status": "SOFT_DELETED", "tags": ["x"]},
  {"name": "test_vm_1", "created": "2024-05-01T04:01:32Z"}],
 "rhv": [{"name": "rhv-one", "delete_protected": true}]}
EOF
python3 - "$TMP/inv.json" "$TMP/inv.yaml" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
out = []
for plat, vms in d.items():
    out.append("%s:" % plat)
    for vm in vms:
        first = True
        for k, v in vm.items():
            lead = "  - " if first else "    "
            first = False
            out.append(lead + "%s: %s" % (k, json.dumps(v)))
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PY
for f in inv.json inv.yaml; do
	if sim_start --inventory "$TMP/$f"; then
		echo "# inventory $f"
		run inventory
		sim_stop
	fi
done

# --- the command line ----------------------------------------------------
for args in "--bogus" "--listen nope" "--fault osp:600" "--fault x:500" \
	"--fault osp:500:2" "--generate osp=x" "--latency abc" \
	"--tls-cert /nonexistent" "--inventory a --generate osp=1" \
	"--session-ttl -1" "extra"; do
	# shellcheck disable=SC2086
	timeout 5 "$SIM" $args >"$TMP/out" 2>"$TMP/err"
	rc=$?
	lines=$(wc -l <"$TMP/err")
	if [ $rc -eq 2 ] && [ "$lines" -eq 1 ]; then
		ok "bad arguments '$args': one line, exit 2"
	else
		notok "bad arguments '$args': rc=$rc, $lines lines: $(head -c 200 "$TMP/err")"
	fi
done
timeout 5 "$SIM" --inventory /nonexistent.json >/dev/null 2>"$TMP/err"
rc=$?
[ $rc -ne 0 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] &&
	ok "unreadable inventory: one line, non-zero exit" ||
	notok "unreadable inventory: rc=$rc"
timeout 5 "$SIM" --help >"$TMP/out" 2>&1 && grep -q -- --session-ttl "$TMP/out" &&
	ok "--help prints usage" || notok "--help prints usage"

# --- shutdown with hanging and delayed requests --------------------------
if sim_start --generate osp=5,vmware=0,rhv=0 --fault osp:hang --latency 100; then
	for _ in 1 2 3; do
		curl -s -m 20 "http://127.0.0.1:$PORT/compute/v2.1/" >/dev/null 2>&1 &
	done
	sleep 0.5
	t0=$(date +%s%N)
	kill "$SIM_PID"
	stopped=0
	for _ in $(seq 1 50); do
		if ! kill -0 "$SIM_PID" 2>/dev/null; then
			stopped=1
			break
		fi
		sleep 0.1
	done
	wait "$SIM_PID" 2>/dev/null
	rc=$?
	t1=$(date +%s%N)
	if [ $stopped = 1 ] && [ $rc -eq 0 ]; then
		ok "SIGTERM with hanging requests: clean exit in $(((t1 - t0) / 1000000)) ms"
	else
		notok "SIGTERM with hanging requests: stopped=$stopped rc=$rc"
	fi
	SIM_PID=
	wait 2>/dev/null
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
