#!/usr/bin/env python3
"""IMAP through pullmail-gateway beside Dovecot, on the same messages.

Builds a two-domain federation on loopback (tests/e2e/world.py), submits
messages from ann@a.example to bob@b.example through a.example's gateway
(SMTP submission), then times the same IMAP commands, over STARTTLS, against
b.example's gateway and against a Dovecot holding the same messages in a
Maildir (if `dovecot` is installed: `apt-get install dovecot-imapd`):

  listing   UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)
  first     UID FETCH of every body (BODY.PEEK[]); for pullmail this is the
            pull: recipient node <- sender node, verified, cached, served
  again     the same fetch once more (pullmail: from the recipient's cache)
  ... CPU   for first and again, the server side's CPU time per message
            (pullmail: gateway + recipient node + sender node; Dovecot: its
            master process and all its children), in microseconds
  latency   one `UID FETCH n BODY.PEEK[]` at a time over --latency messages
            of --size bytes: p50/p90/p99 in ms, first read and cached
  structure UID FETCH BODYSTRUCTURE over the small and big messages
            (bodies cached by the reads above): messages/s (what Thunderbird and mutt
            ask for each message they open)
  section   BODY.PEEK[1] and BODY.PEEK[2]<0.4096> of the biggest message
            (a text part and an attachment), one at a time: p50 in ms
  login     a new connection, STARTTLS, LOGIN, LOGOUT: p50/p90 in ms
  mixed     --clients clients for --mixed-seconds of mixed commands (NOOP,
            FETCH FLAGS, FETCH a body, STORE, SEARCH, APPEND): operations/s,
            and each command's p50 in ms
  loop      (--cached-loop SECONDS, instead of everything above) only the
            bulk cached read: the --messages bodies read once, then
            --loop-rounds rounds of `UID FETCH 1:N BODY.PEEK[]` repeated for
            SECONDS against the gateway and then against Dovecot: MB/s and
            the server side's CPU per message of each, and their ratios
            (pullmail: gateway + recipient node). --perf-record DIR also
            records `perf record --call-graph dwarf` of the gateway and the
            recipient node during the first round's pullmail loop
  soak      (--soak SECONDS, instead of everything above) --soak-clients
            clients (50) of the same mixed commands for SECONDS against the
            gateway, each APPEND expunged again so that the mailbox keeps its
            size; the resident memory (RSS) and CPU of the gateway and of both
            nodes, and the CPU of the clients themselves, are sampled every
            --soak-interval seconds and printed with the operations/s of each
            interval: memory and operations/s should stay flat. Then the same
            soak against Dovecot, and both rates side by side per interval

and prints each figure with pullmail/dovecot as a ratio (for latencies,
dovecot/pullmail, so that above 1 is always "pullmail is better"). Figures,
not a test: nothing here passes or fails on time.

Usage: bench/gateway_bench.py [--bin-dir build] [--messages 200]
                              [--size 4096] [--big 1048576,16777216]
                              [--latency 100] [--clients 5] [--mixed-seconds 10]
       bench/gateway_bench.py --soak 600 [--soak-clients 50] [--soak-interval 30]
       bench/gateway_bench.py --cached-loop 5 [--loop-rounds 3] [--perf-record DIR]
"""

import argparse
import imaplib
import os
import random
import resource
import threading
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from world import World, free_port, wait_until  # noqa: E402

FETCHED = "pullmail_body_bytes_fetched_total"


def make_multipart(i, size):
    """A message of `size` bytes: a short text part and a base64 attachment
    that fills the rest (the big messages, so that sections exist)."""
    head = (f"From: Ann <ann@a.example>\r\nTo: bob@b.example\r\n"
            f"Subject: bench {i}\r\nMessage-ID: <bench-{i}@a.example>\r\n"
            f"Date: Mon, 23 Nov 2026 06:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n"
            f"--b{i}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            f"See the attachment.\r\n"
            f"--b{i}\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n"
            f"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n")
    tail = f"--b{i}--\r\n"
    line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU2Nzg5YWJjZGVmZ2hpamtsbW5vcA==\r\n"
    room = max(0, size - len(head) - len(tail))
    body = (line * (room // len(line) + 1))[:room]
    if room >= 2:
        body = body[:-2] + "\r\n"
    return (head + body + tail).encode()


def make_message(i, size):
    head = (f"From: Ann <ann@a.example>\r\nTo: bob@b.example\r\n"
            f"Subject: bench {i}\r\nMessage-ID: <bench-{i}@a.example>\r\n"
            f"Date: Mon, 23 Nov 2026 06:00:00 +0000\r\n\r\n")
    line = ("The quick brown fox jumps over the lazy dog %06d.\r\n" % i)
    body = (line * (max(0, size - len(head)) // len(line) + 1))[:max(0, size - len(head) - 2)]
    return (head + body + "\r\n").encode()


def imap_session(host, port, user, password, ctx, server_hostname):
    m = imaplib.IMAP4(host, port, timeout=120)
    m._host = server_hostname  # imaplib checks the certificate against this name
    m.starttls(ssl_context=ctx)
    m.login(user, password)
    typ, data = m.select("INBOX")
    assert typ == "OK", (typ, data)
    return m, int(data[0])


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def fetch_bodies(m, uids):
    typ, data = m.uid("FETCH", ",".join(str(u) for u in uids), "(BODY.PEEK[])")
    assert typ == "OK", (typ, data)
    bodies = [part[1] for part in data if isinstance(part, tuple)]
    assert len(bodies) == len(uids), (len(bodies), len(uids))
    return bodies


def proc_cpu(pid):
    """CPU seconds (user + system) a live process has used, 0 once it has gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_pids(root):
    """Process `root` and every live process below it."""
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    pids, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        for child, ppid in parent.items():
            if ppid == p and child not in pids:
                pids.add(child)
                frontier.append(child)
    return sorted(pids)


class CpuMeter:
    """The CPU time that processes `pids()` (and the threads they start) use
    between start() and stop(), in seconds: from `perf stat -e task-clock`
    (nanoseconds) if perf can attach, else from /proc/PID/stat (10 ms ticks,
    and only for processes alive at both ends)."""

    def __init__(self, pids):
        self.pids = pids

    def start(self):
        self.watched = self.pids()
        self.ticks = sum(proc_cpu(p) for p in self.watched)
        self.perf = None
        if shutil.which("perf"):
            self.perf = subprocess.Popen(
                ["perf", "stat", "-x,", "-e", "task-clock", "-p",
                 ",".join(str(p) for p in self.watched)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(0.3)  # attached to every thread before the work starts
            if self.perf.poll() is not None:
                self.perf = None

    def stop(self):
        ticks = sum(proc_cpu(p) for p in self.watched) - self.ticks
        if self.perf is None:
            return ticks
        self.perf.send_signal(signal.SIGINT)
        _, err = self.perf.communicate(timeout=30)
        for line in err.splitlines():
            fields = line.split(",")
            if len(fields) > 2 and fields[2] == "task-clock":
                try:
                    return float(fields[0]) / 1000.0  # msec
                except ValueError:
                    break
        return ticks


def measure(m, count, small_uids, big_uids, server_pids):
    """The listing and the bulk fetches; each bulk fetch also gets the CPU
    time per message of the processes `server_pids()` (pullmail: gateway and
    both nodes; Dovecot: its master and every child), which other load on a
    shared machine moves much less than the wall clock."""
    meter = CpuMeter(server_pids)
    r = {}
    t, (typ, data) = timed(lambda: m.uid("FETCH", "1:*",
                                         "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)"))
    assert typ == "OK" and len([d for d in data if d]) >= count, (typ, len(data))
    r["listing"] = (count / t, "messages/s")
    for label, uids in (("small", small_uids), ("big", big_uids)):
        if not uids:
            continue
        meter.start()
        t1, bodies = timed(lambda: fetch_bodies(m, uids))
        cpu1 = meter.stop()
        size = sum(len(b) for b in bodies)
        meter.start()
        t2, _ = timed(lambda: fetch_bodies(m, uids))
        cpu2 = meter.stop()
        r[f"{label} first"] = (size / t1 / 1e6, "MB/s")
        r[f"{label} again"] = (size / t2 / 1e6, "MB/s")
        r[f"{label} first CPU"] = (cpu1 / len(uids) * 1e6, "us server CPU per message",
                                   "lower")
        r[f"{label} again CPU"] = (cpu2 / len(uids) * 1e6, "us server CPU per message",
                                   "lower")
        r[f"_{label}_bodies"] = bodies
    # Bodies cached now: BODYSTRUCTURE of the messages read above (not of the
    # latency phase's, whose first reads are still to be measured: a
    # structure of an uncached body pulls it), then sections of the biggest
    # message, one FETCH at a time.
    read = small_uids + big_uids
    t, (typ, data) = timed(lambda: m.uid("FETCH", f"{min(read)}:{max(read)}", "(BODYSTRUCTURE)"))
    assert typ == "OK" and len([d for d in data if d]) >= len(read), (typ, len(data))
    r["structure"] = (len(read) / t, "messages/s")
    if big_uids:
        biggest = str(big_uids[-1])
        for label, att in (("section [1]", "BODY.PEEK[1]"),
                           ("section [2]<0.4096>", "BODY.PEEK[2]<0.4096>")):
            times = []
            for _ in range(20):
                t, (typ, data) = timed(lambda: m.uid("FETCH", biggest, f"({att})"))
                assert typ == "OK" and isinstance(data[0], tuple), (typ, data)
                times.append(t * 1000)
            r[f"{label} p50"] = (percentile(times, 50), "ms", "lower")
    return r


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def latency(m, uids, r, label):
    """Single-message fetch latency, one command at a time (ms)."""
    times, bodies = [], []
    for u in uids:
        t, (typ, data) = timed(lambda: m.uid("FETCH", str(u), "(BODY.PEEK[])"))
        assert typ == "OK", (typ, data)
        times.append(t * 1000)
        bodies.append([p[1] for p in data if isinstance(p, tuple)][0])
    for p in (50, 90, 99):
        r[f"fetch1 {label} p{p}"] = (percentile(times, p), "ms", "lower")
    return bodies


def login_latency(connect, n, r):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        c = connect()
        c.logout()
        times.append((time.perf_counter() - t0) * 1000)
    for p in (50, 90):
        r[f"login p{p}"] = (percentile(times, p), "ms", "lower")


# The mixed run's commands, in the order of its random pick; in the soak,
# "append" is APPEND + STORE \Deleted + UID EXPUNGE.
MIXED_OPS = ("noop", "fetch flags", "fetch body", "store", "search", "append")


def mixed(connect, clients, seconds, r, soak=False, progress=None):
    """`clients` sessions doing mixed commands for `seconds`: operations/s.

    soak: each APPEND is expunged again (UID EXPUNGE of its APPENDUID), so
    that the mailbox keeps its size however long the run. progress: a list
    that gets the running total of operations (read by the RSS sampler)."""
    counts = [0] * clients
    errors = []
    start = threading.Barrier(clients)
    times = {op: [] for op in MIXED_OPS}  # ms per command, by kind
    times_lock = threading.Lock()

    def client(i):
        try:
            m, count = connect()
            rnd = random.Random(i)
            start.wait()
            end = time.perf_counter() + seconds
            n = 0
            while time.perf_counter() < end:
                u = rnd.randint(1, count)
                op = rnd.randrange(6)
                t0 = time.perf_counter()
                if op == 0:
                    typ, _ = m.noop()
                elif op == 1:
                    typ, _ = m.uid("FETCH", f"{u}:{u + 20}", "(UID FLAGS)")
                elif op == 2:
                    typ, _ = m.uid("FETCH", str(u), "(BODY.PEEK[])")
                elif op == 3:
                    typ, _ = m.uid("STORE", str(u), "+FLAGS" if rnd.random() < .5 else "-FLAGS",
                                   "(\\Flagged)")
                elif op == 4:
                    typ, _ = m.uid("SEARCH", "UNSEEN")
                else:
                    typ, data = m.append("INBOX", None, None,
                                         make_message(10 ** 6 + i * 10 ** 5 + n, 2048))
                    if soak and typ == "OK":
                        # "[APPENDUID <validity> <uid>] ..." (RFC 4315)
                        uid = data[0].decode().split("]")[0].split()[-1]
                        typ, _ = m.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")
                        if typ == "OK":
                            typ, _ = m.uid("EXPUNGE", uid)
                assert typ == "OK", (op, typ)
                with times_lock:
                    times[MIXED_OPS[op]].append((time.perf_counter() - t0) * 1000)
                n += 1
                counts[i] = n
            m.logout()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    if progress is not None:
        while any(t.is_alive() for t in threads):
            progress[0] = sum(counts)
            time.sleep(0.2)
    for t in threads:
        t.join()
    assert not errors, errors[:5]
    r[f"mixed {clients} clients"] = (sum(counts) / seconds, "ops/s")
    if not soak:
        for op in MIXED_OPS:
            if times[op]:
                r[f"  {op} p50"] = (percentile(times[op], 50), "ms", "lower")


def rss_mb(pid):
    """Resident memory of a process in MB (VmRSS), or None once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def pss_mb(pid):
    """Proportional set size of a process in MB (shared pages divided among
    their users: a tree's sum counts them once), or None once it has gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def soak(label, connect, procs, clients, seconds, interval):
    """Mixed commands from `clients` clients for `seconds`, sampling at the
    start, every `interval` s and at the end: the RSS and CPU of `procs`
    ({name: function returning its pids}; for several processes, the sum of
    their CPU and of their PSS instead of RSS), the CPU of this load generator itself (are the clients
    the limit?) and the operations/s of the interval. Returns the samples:
    (t, [rss MB by name], ops/s)."""
    progress = [0]
    r = {}
    runner = threading.Thread(target=mixed, args=(connect, clients, seconds, r),
                              kwargs={"soak": True, "progress": progress})
    names = list(procs)
    print(f"soak of {label}: {clients} clients, {seconds:.0f} s of mixed commands "
          f"(APPENDs expunged again); CPU in % of one core")
    print(f"{'t (s)':>7} " + " ".join(f"{n + ' MB':>13}" for n in names) +
          " ".join(f"{n[:9] + ' CPU':>14}" for n in names) + f" {'clients CPU':>12} {'ops/s':>8}")
    samples = []
    t0 = time.perf_counter()
    def self_cpu():
        u = resource.getrusage(resource.RUSAGE_SELF)
        return u.ru_utime + u.ru_stime

    last = {"ops": 0, "t": t0, "cpu": {}, "self": self_cpu()}

    def sample():
        now = time.perf_counter()
        pids = {n: procs[n]() for n in names}
        rss = [(rss_mb(pids[n][0]) if len(pids[n]) == 1 else
                sum(pss_mb(p) or 0 for p in pids[n]) or None) for n in names]
        cpu = {n: {p: proc_cpu(p) for p in pids[n]} for n in names}
        mine = self_cpu()
        dt = now - last["t"]
        dt = dt if dt >= 1 else 0  # the first sample: no interval yet
        rate = (progress[0] - last["ops"]) / dt if dt > 0 else 0.0
        # Over the processes alive at both samples (Dovecot's come and go).
        cpu_pct = [100 * sum(c - last["cpu"].get(n, {}).get(p, c) for p, c in cpu[n].items())
                   / dt if dt > 0 else 0.0 for n in names]
        self_pct = 100 * (mine - last["self"]) / dt if dt > 0 else 0.0
        last.update(ops=progress[0], t=now, cpu=cpu, self=mine)
        samples.append((now - t0, rss, rate))
        print(f"{now - t0:7.0f} " + " ".join(f"{v:13.1f}" if v is not None else f"{'-':>13}"
                                             for v in rss) +
              " ".join(f"{c:14.0f}" for c in cpu_pct) + f" {self_pct:12.0f} {rate:8.1f}",
              flush=True)

    sample()
    runner.start()
    while runner.is_alive():
        runner.join(timeout=interval)
        sample()
    assert r, "the soak clients failed (see above)"
    # What stays resident once the clients have gone (the programs hand free
    # heap pages back every 10 s: rpc/memory_trim.h).
    time.sleep(15)
    sample()
    first, final, idle = samples[0][1], samples[-2][1], samples[-1][1]
    peak = [max(s[1][k] for s in samples if s[1][k] is not None) for k in range(len(names))]
    print(f"soak of {label}: {r[f'mixed {clients} clients'][0]:.1f} ops/s over the run; RSS "
          f"start -> end (peak) -> 15 s after: " +
          ", ".join(f"{n} {first[k] or 0:.1f} -> {final[k] or 0:.1f} ({peak[k]:.1f}) -> "
                    f"{idle[k] or 0:.1f} MB" for k, n in enumerate(names)))
    return samples[:-1]


def loop_fetch(m, uids, seconds, meter):
    """`UID FETCH uids BODY.PEEK[]` over and over for `seconds`: (messages/s,
    MB/s, server CPU in us per message)."""
    meter.start()
    t0 = time.perf_counter()
    n = size = 0
    while time.perf_counter() - t0 < seconds:
        size += sum(len(b) for b in fetch_bodies(m, uids))
        n += len(uids)
    t = time.perf_counter() - t0
    cpu = meter.stop()
    return n / t, size / t / 1e6, cpu / n * 1e6


def cached_loop(args, m, uids, pm_pids, d, dovecot_pids):
    """--cached-loop: rounds of the bulk cached read, pullmail then Dovecot."""
    print(f"bulk cached read: UID FETCH of {len(uids)} bodies of {args.size} B, repeated for "
          f"{args.cached_loop:g} s each; CPU = server CPU per message (pullmail: gateway + "
          f"recipient node)")
    print(f"{'round':>5} {'pullmail MB/s':>14} {'dovecot MB/s':>13} {'ratio':>6} "
          f"{'pullmail us':>12} {'dovecot us':>11} {'ratio':>6}")
    walls, cpus = [], []
    for k in range(args.loop_rounds):
        perf = []
        if args.perf_record and k == 0:
            os.makedirs(args.perf_record, exist_ok=True)
            for name, pid in zip(("gateway", "recipient"), pm_pids()):
                perf.append(subprocess.Popen(
                    ["perf", "record", "-F", "999", "--call-graph", "dwarf,16384", "-p", str(pid),
                     "-o", os.path.join(args.perf_record, f"{name}.data")],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            time.sleep(1)
        _, pm_mb, pm_us = loop_fetch(m, uids, args.cached_loop, CpuMeter(pm_pids))
        for p in perf:
            p.send_signal(signal.SIGINT)
            p.wait(timeout=120)
        if d is None:
            print(f"{k:5d} {pm_mb:14.1f} {'-':>13} {'-':>6} {pm_us:12.1f}")
            continue
        _, dv_mb, dv_us = loop_fetch(d, uids, args.cached_loop, CpuMeter(dovecot_pids))
        walls.append(pm_mb / dv_mb)
        cpus.append(dv_us / pm_us)
        print(f"{k:5d} {pm_mb:14.1f} {dv_mb:13.1f} {pm_mb / dv_mb:6.2f} {pm_us:12.1f} "
              f"{dv_us:11.1f} {dv_us / pm_us:6.2f}", flush=True)
    if walls:
        print(f"median ratio (> 1: pullmail better): wall {percentile(walls, 50):.2f}, "
              f"CPU per message {percentile(cpus, 50):.2f}")


def start_dovecot(world, node, bodies):
    """A Dovecot holding `bodies` in bob's Maildir, with `node`'s certificate:
    (process, IMAP port)."""
    root = os.path.join(world.root, "dovecot")
    maildir = os.path.join(root, "Maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub))
    os.makedirs(os.path.join(root, "home"))
    for i, body in enumerate(bodies):
        with open(os.path.join(maildir, "cur", f"{i:06d}.bench:2,S"), "wb") as f:
            f.write(body)
    subprocess.run(["chown", "-R", "65534:65534", maildir, os.path.join(root, "home")],
                   check=True)
    dport = free_port()
    conf = os.path.join(root, "dovecot.conf")
    tls_dir = os.path.join(os.path.dirname(node.config), "tls")
    with open(conf, "w") as f:
        f.write(dovecot_config(root, dport, os.path.join(tls_dir, "node.pem"),
                               os.path.join(tls_dir, "node.key")))
    dovecot = subprocess.Popen(["dovecot", "-c", conf, "-F"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: socket.create_connection(("127.0.0.1", dport), 1).close() or True,
               timeout=20, what="dovecot listening")
    return dovecot, dport


def dovecot_config(root, port, cert, key):
    return f"""base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
auth_mechanisms = plain
passdb {{
  driver = static
  args = password=bench
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home={root}/home
}}
mail_location = maildir:{root}/Maildir
protocol imap {{
  mail_max_userip_connections = 1000
}}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin-dir", default="build")
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--big", default="1048576,16777216")
    ap.add_argument("--latency", type=int, default=100)
    ap.add_argument("--logins", type=int, default=30)
    ap.add_argument("--clients", type=int, default=5)
    ap.add_argument("--mixed-seconds", type=float, default=10)
    ap.add_argument("--soak", type=float, default=0,
                    help="seconds of the soak run (instead of the other figures); 0 = no soak")
    ap.add_argument("--soak-clients", type=int, default=50)
    ap.add_argument("--soak-interval", type=float, default=30)
    ap.add_argument("--cached-loop", type=float, default=0,
                    help="seconds of each bulk cached read loop (instead of the other figures)")
    ap.add_argument("--loop-rounds", type=int, default=3)
    ap.add_argument("--perf-record", default="",
                    help="with --cached-loop: perf record the gateway and the recipient node "
                         "into this folder during the first round")
    args = ap.parse_args()
    if args.cached_loop > 0:
        args.big, args.latency = "", 0
    bigs = [int(x) for x in args.big.split(",") if x]

    world = World(args.bin_dir, "gateway-bench")
    dovecot = None
    try:
        a, b = world.init("a.example"), world.init("b.example")
        ann, bob = a.add_user("ann"), b.add_user("bob")
        a.start()
        b.start()
        a.gateway.start()
        b.gateway.start()
        ctx = b.tls_context()

        messages = [make_message(i, args.size) for i in range(args.messages)]
        messages += [make_multipart(args.messages + j, s) for j, s in enumerate(bigs)]
        lat_first_uid = len(messages) + 1
        messages += [make_message(len(messages) + j, args.size) for j in range(args.latency)]
        host, port = a.gateway_address("submission")
        s = smtplib.SMTP(host, port, timeout=120)
        s._host = "a.example"
        s.starttls(context=a.tls_context())
        s.login(ann.address, ann.password)
        t0 = time.perf_counter()
        for msg in messages:
            s.sendmail(ann.address, [bob.address], msg)
        submit_s = time.perf_counter() - t0
        s.quit()
        wait_until(lambda: len(bob.list()) == len(messages), timeout=300,
                   what=f"{len(messages)} messages in bob's inbox")

        host, port = b.gateway_address("imap")
        if args.soak > 0:
            connect = lambda: imap_session(host, port, bob.address, bob.password,  # noqa: E731
                                           ctx, "b.example")
            procs = {"gateway": lambda: [b.gateway.pid], "recipient": lambda: [b.recipient.pid],
                     "sender": lambda: [a.sender.pid]}
            pm = soak("pullmail", connect, procs, args.soak_clients, args.soak,
                      args.soak_interval)
            if not shutil.which("dovecot"):
                print("(dovecot not installed: apt-get install dovecot-imapd for its column)")
                return
            # The same soak against Dovecot, on the same messages, for the
            # same time: does its rate hold where pullmail's does not?
            dovecot, dport = start_dovecot(world, b, messages)
            connect_dv = lambda: imap_session("127.0.0.1", dport, "bob", "bench",  # noqa: E731
                                              ctx, "b.example")
            dv = soak("dovecot", connect_dv, {"dovecot": lambda: tree_pids(dovecot.pid)},
                      args.soak_clients, args.soak, args.soak_interval)
            print(f"{'t (s)':>7} {'pullmail ops/s':>15} {'dovecot ops/s':>14} {'ratio':>6}  "
                  f"(each interval; ratio > 1: pullmail better)")
            # Whole intervals only (the last sample ends a short one).
            for (t, _, rate), (_, _, other) in zip(pm[1:-1], dv[1:-1]):
                ratio = f"{rate / other:6.2f}" if other else f"{'-':>6}"
                print(f"{t:7.0f} {rate:15.1f} {other:14.1f} {ratio}")
            return
        m, count = imap_session(host, port, bob.address, bob.password, ctx, "b.example")
        small = list(range(1, args.messages + 1))
        if args.cached_loop > 0:
            bodies = fetch_bodies(m, small)  # the first read: cached from here on
            d = None
            if shutil.which("dovecot"):
                dovecot, dport = start_dovecot(world, b, bodies)
                d, _ = imap_session("127.0.0.1", dport, "bob", "bench", ctx, "b.example")
                assert fetch_bodies(d, small) == bodies
            assert fetch_bodies(m, small) == bodies
            cached_loop(args, m, small, lambda: [b.gateway.pid, b.recipient.pid], d,
                        lambda: tree_pids(dovecot.pid))
            m.logout()
            if d is not None:
                d.logout()
            return
        big = list(range(args.messages + 1, lat_first_uid))
        lat = list(range(lat_first_uid, len(messages) + 1))
        before = b.recipient.counter(FETCHED)
        pm_pids = (b.gateway.pid, b.recipient.pid, a.sender.pid)
        pm = measure(m, count, small, big, lambda: list(pm_pids))
        pm["_lat_bodies"] = latency(m, lat, pm, "first")
        latency(m, lat, pm, "cached")
        m.logout()
        assert before == 0, "the listing must not have pulled bodies"
        connect_pm = lambda: imap_session(host, port, bob.address, bob.password, ctx,  # noqa: E731
                                          "b.example")
        login_latency(lambda: connect_pm()[0], args.logins, pm)
        mixed(connect_pm, args.clients, args.mixed_seconds, pm)

        results = {"pullmail": pm}
        if shutil.which("dovecot"):
            bodies = (pm.get("_small_bodies", []) + pm.get("_big_bodies", []) +
                      pm.get("_lat_bodies", []))
            dovecot, dport = start_dovecot(world, b, bodies)
            d, dcount = imap_session("127.0.0.1", dport, "bob", "bench", ctx, "b.example")
            assert dcount == count, (dcount, count)
            dv = measure(d, dcount, small, big, lambda: tree_pids(dovecot.pid))
            latency(d, lat, dv, "first")
            latency(d, lat, dv, "cached")
            d.logout()
            connect_dv = lambda: imap_session("127.0.0.1", dport, "bob", "bench", ctx,  # noqa: E731
                                              "b.example")
            login_latency(lambda: connect_dv()[0], args.logins, dv)
            mixed(connect_dv, args.clients, args.mixed_seconds, dv)
            results["dovecot"] = dv

        print(f"pullmail-gateway IMAP beside Dovecot: {args.messages} messages of "
              f"{args.size} B" + (f" + {len(bigs)} of {', '.join(map(str, bigs))} B" if bigs else "")
              + ", IMAP over STARTTLS on 127.0.0.1")
        print(f"submission through the gateway: {len(messages) / submit_s:.0f} messages/s "
              f"(SMTP + STARTTLS + AUTH -> sender node, durable)")
        dv = results.get("dovecot")
        print(f"{'':20} {'pullmail':>12} {'dovecot':>12} {'ratio':>7}  (ratio > 1: pullmail better)")
        for key, entry in pm.items():
            if key.startswith("_"):
                continue
            value, unit = entry[0], entry[1]
            lower_is_better = len(entry) > 2
            other = dv[key][0] if dv else None
            if other and value:
                ratio = f"{(other / value if lower_is_better else value / other):7.2f}"
            else:
                ratio = "      -"
            other_s = f"{other:12.1f}" if other else f"{'-':>12}"
            fmt = ".2f" if lower_is_better else ".1f"
            other_s = f"{other:12{fmt}}" if other else f"{'-':>12}"
            print(f"{key:20} {value:12{fmt}} {other_s} {ratio}  {unit}")
        if not dv:
            print("(dovecot not installed: apt-get install dovecot-imapd for the peer figures)")
        print("first = pullmail pulls each body from the sender node (verify, cache, serve); "
              "again = from the recipient node's cache")
    finally:
        if dovecot is not None:
            dovecot.terminate()
            dovecot.wait(timeout=20)
        world.close()


if __name__ == "__main__":
    main()
