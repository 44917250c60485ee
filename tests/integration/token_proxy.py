#!/usr/bin/env python3
"""A recording HTTP proxy for the security test.

    token_proxy.py UPSTREAM_URL PORT_FILE SECRETS_FILE [REQUESTS_FILE]

Listens on a free loopback port (written to PORT_FILE), forwards every
request to UPSTREAM_URL unchanged (the Host header too, so the OpenStack
catalog the simulator builds from it points back here), and appends to
SECRETS_FILE, one per line, every credential that crosses it: the values
of Authorization, X-Auth-Token, X-Subject-Token and
vmware-api-session-id headers in either direction, and the tokens in
login answers (vSphere's bare string or {"value"}, oVirt's access_token).
The test then looks for each of them where they must never be.
REQUESTS_FILE, when given, receives each request line as sent
("METHOD raw-target"), JSON-encoded, one per line, so that a test can
check how ids were encoded in URLs.
"""
import http.client
import http.server
import json
import os
import sys
import threading
import urllib.parse

UPSTREAM = urllib.parse.urlsplit(sys.argv[1])
PORT_FILE, SECRETS_FILE = sys.argv[2], sys.argv[3]
REQUESTS_FILE = sys.argv[4] if len(sys.argv) > 4 else None
CRED_HEADERS = {"authorization", "x-auth-token", "x-subject-token",
                "vmware-api-session-id"}
lock = threading.Lock()
seen = set()


def record(value):
    value = value.strip()
    if not value or value in seen:
        return
    with lock:
        seen.add(value)
        with open(SECRETS_FILE, "a") as f:
            f.write(value + "\n")
    # "Bearer X" / "Basic X": X alone is the secret too.
    parts = value.split(None, 1)
    if len(parts) == 2 and parts[0].lower() in ("bearer", "basic"):
        record(parts[1])


def tokens_in_body(body):
    try:
        doc = json.loads(body)
    except ValueError:
        return
    if isinstance(doc, str):
        record(doc)
    elif isinstance(doc, dict):
        for k in ("value", "access_token", "token"):
            if isinstance(doc.get(k), str):
                record(doc[k])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        if REQUESTS_FILE:
            with lock:
                with open(REQUESTS_FILE, "a") as f:
                    f.write(json.dumps([self.command, self.path]) + "\n")
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        headers = {}
        for k, v in self.headers.items():
            if k.lower() in CRED_HEADERS:
                record(v)
            if k.lower() not in ("connection", "keep-alive",
                                 "transfer-encoding"):
                headers[k] = v
        conn = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port,
                                          timeout=30)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            self.close_connection = True
            return
        finally:
            conn.close()
        path = self.path.split("?")[0]
        if path.endswith("/session") or path.endswith("/oauth/token") \
                or path.endswith("/cis/session"):
            tokens_in_body(data)
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() in CRED_HEADERS:
                record(v)
            if k.lower() not in ("connection", "keep-alive",
                                 "transfer-encoding", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = forward


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
tmp = PORT_FILE + ".tmp"
with open(tmp, "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(tmp, PORT_FILE)
server.serve_forever()
