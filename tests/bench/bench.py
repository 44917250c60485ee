#!/usr/bin/env python3
"""vmsweep's benchmark: the real binary against the simulator.

Each scenario starts one simulator per platform (so that /_sim/stats
counts one provider's requests, connections and TLS handshakes), writes a
configuration into a temporary directory, runs build/vmsweep once and
reads:

  wall      the whole process, start to exit
  phase     the delete (or probe) phase, from the report: the first VM's
            start to the last VM's end (fan-out, retries, confirmation)
  bound     the latency bound: mutating requests x L / W (see
            docs/performance.md); the mutating requests are counted by the
            simulators (stop/power actions, DELETE, forceDelete)
  cpu       user + sys of the vmsweep process (wait4)
  rss       its peak resident set (wait4)
  conns     connections each simulator accepted from vmsweep, and how
            many of them were TLS handshakes; auth is the number of
            logins (the first one included)

With --repeat N each scenario runs N times, every time against fresh
simulators; the table shows the median of each timed figure (wall,
phase, cpu, sim cpu, RSS) and, in "phase/bd range", the lowest and
highest ratio.  Request and connection counts are the first run's (they
do not change from run to run).

Nothing here asserts: a benchmark reports, docs/performance.md holds the
targets.  Standard library only.
"""
import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import ssl

PLATFORMS = ("osp", "rhv", "vmware")

# Routes that log in (the first login is counted too).
AUTH_RE = re.compile(
    r"POST .*(auth/tokens$|/api/session$|cis/session$|sso/oauth/token|"
    r"SessionManager/Login)")
# Routes that change a VM: power actions, stop, forceDelete, DELETE.
MUT_RE = re.compile(
    r"^(osp|rhv|vmware) (DELETE|POST) .*(\{id\}|\{vm\})(?!.*tag)")


def classify(route):
    """'auth', 'mutating', 'vm-read' (a GET of one VM) or 'list'."""
    if AUTH_RE.search(route):
        return "auth"
    if MUT_RE.search(route):
        return "mutating"
    if " GET " in route and ("{id}" in route or "{vm}" in route):
        if "VirtualMachine" in route or "/tags" in route:
            return "list"
        return "vm-read"
    return "list"


def proc_cpu(pid):
    """User + system CPU seconds of a live process (0 when unreadable)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Sim:
    def __init__(self, root, tmp, platform, n, latency, delete_polls, tls,
                 extra=()):
        self.platform = platform
        self.tls = tls
        self.dir = tempfile.mkdtemp(prefix="sim-%s." % platform, dir=tmp)
        port_file = os.path.join(self.dir, "port")
        args = [os.path.join(root, "build", "vmsweep-sim"),
                "--listen", "127.0.0.1:0", "--port-file", port_file,
                "--generate", "%s=%d" % (platform, n),
                "--latency", str(latency),
                "--delete-polls", str(delete_polls)]
        if tls:
            certs = os.path.join(root, "build", "certs")
            args += ["--tls-cert", os.path.join(certs, "server.pem"),
                     "--tls-key", os.path.join(certs, "server.key")]
        args += list(extra)
        self.log = open(os.path.join(self.dir, "sim.log"), "wb")
        self.proc = subprocess.Popen(args, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while not (os.path.exists(port_file) and
                   os.path.getsize(port_file) > 0):
            if self.proc.poll() is not None:
                raise RuntimeError("simulator exited: %s" % open(
                    os.path.join(self.dir, "sim.log")).read())
            if time.time() > deadline:
                raise RuntimeError("simulator did not start")
            time.sleep(0.02)
        self.port = int(open(port_file).read().strip())
        scheme = "https" if tls else "http"
        self.url = "%s://127.0.0.1:%d" % (scheme, self.port)
        self.ctx = None
        if tls:
            self.ctx = ssl.create_default_context(
                cafile=os.path.join(root, "build", "certs", "ca.pem"))

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=60,
                                    context=self.ctx) as r:
            return json.loads(r.read().decode())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def provider_yaml(sim, workers, root, vi_json):
    ca = ""
    if sim.tls:
        ca = "    ca_file: %s\n" % os.path.join(root, "build", "certs",
                                                 "ca.pem")
    common = ("    password_env: VMSWEEP_BENCH_PASSWORD\n"
              "    max_concurrency: %d\n%s" % (workers, ca))
    if sim.platform == "osp":
        return ("  - name: osp\n    type: osp\n"
                "    auth_url: %s/identity\n    username: admin\n"
                "    project_name: admin\n    user_domain_name: Default\n"
                "    project_domain_name: Default\n    region: RegionOne\n"
                % sim.url) + common
    if sim.platform == "rhv":
        return ("  - name: rhv\n    type: rhv\n"
                "    url: %s/ovirt-engine/api\n"
                "    username: admin@internal\n    tags: true\n"
                % sim.url) + common
    return ("  - name: vmware\n    type: vmware\n    url: %s\n"
            "    username: admin@vsphere.local\n    vi_json: %s\n"
            % (sim.url, vi_json)) + common


def write_config(path, sims, sc, tmp, root):
    rules = sc.get("rules") or (
        "rules:\n  - name: everything\n    match: [\"*\"]\n")
    state = os.path.join(tmp, "state.db")
    if not sc.get("journal", True):
        # A store that cannot be opened: vmsweep warns and keeps no
        # journal (and no first-seen ages), which is what we compare.
        state = "/dev/null/no-state.db"
    with open(path, "w") as f:
        f.write("providers:\n")
        for s in sims:
            f.write(provider_yaml(s, sc["workers"], root,
                                  sc.get("vi_json", "off")))
        f.write(rules)
        f.write("limits:\n  max_deletes: unlimited\n"
                "  max_delete_percent: 100\n")
        f.write("run:\n  workers: %d\n" % sc["workers"])
        for k, v in sc.get("run", {}).items():
            f.write("  %s: %s\n" % (k, v))
        f.write("report:\n  dir: %s\n" % os.path.join(tmp, "reports"))
        f.write("state:\n  path: %s\n" % state)


def parse_ms(ts):
    # 2026-11-25T18:43:01.774Z
    t = time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")
    frac = ts[20:23] if len(ts) > 20 and ts[19] == "." else "0"
    return (time.mktime(t) - time.timezone) * 1000 + int(frac)


def run_scenario(root, sc, keep):
    tmp = tempfile.mkdtemp(prefix="vmsweep-bench.")
    sims = []
    try:
        for p, n in sc["inventory"].items():
            sims.append(Sim(root, tmp, p, n, sc["latency"],
                            sc.get("delete_polls", 0), sc.get("tls", False),
                            sc.get("sim_args", ())))
        before = {s.platform: s.get("/_sim/stats") for s in sims}
        sim_cpu0 = sum(proc_cpu(s.proc.pid) for s in sims)
        cfg = os.path.join(tmp, "vmsweep.yaml")
        write_config(cfg, sims, sc, tmp, root)
        report = os.path.join(tmp, "report.json")
        env = dict(os.environ)
        env["VMSWEEP_BENCH_PASSWORD"] = "secret"
        env["XDG_RUNTIME_DIR"] = tmp
        env.pop("RUNTIME_DIRECTORY", None)
        env.pop("STATE_DIRECTORY", None)
        # VMSWEEP_BENCH_WRAP: a profiler to run vmsweep under, e.g.
        # "valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p".
        args = shlex.split(os.environ.get("VMSWEEP_BENCH_WRAP", "")) + [
                os.path.join(root, "build", "vmsweep"),
                "--plugin-dir", os.path.join(root, "build", "providers"),
                "-c", cfg] + sc["command"]
        if "run" in sc["command"]:
            args += ["--report", report]
        err = open(os.path.join(tmp, "vmsweep.err"), "wb")
        out = open(os.path.join(tmp, "vmsweep.out"), "wb")
        t0 = time.monotonic()
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=env,
                                stdin=subprocess.DEVNULL)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.close()
        out.close()
        sim_cpu = sum(proc_cpu(s.proc.pid) for s in sims) - sim_cpu0
        after = {s.platform: s.get("/_sim/stats") for s in sims}
        res = {"sim_cpu": sim_cpu, "name": sc["name"], "title": sc["title"], "wall": wall,
               "rc": proc.returncode, "cpu": ru.ru_utime + ru.ru_stime,
               "user": ru.ru_utime, "sys": ru.ru_stime,
               "rss_kib": ru.ru_maxrss, "workers": sc["workers"],
               "latency": sc["latency"],
               "vms": sum(sc["inventory"].values()), "providers": {}}
        mut = reads = 0
        for s in sims:
            b, a = before[s.platform], after[s.platform]
            per = {"auth": 0, "mutating": 0, "vm-read": 0, "list": 0}
            routes = {}
            for route, n in a["by_route"].items():
                if route.startswith("sim "):
                    continue
                n -= b["by_route"].get(route, 0)
                per[classify(route)] += n
                if n:
                    routes[route] = n
            # Each stats fetch is one connection of its own.
            conns = a["connections"] - b["connections"] - 1
            tls = a.get("tls_handshakes", 0) - b.get("tls_handshakes", 0)
            if s.tls:
                tls -= 1
            res["providers"][s.platform] = {
                "requests": sum(per.values()), "conns": conns, "tls": tls,
                "max_in_flight": a["max_in_flight"], "by_route": routes,
                **per}
            mut += per["mutating"]
            reads += per["vm-read"]
        res["mutating"] = mut
        res["vm_reads"] = reads
        # The bound: mutating requests (a dry run has none: its probes).
        n = mut if mut else reads
        res["bound"] = n * sc["latency"] / 1000.0 / sc["workers"]
        res["phase"] = None
        res["outcomes"] = {}
        if os.path.exists(report):
            r = json.load(open(report))
            starts = [parse_ms(v["started"]) for v in r["vms"]
                      if v.get("started")]
            ends = [parse_ms(v["finished"]) for v in r["vms"]
                    if v.get("finished")]
            if starts and ends:
                res["phase"] = (max(ends) - min(starts)) / 1000.0
            for v in r["vms"]:
                o = v["outcome"]
                res["outcomes"][o] = res["outcomes"].get(o, 0) + 1
            res["kept"] = len(r.get("kept", []))
        if proc.returncode not in (0,):
            res["stderr"] = open(os.path.join(tmp, "vmsweep.err"),
                                 errors="replace").read()[-2000:]
        return res
    finally:
        for s in sims:
            s.stop()
        if keep:
            print("kept %s" % tmp, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def scenarios(scale):
    def n(x):
        return max(10, int(x * scale))

    none = ("rules:\n  - name: nothing\n    match: [\"no-such-vm-*\"]\n"
            "    older_than: 3650d\n")
    run = ["-q", "run", "--yes"]
    return [
        {"name": "a", "title": "osp delete, immediate confirm",
         "inventory": {"osp": n(3000)}, "workers": 64, "latency": 20,
         "command": run},
        {"name": "j", "title": "(a) without the journal",
         "inventory": {"osp": n(3000)}, "workers": 64, "latency": 20,
         "command": run, "journal": False},
        {"name": "b", "title": "3 providers over HTTPS",
         "inventory": {"osp": n(1000), "rhv": n(1000),
                       "vmware": n(1000)},
         "workers": 64, "latency": 20, "tls": True, "command": run,
         "vi_json": "auto"},
        {"name": "bj", "title": "(b) without the journal",
         "inventory": {"osp": n(1000), "rhv": n(1000),
                       "vmware": n(1000)},
         "workers": 64, "latency": 20, "tls": True, "command": run,
         "vi_json": "auto", "journal": False},
        {"name": "bh", "title": "(b) over plain HTTP",
         "inventory": {"osp": n(1000), "rhv": n(1000),
                       "vmware": n(1000)},
         "workers": 64, "latency": 20, "command": run,
         "vi_json": "auto"},
        {"name": "c-osp", "title": "list osp, nothing selected",
         "inventory": {"osp": n(100000)}, "workers": 64, "latency": 20,
         "command": run, "rules": none},
        {"name": "c-rhv", "title": "list rhv, nothing selected",
         "inventory": {"rhv": n(100000)}, "workers": 64, "latency": 20,
         "command": run, "rules": none},
        {"name": "c-vmware", "title": "list vmware, nothing selected",
         "inventory": {"vmware": n(100000)}, "workers": 64, "latency": 20,
         "command": run, "rules": none},
        {"name": "d", "title": "dry run of (a)",
         "inventory": {"osp": n(3000)}, "workers": 64, "latency": 20,
         "command": ["-q", "run", "--dry-run"]},
        {"name": "v", "title": "list vmware with VI/JSON ages",
         "inventory": {"vmware": n(1000)}, "workers": 64, "latency": 20,
         "command": run, "rules": none, "vi_json": "auto"},
    ]


# The figures that move from run to run; --repeat reports their medians.
TIMED = ("wall", "phase", "cpu", "user", "sys", "sim_cpu", "rss_kib")


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2.0


def combine(runs):
    """One result from several runs of a scenario: the first run's counts,
    the medians of the timed figures, every run's figures under "runs"."""
    r = dict(runs[0])
    for k in TIMED:
        vals = [x[k] for x in runs if x.get(k) is not None]
        r[k] = median(vals) if vals else None
    r["runs"] = [{k: x.get(k) for k in TIMED} for x in runs]
    r["rc"] = max((x["rc"] for x in runs), key=abs)
    ratios = [x["phase"] / x["bound"] for x in runs
              if x.get("phase") and x.get("bound")]
    r["ratio_range"] = (min(ratios), max(ratios)) if ratios else None
    return r


def fmt_table(results):
    head = ("scen", "VMs", "W", "L ms", "wall s", "phase s", "bound s",
            "phase/bd", "wall/bd", "cpu s", "cpu us/VM", "sim cpu s",
            "RSS MiB",
            "conns", "TLS hs", "auth")
    ranged = any(len(r.get("runs", ())) > 1 for r in results)
    if ranged:
        head = head[:8] + ("phase/bd range",) + head[8:]
    rows = []
    for r in results:
        ps = r["providers"]
        names = sorted(ps)
        conns = " ".join("%s:%d" % (p[:3], ps[p]["conns"]) for p in names)
        tls = " ".join("%s:%d" % (p[:3], ps[p]["tls"]) for p in names)
        auth = " ".join("%s:%d" % (p[:3], ps[p]["auth"]) for p in names)
        bound = r["bound"]
        phase = r["phase"]
        row = (
            r["name"], str(r["vms"]), str(r["workers"]), str(r["latency"]),
            "%.2f" % r["wall"],
            "%.2f" % phase if phase is not None else "-",
            "%.2f" % bound if bound else "-",
            "%.2f" % (phase / bound) if bound and phase else "-",
            "%.2f" % (r["wall"] / bound) if bound else "-",
            "%.2f" % r["cpu"], "%.0f" % (r["cpu"] * 1e6 / r["vms"]),
            "%.2f" % r["sim_cpu"],
            "%.1f" % (r["rss_kib"] / 1024.0), conns, tls, auth)
        if ranged:
            rr = r.get("ratio_range")
            row = row[:8] + (("%.2f-%.2f" % rr) if rr else "-",) + row[8:]
        rows.append(row)
    widths = [max(len(h), *(len(row[i]) for row in rows))
              for i, h in enumerate(head)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(head, widths)),
             "-+-".join("-" * w for w in widths)]
    for row in rows:
        lines.append(" | ".join(c.ljust(w) for c, w in zip(row, widths)))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    ap.add_argument("--only", help="comma-separated scenario names "
                    "(a, j, b, bj, bh, c-osp, c-rhv, c-vmware, d, v; c = all c-*)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply every inventory size (quick runs)")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directories")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each scenario N times; report the medians "
                    "and the range of phase/bound (default 1)")
    a = ap.parse_args()
    if a.repeat < 1:
        sys.exit("bench: --repeat must be 1 or more")
    root = os.path.abspath(a.root)
    for f in ("build/vmsweep", "build/vmsweep-sim"):
        if not os.access(os.path.join(root, f), os.X_OK):
            sys.exit("bench: %s is missing; run make all" % f)
    want = None
    if a.only:
        want = set()
        for w in a.only.split(","):
            want |= ({"c-osp", "c-rhv", "c-vmware"} if w == "c" else {w})
    results = []
    for sc in scenarios(a.scale):
        if want and sc["name"] not in want:
            continue
        runs = []
        for k in range(a.repeat):
            print("bench: %s: %s ...%s" % (
                sc["name"], sc["title"],
                " (%d of %d)" % (k + 1, a.repeat) if a.repeat > 1 else ""),
                file=sys.stderr, flush=True)
            r = run_scenario(root, sc, a.keep)
            if r["rc"] != 0:
                print("bench: %s: vmsweep exited %d:\n%s" % (
                    sc["name"], r["rc"], r.get("stderr", "")),
                    file=sys.stderr)
            runs.append(r)
        results.append(combine(runs))
    print(fmt_table(results))
    print()
    for r in results:
        print("%s (%s): exit %d, outcomes %s, kept %s, mutating %d" % (
            r["name"], r["title"], r["rc"],
            json.dumps(r["outcomes"], sort_keys=True), r.get("kept", "-"),
            r["mutating"]))
        for p, s in sorted(r["providers"].items()):
            print("  %-6s requests %d (auth %d, list %d, vm-read %d, "
                  "mutating %d), max in flight %d" % (
                      p, s["requests"], s["auth"], s["list"], s["vm-read"],
                      s["mutating"], s["max_in_flight"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
