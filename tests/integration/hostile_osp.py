#!/usr/bin/env python3
"""A hostile OpenStack endpoint for test_hostile.sh.

    hostile_osp.py PORT_FILE

Keystone and Nova on one loopback port, just enough for vmsweep's osp
provider to log in and list.  The first path segment picks what the
server list answers, so one server serves every case:

  /MODE/identity/v3/auth/tokens      201, a token, a catalog whose compute
                                     endpoint is /MODE/compute/v2.1
  /MODE/compute/v2.1/servers/detail  the hostile answer named by MODE:
    huge     a 80 MiB body (past any cap vmsweep has)
    deep     valid JSON nested 200000 levels deep
    types    entries with wrong types next to two good ones
    missing  entries without id or name next to two good ones
    utf8     names that are not UTF-8, and control characters
    notjson  an HTML page with status 200
"""
import http.server
import json
import os
import sys

OLD = "2020-01-01T00:00:00Z"


def good(i):
    return {"id": "good-%d" % i, "name": "test_good_%d" % i,
            "status": "SHUTOFF", "created": OLD, "tags": [], "metadata": {},
            "locked": False}


def servers(mode):
    if mode == "huge":
        return None
    if mode == "deep":
        n = 200000
        return b'{"servers": ' + b"[" * n + b"]" * n + b"}"
    if mode == "types":
        body = {"servers": [good(1), {"id": 5, "name": "test_x"},
                            {"id": "t2", "name": ["test_y"]},
                            {"id": "t3", "name": "test_z", "tags": {"a": 1}},
                            {"id": "t4", "name": "test_w", "metadata": [1]},
                            {"id": "t5", "name": "test_v", "created": 17},
                            "a string", None, 42, good(2)]}
        return json.dumps(body).encode()
    if mode == "missing":
        body = {"servers": [good(1), {"name": "test_noid"}, {"id": "noname"},
                            {}, good(2)]}
        return json.dumps(body).encode()
    if mode == "utf8":
        return (b'{"servers": [{"id": "u1", "name": "test_\xff\xfe_bad", '
                b'"status": "SHUTOFF", "created": "' + OLD.encode() + b'"}, '
                b'{"id": "u2", "name": "test_\\u001b[2J\\u0007ctl\\u007f", '
                b'"status": "SHUTOFF", "created": "' + OLD.encode() + b'"}, '
                b'{"id": "u3", "name": "test_\xed\xa0\x80_surrogate", '
                b'"status": "SHUTOFF", "created": "' + OLD.encode() + b'"}]}')
    if mode == "notjson":
        return b"<html><body>502 Bad Gateway</body></html>"
    return b'{"servers": []}'


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        mode = self.path.split("/")[1]
        host = self.headers.get("Host")
        if self.path.endswith("/identity/v3/auth/tokens"):
            tok = {"token": {
                "expires_at": "2099-01-01T00:00:00Z", "methods": ["password"],
                "catalog": [{"type": "compute", "name": "nova", "endpoints": [
                    {"interface": "public", "region": "RegionOne",
                     "region_id": "RegionOne",
                     "url": "http://%s/%s/compute/v2.1" % (host, mode)}]}]}}
            self.reply(201, json.dumps(tok).encode(),
                       [("X-Subject-Token", "hostile-token-0123456789")])
        else:
            self.reply(404, b"{}")

    def do_GET(self):
        mode = self.path.split("/")[1]
        if "/compute/v2.1/servers/detail" not in self.path:
            self.reply(404, b'{"itemNotFound": {"code": 404, "message": "no"}}')
            return
        body = servers(mode)
        if body is not None:
            self.reply(200, body)
            return
        # huge: announce and send 80 MiB; the client should stop reading.
        size = 80 * 1024 * 1024
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b'{"servers": [' + b" " * (1024 * 1024 - 13)
        try:
            self.wfile.write(chunk)
            pad = b" " * (1024 * 1024)
            for _ in range(79):
                self.wfile.write(pad)
        except OSError:
            self.close_connection = True

    do_DELETE = do_GET


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(tmp, sys.argv[1])
server.serve_forever()
