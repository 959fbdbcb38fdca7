#!/usr/bin/env python3
"""Reproduces FINDINGS.md 2 with stock nats-server alone (no Meridian code): SIGSTOP the
leader of an R3 stream W, sourced by an R3 stream R in the same 3-server cluster, for about
the raft election timeout (4-9 s in 2.9.10) while three publishers publish (one connection
per server, a request with a 5 s timeout every 100 ms, a unique body each); repeat; then
read every replica's copy of W and R and compare them with the acks.

    python3 repro_paused_leader.py [--base-port 34100] [--cycles 10] [--seed 11]

Prints, per replica, the acknowledged bodies it lacks and the unacknowledged ones it holds,
and every sequence at which W's replicas hold different messages. Exit status 1 when any
replica of W or R lacks an acknowledged message or W's replicas disagree. Needs python3 (no
packages) and nats-server on PATH ($MERIDIAN_NATS_SERVER overrides). Not run by ctest: it
shows a stock-server behaviour and depends on timing.
"""
import argparse, atexit, itertools, json, os, queue, random, signal, socket, subprocess, sys, tempfile, threading, time

# ---- a minimal NATS client (PUB, SUB, MSG/HMSG, PING) ----

class Msg:
    def __init__(s, subject, reply, hdr, data):
        s.subject, s.reply, s.hdr, s.data = subject, reply, hdr, data
    def header(s, key):
        if not s.hdr: return None
        for line in s.hdr.decode().split("\r\n")[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                if k.strip().lower() == key.lower(): return v.strip()
        return None

class Conn:
    def __init__(s, port, timeout=5):
        s.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.sock.settimeout(None)
        s.f = s.sock.makefile("rb")
        s.f.readline()  # INFO
        s.wlock = threading.Lock()
        s.sids = itertools.count(1)
        s.subs = {}
        s.closed = False
        s._send(b'CONNECT {"verbose":false,"headers":true,"no_responders":true,"protocol":1}\r\nPING\r\n')
        s.inbox = "_INBOX.%d%d." % (port, int(time.time()*1e6))
        s.pending = {}
        s.rid = itertools.count(1)
        s.t = threading.Thread(target=s._read, daemon=True); s.t.start()
        s._sub_raw(s.inbox + "*", s._on_reply)
    def _send(s, b):
        with s.wlock: s.sock.sendall(b)
    def _sub_raw(s, subj, cb):
        sid = next(s.sids); s.subs[sid] = cb
        s._send(("SUB %s %d\r\n" % (subj, sid)).encode()); return sid
    def subscribe(s, subj):
        q = queue.Queue(); s._sub_raw(subj, q.put); return q
    def _on_reply(s, m):
        q = s.pending.get(m.subject)
        if q: q.put(m)
    def _read(s):
        try:
            while True:
                line = s.f.readline()
                if not line: break
                if line.startswith(b"PING"): s._send(b"PONG\r\n"); continue
                if line.startswith(b"MSG "):
                    p = line.split(); subj = p[1].decode(); sid = int(p[2])
                    reply = p[3].decode() if len(p) == 5 else None; n = int(p[-1])
                    data = s.f.read(n + 2)[:-2]
                    cb = s.subs.get(sid)
                    if cb: cb(Msg(subj, reply, None, data))
                elif line.startswith(b"HMSG "):
                    p = line.split(); subj = p[1].decode(); sid = int(p[2])
                    reply = p[3].decode() if len(p) == 6 else None; hn = int(p[-2]); tn = int(p[-1])
                    raw = s.f.read(tn + 2)[:-2]
                    cb = s.subs.get(sid)
                    if cb: cb(Msg(subj, reply, raw[:hn], raw[hn:]))
        except Exception:
            pass
        s.closed = True
    def publish(s, subj, data, reply=None):
        if isinstance(data, str): data = data.encode()
        s._send(("PUB %s %s%d\r\n" % (subj, (reply + " ") if reply else "", len(data))).encode() + data + b"\r\n")
    def request(s, subj, data, timeout=5):
        r = s.inbox + str(next(s.rid)); q = queue.Queue(); s.pending[r] = q
        s.publish(subj, data, r)
        try: return q.get(timeout=timeout)
        except queue.Empty: return None
        finally: s.pending.pop(r, None)
    def api(s, subj, body="", timeout=5):
        m = s.request(subj, body if isinstance(body, str) else json.dumps(body), timeout)
        if m is None: return None
        if m.hdr and b"503" in m.hdr[:20]: return {"error": "no responders"}
        return json.loads(m.data)
    def close(s):
        try: s.sock.close()
        except Exception: pass


# ---- the experiment ----
ap = argparse.ArgumentParser()
ap.add_argument("--base-port", type=int, default=34100)
ap.add_argument("--cycles", type=int, default=10)
ap.add_argument("--seed", type=int, default=int(time.time()))
ap.add_argument("--dir", default=None, help="where the servers keep stores and logs (a temp dir)")
args = ap.parse_args()
base, cycles, seed, same_leader = args.base_port, args.cycles, args.seed, True
random.seed(seed)
d = args.dir or tempfile.mkdtemp(prefix="repro-paused-leader-")
os.makedirs(d, exist_ok=True)
server_bin = os.environ.get("MERIDIAN_NATS_SERVER") or "nats-server"
names = ["n1", "n2", "n3"]
cport = {n: base + i for i, n in enumerate(names)}
rport = {n: base + 10 + i for i, n in enumerate(names)}
procs = {}
def stop_servers():
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGCONT); p.kill(); p.wait()
atexit.register(stop_servers)  # also when a step fails
t0 = time.time()
print(subprocess.check_output([server_bin, "--version"]).decode().strip(), "in", d, flush=True)
def log(*a): print("[+%.3fs]" % (time.time() - t0), *a, flush=True)
for n in names:
    routes = ",".join("nats-route://127.0.0.1:%d" % rport[m] for m in names if m != n)
    conf = f"""server_name: {n}
listen: 127.0.0.1:{cport[n]}
ping_interval: "1s"
ping_max: 3
jetstream {{ store_dir: "{d}/{n}" }}
cluster {{ name: c, listen: 127.0.0.1:{rport[n]}, routes: [{routes}] }}
"""
    open(f"{d}/{n}.conf", "w").write(conf)
    procs[n] = subprocess.Popen([server_bin, "-c", f"{d}/{n}.conf", "-l", f"{d}/{n}.log"])
time.sleep(1)
adm = Conn(cport["n1"])
def api(subj, body="", timeout=5):
    for _ in range(60):
        try:
            r = adm.api(subj, body, timeout)
            if r is not None and "error" not in r: return r
        except Exception as e:
            r = str(e)
        time.sleep(0.5)
    raise RuntimeError(f"{subj}: {r}")
api("$JS.API.STREAM.CREATE.W", {"name": "W", "subjects": ["foo.w.>"], "num_replicas": 3, "storage": "file"})
api("$JS.API.STREAM.CREATE.R", {"name": "R", "num_replicas": 3, "storage": "file",
                                 "sources": [{"name": "W", "filter_subject": "foo.w.>"}]})
log("streams made")
records = []; rlock = threading.Lock(); stop = False
def publisher(n):
    c = Conn(cport[n]); k = 0
    while not stop:
        k += 1; mid = f"{n}-{k}"; sent = time.time()
        m = c.request("foo.w.x", mid, 5)
        ack = None
        if m is not None:
            try:
                j = json.loads(m.data)
                if "error" not in j: ack = j.get("seq")
            except Exception: pass
        with rlock: records.append((mid, sent - t0, time.time() - t0, ack))
        time.sleep(0.1)
pubs = [threading.Thread(target=publisher, args=(n,), daemon=True) for n in names]
for p in pubs: p.start()
time.sleep(3)
def leader(stream):
    return api("$JS.API.STREAM.INFO." + stream)["cluster"].get("leader")
for cyc in range(cycles):
    wl = leader("W")
    if same_leader:
        for _ in range(6):
            if leader("R") == wl: break
            try: adm.api("$JS.API.STREAM.LEADER.STEPDOWN.R", "", 5)
            except Exception: pass
            time.sleep(1.5)
    rl = leader("R")
    hold = random.uniform(4.0, 7.5)
    log(f"cycle {cyc+1}: SIGSTOP {wl} (W leader; R leader {rl}) for {hold:.2f}s")
    procs[wl].send_signal(signal.SIGSTOP); time.sleep(hold); procs[wl].send_signal(signal.SIGCONT)
    time.sleep(random.uniform(3, 5))
stop = True
for p in pubs: p.join()
log("publishers stopped")
# converge
prev = None; stable = 0
for _ in range(120):
    w = api("$JS.API.STREAM.INFO.W")["state"]; r = api("$JS.API.STREAM.INFO.R")["state"]
    cur = (w["last_seq"], r["messages"], r["last_seq"])
    stable = stable + 1 if cur == prev else 0; prev = cur
    if r["messages"] >= w["messages"] and stable >= 3: break
    time.sleep(1)
log("W", w, "R", r)
def read_on(stream, server, last_seq):
    c = Conn(cport["n1"]); inbox = f"_READ.{stream}.{server}"; q = c.subscribe(inbox)
    for _ in range(30):
        res = c.api("$JS.API.CONSUMER.CREATE." + stream, {"stream_name": stream, "config": {
            "deliver_subject": inbox, "deliver_policy": "all", "ack_policy": "none", "replay_policy": "instant"}}, 10)
        if res and "error" not in res and res["cluster"].get("leader") == server: break
        if res and "name" in res: c.api(f"$JS.API.CONSUMER.DELETE.{stream}.{res['name']}", "", 5)
        time.sleep(0.2)
        while not q.empty(): q.get()
    else:
        return None
    cname = res["name"]
    out = {}
    seen = 0
    while seen < last_seq:
        try: m = q.get(timeout=10)
        except Exception: break
        if not m.reply or not m.reply.startswith("$JS.ACK."): continue
        toks = m.reply.split(".")
        if toks[3] != cname: continue  # a delivery of an earlier (deleted) reading consumer
        seq = int(toks[-4]); seen = max(seen, seq)
        out[seq] = (m.data.decode(), m.header("Nats-Stream-Source"))
    c.api(f"$JS.API.CONSUMER.DELETE.{stream}.{cname}", "", 5)
    c.close(); return out
acked = {r[0]: r for r in records if r[3] is not None}
allr = {r[0]: r for r in records}
bad = False
wcopies = {n: read_on("W", n, w["last_seq"]) for n in names}
rcopies = {n: read_on("R", n, r["last_seq"]) for n in names}
for n in names:
    for name, cp in (("W", wcopies[n]), ("R", rcopies[n])):
        if cp is None: log(f"{name}@{n}: could not read"); continue
        ids = [v[0] for v in cp.values()]
        missing = [i for i in acked if i not in ids]
        unacked = [i for i in ids if i not in acked]
        dups = len(ids) - len(set(ids))
        log(f"{name}@{n}: {len(ids)} msgs, missing acked {missing[:5]}, unacked present {unacked[:5]}, dups {dups}")
        if missing or dups: bad = True
        for i in missing[:3] + unacked[:3]:
            log("   ", i, allr.get(i), "at", [s for s, v in cp.items() if v[0] == i])
# diverging seqs among W copies
ws = [wcopies[n] for n in names if wcopies[n]]
for seq in sorted(set().union(*[set(c) for c in ws])) if ws else []:
    vals = {n: (wcopies[n] or {}).get(seq, (None,))[0] for n in names}
    if len(set(vals.values())) > 1:
        bad = True
        log("W seq", seq, "differs:", ", ".join(
            f"{n} {v} ({'acked seq %s' % allr[v][3] if v in acked else 'never acked'})"
            for n, v in vals.items()))
rs = [rcopies[n] for n in names if rcopies[n]]
for seq in sorted(set().union(*[set(c) for c in rs])) if rs else []:
    vals = {n: (rcopies[n] or {}).get(seq, (None,))[0] for n in names}
    if len(set(vals.values())) > 1: log("R seq", seq, "differs:", vals); bad = True
for n in names:
    if rcopies[n] is None: continue
    for seq, (body, src) in sorted(rcopies[n].items()):
        if body not in acked:
            log(f"R@{n} seq {seq}: {body} (never acked) sourced from [{src}]")
    break
with open(f"{d}/ledger.tsv", "w") as f:
    f.write("id\tsent\tanswered\tack_seq\n")
    for r in records: f.write("%s\t+%.3fs\t+%.3fs\t%s\n" % (r[0], r[1], r[2], r[3] if r[3] is not None else "-"))
log("RESULT", "ANOMALY" if bad else "clean", f"published {len(records)} acked {len(acked)} seed {seed}; stores and logs in {d}")
for p in procs.values():
    p.send_signal(signal.SIGCONT); p.terminate()
for p in procs.values(): p.wait()
sys.exit(1 if bad else 0)
