#!/usr/bin/env python3
"""Mail arriving by SMTP: pullmail-gateway's SMTP-in listener beside Postfix.

Postfix's own load generator, `smtp-source -s SESSIONS -m MESSAGES -l SIZE`,
sends the same load, in the same run, to

  pullmail   b.example's gateway SMTP-in listener (smtp_listen): the gateway
             hands each message to b.example's sender node (Bridge: one body
             store, one signed notification), which notifies b.example's
             recipient node; "listed" = accepted into bob's INBOX;
  postfix    a private Postfix instance (its own config, queue and log under
             a temporary folder; 127.0.0.1 on a free port) delivering to a
             Maildir with virtual(8); "listed" = a file in Maildir/new.

Both keep every message durably before they answer 250 (pullmail: SQLite
WAL commits; Postfix: fsync of the queue file, then of the delivered file).
It prints, for each, the rate at which smtp-source's messages were accepted
(250 to the final dot) and the rate at which they were listed end to end,
with the machine's load beside each figure, and pullmail/postfix ratios.
Figures, not a test: nothing here passes or fails on time.

Needs Postfix (smtp-source and the postfix programs): bench/install-bench-deps.sh
installs it from Debian. Runs as root (Postfix's master must).

It also prints where the CPU went, per message, on both sides (from /proc,
so the machine's other load moves it far less than it moves the rates):
pullmail's gateway, sender node and recipient node; Postfix's master and
every process it ran (smtpd, cleanup, qmgr, trivial-rewrite, virtual ...:
the master's own time, the time of its children still running, and that
of the children it reaped, /proc's cutime/cstime); and smtp-source's own
time on each side. On a shared machine the rates of one run move by 2-3x
with the load; --runs N alternates the two sides N times and prints each
run, then the median and the spread (min-max) of every figure, and the
median of the per-run ratios (each ratio is from one pair of runs made a
few seconds apart).

--perf DIR records the whole machine (`perf record -a`, call graphs) while
pullmail's smtp-source runs and until the last message is listed, into
DIR/pullmail.data, and prints the pids to pass to `perf report --pid`
(per-process recording with -p misses the gateway's connection threads,
which start after perf attaches). PERF_FLAGS overrides the sampling flags.

Usage: bench/smtpin_bench.py [--bin-dir build] [--sessions 10] [--messages 2000]
                             [--size 4096] [--runs 1] [--only pullmail|postfix]
                             [--perf DIR]
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from world import World, free_port, wait_until  # noqa: E402

ACCEPTED = "pullmail_notifications_accepted_total"
SIGNATURES = "pullmail_notification_signatures_total"
BATCHES = "pullmail_bridge_batches_total"
SENDER = "carol@legacy.example"  # a domain the directory does not list: a legacy sender


def load():
    return f"load {os.getloadavg()[0]:.2f}"


def cpu_seconds(pid):
    """User + system CPU seconds used so far by process `pid`."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postfix_cpu_seconds(master_pid):
    """CPU seconds of a Postfix instance so far: its master's own and reaped
    children's time, plus the time of the children still running."""
    total = 0.0
    tck = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        # fields[1] is the parent pid (field 4); 13/14 cutime/cstime.
        if int(pid) == master_pid:
            total += sum(int(x) for x in fields[11:15]) / tck
        elif int(fields[1]) == master_pid:
            total += (int(fields[11]) + int(fields[12])) / tck
    return total


def children_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def smtp_source(args, host, port, to, cpu=None):
    """Runs smtp-source; returns its wall time in seconds. Adds its CPU
    seconds to cpu["smtp-source"] when `cpu` is given."""
    argv = ["smtp-source", "-s", str(args.sessions), "-m", str(args.messages),
            "-l", str(args.size), "-f", SENDER, "-t", to, "-M", "mx.legacy.example",
            f"{host}:{port}"]
    c = children_cpu_seconds()
    t = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - t
    if cpu is not None:
        cpu["smtp-source"] = children_cpu_seconds() - c
    if p.returncode != 0:
        sys.exit(f"smtp-source failed ({p.returncode}): {p.stderr.strip()[:500]}")
    return elapsed


def bench_pullmail(args, run):
    """One pullmail run; returns a result dict (see print_run)."""
    world = World(args.bin_dir, "smtpin-bench")
    try:
        b = world.init("b.example")
        bob = b.add_user("bob")
        b.start()
        b.gateway.start()
        host, port = b.gateway_address("smtp")
        before = b.recipient.counter(ACCEPTED)
        sigs_before = b.sender.counter(SIGNATURES)
        batches_before = b.sender.counter(BATCHES)
        procs = {"gateway": b.gateway.pid, "sender": b.sender.pid, "recipient": b.recipient.pid}
        cpu0 = {k: cpu_seconds(pid) for k, pid in procs.items()}
        perf = None
        if args.perf:
            os.makedirs(args.perf, exist_ok=True)
            out = os.path.join(args.perf, f"pullmail{'' if run == 0 else run}.data")
            perf = subprocess.Popen(
                ["perf", "record", "-a"] +
                os.environ.get("PERF_FLAGS", "-F 999 --call-graph dwarf,8192").split() +
                ["-o", out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        cpu = {}
        t0 = time.perf_counter()
        accepted_s = smtp_source(args, host, port, bob.address, cpu)
        accepted_load = load()
        wait_until(lambda: b.recipient.counter(ACCEPTED) - before >= args.messages, 1800,
                   interval=0.02, what=f"{args.messages} notifications accepted at b.example")
        listed_s = time.perf_counter() - t0
        listed_load = load()
        for k, pid in procs.items():
            cpu[k] = cpu_seconds(pid) - cpu0[k]
        if perf is not None:
            perf.send_signal(2)
            perf.wait(timeout=300)
            print(f"perf: {out}; perf report -i {out} --pid " +
                  ",".join(str(p) for p in procs.values()) + " (" +
                  ", ".join(f"{k} {p}" for k, p in procs.items()) + ")", flush=True)
        sigs = b.sender.counter(SIGNATURES) - sigs_before
        batches = b.sender.counter(BATCHES) - batches_before
        listed = len(bob.list())
        if listed < args.messages:
            sys.exit(f"pullmail: only {listed} of {args.messages} listed in bob's INBOX")
        return {"accepted_s": accepted_s, "listed_s": listed_s, "accepted_load": accepted_load,
                "listed_load": listed_load, "cpu": cpu,
                "note": f"{args.messages / max(sigs, 1):.1f} notifications per signature, "
                        f"{batches:.0f} BridgeBatch calls"}
    finally:
        # PULLMAIL_BENCH_KEEP=1 keeps the nodes' folders and logs.
        world.close(keep=os.environ.get("PULLMAIL_BENCH_KEEP") == "1")


POSTFIX_MAIN = """\
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.bench.example
mydomain = bench.example
myorigin = $myhostname
mydestination =
relay_domains =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = b.example
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = static:bob/Maildir/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
alias_maps =
alias_database =
local_recipient_maps =
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtputf8_enable = no
biff = no
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
default_process_limit = 100
"""


def postfix_master_cf(port):
    """Debian's master.cf with the SMTP listener on `port` and no chroot
    (a private instance has no chroot jail set up)."""
    out = []
    with open("/etc/postfix/master.cf") as f:
        for line in f:
            fields = line.split()
            if line[:1] in ("#", " ", "\t", "\n") or len(fields) < 8:
                out.append(line)
                continue
            if fields[0] == "smtp" and fields[1] == "inet":
                fields[0] = f"127.0.0.1:{port}"
            fields[4] = "n"
            out.append("  ".join(fields) + "\n")
    return "".join(out)


def bench_postfix(args, run):
    if os.geteuid() != 0:
        sys.exit("the Postfix run needs root (Postfix's master must start as root)")
    d = tempfile.mkdtemp(prefix="pullmail-bench-postfix-")
    conf = os.path.join(d, "conf")
    try:
        os.makedirs(conf)
        for sub in ("data", "mail", "queue"):
            os.makedirs(os.path.join(d, sub))
        shutil.chown(os.path.join(d, "data"), "postfix")
        os.chown(os.path.join(d, "mail"), 65534, 65534)
        os.chmod(d, 0o755)
        port = free_port()
        with open(os.path.join(conf, "main.cf"), "w") as f:
            f.write(POSTFIX_MAIN.format(d=d))
        with open(os.path.join(conf, "master.cf"), "w") as f:
            f.write(postfix_master_cf(port))
        # A config file younger than ~2 s makes the master re-read it in a
        # loop (TOOLCHAIN.md): backdate them.
        old = time.time() - 60
        for name in ("main.cf", "master.cf"):
            os.utime(os.path.join(conf, name), (old, old))
        # `check` creates the queue's subfolders with their owners and modes.
        for verb in ("check", "start"):
            p = subprocess.run(["postfix", "-c", conf, verb], capture_output=True, text=True,
                               timeout=60)
            if p.returncode != 0:
                sys.exit(f"postfix {verb} failed: {p.stderr.strip()} (see {d}/maillog)")
        try:
            wait_until(lambda: _listening(port), 30, interval=0.05, what="Postfix's smtpd")
            maildir_new = os.path.join(d, "mail", "bob", "Maildir", "new")
            with open(os.path.join(d, "queue", "pid", "master.pid")) as f:
                master = int(f.read().split()[0])
            cpu = {}
            cpu0 = postfix_cpu_seconds(master)
            t0 = time.perf_counter()
            accepted_s = smtp_source(args, "127.0.0.1", port, "bob@b.example", cpu)
            accepted_load = load()
            wait_until(lambda: _count(maildir_new) >= args.messages, 1800, interval=0.02,
                       what=f"{args.messages} messages in Postfix's Maildir")
            listed_s = time.perf_counter() - t0
            cpu["postfix"] = postfix_cpu_seconds(master) - cpu0
            return {"accepted_s": accepted_s, "listed_s": listed_s,
                    "accepted_load": accepted_load, "listed_load": load(), "cpu": cpu,
                    "note": ""}
        finally:
            subprocess.run(["postfix", "-c", conf, "stop"], capture_output=True, timeout=60)
    finally:
        if os.environ.get("PULLMAIL_BENCH_KEEP") != "1":
            shutil.rmtree(d, ignore_errors=True)


def _listening(port):
    import socket
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _count(path):
    try:
        return len(os.listdir(path))
    except FileNotFoundError:
        return 0


def cpu_line(args, cpu):
    """"gateway 395, sender 540, ... us" per message; the processes' own
    total first (smtp-source, the load generator, apart)."""
    own = {k: v for k, v in cpu.items() if k != "smtp-source"}
    parts = [f"{k} {v * 1e6 / args.messages:.0f}" for k, v in own.items()]
    total = sum(own.values()) * 1e6 / args.messages
    load_gen = cpu.get("smtp-source", 0.0) * 1e6 / args.messages
    return f"{total:.0f} us ({', '.join(parts)}; smtp-source {load_gen:.0f})"


def print_run(args, name, r):
    n = args.messages
    print(f"{name:8}  accepted {n / r['accepted_s']:7.0f} msgs/s ({r['accepted_s']:6.2f} s) "
          f"[{r['accepted_load']}]   listed end to end {n / r['listed_s']:7.0f} msgs/s "
          f"({r['listed_s']:6.2f} s) [{r['listed_load']}]", flush=True)
    print(f"{'':8}  CPU per message {cpu_line(args, r['cpu'])}"
          + (f"; {r['note']}" if r["note"] else ""), flush=True)


def spread(values, fmt="{:.0f}"):
    if len(values) == 1:
        return fmt.format(values[0])
    return (fmt.format(statistics.median(values)) + " (" + fmt.format(min(values)) + "-" +
            fmt.format(max(values)) + ")")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin-dir", default="build")
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--runs", type=int, default=1,
                    help="alternate the two sides this many times; print medians and spread")
    ap.add_argument("--only", choices=("pullmail", "postfix"))
    ap.add_argument("--perf", metavar="DIR", help="perf record the machine during pullmail's runs")
    args = ap.parse_args()
    for tool in ("smtp-source", "postfix"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: install Postfix with bench/install-bench-deps.sh")

    print(f"smtp-source -s {args.sessions} -m {args.messages} -l {args.size}, "
          f"{os.cpu_count()} cores, {args.runs} run(s) each; {load()}", flush=True)
    sides = [(name, fn) for name, fn in (("pullmail", bench_pullmail), ("postfix", bench_postfix))
             if not args.only or args.only == name]
    results = {name: [] for name, _ in sides}
    for run in range(args.runs):
        # Alternate which side goes first, so that neither always meets the
        # machine in the same state.
        order = sides if run % 2 == 0 else list(reversed(sides))
        for name, fn in order:
            r = fn(args, run)
            results[name].append(r)
            print_run(args, name if args.runs == 1 else f"{name} #{run + 1}", r)
    n = args.messages
    if args.runs > 1:
        print(f"over {args.runs} runs: median (min-max)")
        for name, rs in results.items():
            keys = list(rs[0]["cpu"].keys())
            cpu = ", ".join(f"{k} {spread([r['cpu'][k] * 1e6 / n for r in rs])}" for k in keys)
            own = [sum(v for k, v in r["cpu"].items() if k != "smtp-source") * 1e6 / n
                   for r in rs]
            print(f"{name:8}  accepted {spread([n / r['accepted_s'] for r in rs])} msgs/s, "
                  f"listed end to end {spread([n / r['listed_s'] for r in rs])} msgs/s")
            print(f"{'':8}  CPU per message {spread(own)} us ({cpu})")
    if len(results) == 2:
        p, q = results["pullmail"], results["postfix"]
        acc = [(n / a["accepted_s"]) / (n / b["accepted_s"]) for a, b in zip(p, q)]
        e2e = [(n / a["listed_s"]) / (n / b["listed_s"]) for a, b in zip(p, q)]
        own = lambda r: sum(v for k, v in r["cpu"].items() if k != "smtp-source")
        cpu = [own(b) / own(a) for a, b in zip(p, q)]
        print(f"pullmail/postfix: accepted {spread(acc, '{:.2f}')}x, listed end to end "
              f"{spread(e2e, '{:.2f}')}x (target 2x end to end); postfix CPU / pullmail CPU "
              f"per message {spread(cpu, '{:.2f}')}x")


if __name__ == "__main__":
    main()
