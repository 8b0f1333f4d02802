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

It also prints where pullmail's CPU went: CPU time per message of the
gateway, the sender node and the recipient node (from /proc, so the
machine's other load does not change it). --perf DIR records each of the
three with `perf record` into DIR/{gateway,sender,recipient}.data.

Usage: bench/smtpin_bench.py [--bin-dir build] [--sessions 10] [--messages 2000]
                             [--size 4096] [--only pullmail|postfix] [--perf DIR]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from world import World, free_port, wait_until  # noqa: E402

ACCEPTED = "pullmail_notifications_accepted_total"
SIGNATURES = "pullmail_notification_signatures_total"
SENDER = "carol@legacy.example"  # a domain the directory does not list: a legacy sender


def load():
    return f"load {os.getloadavg()[0]:.2f}"


def cpu_seconds(pid):
    """User + system CPU seconds used so far by process `pid`."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def smtp_source(args, host, port, to):
    """Runs smtp-source; returns its wall time in seconds."""
    argv = ["smtp-source", "-s", str(args.sessions), "-m", str(args.messages),
            "-l", str(args.size), "-f", SENDER, "-t", to, "-M", "mx.legacy.example",
            f"{host}:{port}"]
    t = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"smtp-source failed ({p.returncode}): {p.stderr.strip()[:500]}")
    return elapsed


def bench_pullmail(args):
    world = World(args.bin_dir, "smtpin-bench")
    try:
        b = world.init("b.example")
        bob = b.add_user("bob")
        b.start()
        b.gateway.start()
        host, port = b.gateway_address("smtp")
        before = b.recipient.counter(ACCEPTED)
        sigs_before = b.sender.counter(SIGNATURES)
        procs = {"gateway": b.gateway.pid, "sender": b.sender.pid, "recipient": b.recipient.pid}
        cpu0 = {k: cpu_seconds(pid) for k, pid in procs.items()}
        perfs = []
        if args.perf:
            os.makedirs(args.perf, exist_ok=True)
            for k, pid in procs.items():
                perfs.append(subprocess.Popen(
                    ["perf", "record"] + os.environ.get("PERF_FLAGS", "-F 300 --call-graph dwarf,32768").split() + ["-o",
                     os.path.join(args.perf, f"{k}.data"), "-p", str(pid)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            time.sleep(0.5)
        t0 = time.perf_counter()
        accepted_s = smtp_source(args, host, port, bob.address)
        accepted_load = load()
        wait_until(lambda: b.recipient.counter(ACCEPTED) - before >= args.messages, 1800,
                   interval=0.02, what=f"{args.messages} notifications accepted at b.example")
        listed_s = time.perf_counter() - t0
        listed_load = load()
        cpu = {k: (cpu_seconds(pid) - cpu0[k]) * 1e6 / args.messages for k, pid in procs.items()}
        for p in perfs:
            p.send_signal(2)
            p.wait(timeout=120)
        sigs = b.sender.counter(SIGNATURES) - sigs_before
        print(f"pullmail sender: {args.messages} notifications under {sigs:.0f} signatures "
              f"({args.messages / max(sigs, 1):.1f} per signature)", flush=True)
        print("pullmail CPU per message: " +
              ", ".join(f"{k} {v:.0f} us" for k, v in cpu.items()) +
              f"; total {sum(cpu.values()):.0f} us", flush=True)
        listed = len(bob.list())
        if listed < args.messages:
            sys.exit(f"pullmail: only {listed} of {args.messages} listed in bob's INBOX")
        return accepted_s, listed_s, accepted_load, listed_load
    finally:
        world.close()


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


def bench_postfix(args):
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
            t0 = time.perf_counter()
            accepted_s = smtp_source(args, "127.0.0.1", port, "bob@b.example")
            accepted_load = load()
            wait_until(lambda: _count(maildir_new) >= args.messages, 1800, interval=0.02,
                       what=f"{args.messages} messages in Postfix's Maildir")
            listed_s = time.perf_counter() - t0
            return accepted_s, listed_s, accepted_load, load()
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin-dir", default="build")
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--only", choices=("pullmail", "postfix"))
    ap.add_argument("--perf", metavar="DIR", help="perf record the three pullmail programs")
    args = ap.parse_args()
    for tool in ("smtp-source", "postfix"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: install Postfix with bench/install-bench-deps.sh")

    print(f"smtp-source -s {args.sessions} -m {args.messages} -l {args.size}, "
          f"{os.cpu_count()} cores")
    rows = {}
    for name, fn in (("pullmail", bench_pullmail), ("postfix", bench_postfix)):
        if args.only and args.only != name:
            continue
        acc, e2e, acc_load, e2e_load = fn(args)
        rows[name] = (args.messages / acc, args.messages / e2e)
        print(f"{name:8}  accepted {args.messages / acc:7.0f} msgs/s ({acc:6.2f} s) [{acc_load}]"
              f"   listed end to end {args.messages / e2e:7.0f} msgs/s ({e2e:6.2f} s) [{e2e_load}]",
              flush=True)
    if len(rows) == 2:
        p, q = rows["pullmail"], rows["postfix"]
        print(f"pullmail/postfix: accepted {p[0] / q[0]:.2f}x, listed end to end {p[1] / q[1]:.2f}x"
              f" (target 2x end to end)")


if __name__ == "__main__":
    main()
