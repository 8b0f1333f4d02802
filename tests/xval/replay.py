#!/usr/bin/env python3
"""Cross-validation of pullmail-sim against real nodes (issue 13, point 5).

    python3 tests/xval/replay.py --bin-dir build --scenario tests/xval/xval.toml
    python3 tests/xval/replay.py --bin-dir build --scenario S --check   # what ctest runs

1. `pullmail-sim --workload_out` runs the scenario and writes the workload it
   generated (sim/workload_out.h): domains, users, every message (sender,
   recipients, size, body identity, creation time), what the reader of each
   copy chose (open it or not, after how long, report it or not), and what
   the simulator made of it (each copy's place and flags; bytes by kind).
2. A federation of real nodes is built with `pullmail init` on loopback
   (tests/e2e/world.py), one domain per simulated domain, TLS as deployed.
   Every recipient node gets the scenario's [policy] table verbatim as its
   [recipient.policy] (both parse it with core's ParsePolicyConfig), the
   sender nodes the scenario's retention, the recipient nodes its prefetch
   margin. Every node runs on a compressed clock (--clock_speed S with one
   --clock_origin), so that simulated time t is wall time origin + t / S.
3. The workload is played in the order of simulated time: each message is
   submitted by its sender (`pullmail send`, the RFC 5322 message composed
   at exactly the simulated size, byte-identical for one body) at its
   creation time; each copy whose reader opens it is looked up in the
   reader's INBOX at visible time + delay and, if it is shown and unread
   there, read (`pullmail read`: the recipient node fetches the body) and,
   if the reader reports, reported (`pullmail report UID spam`). Events run
   one at a time; one that falls behind the clock runs late, never out of
   order.
4. At the end each copy's place is read back from the mailboxes (INBOX,
   Junk; held and revoked copies by their state), bounces from the senders'
   delivery states, and compared with the simulator's, copy by copy. Bytes:
   the directory names a counting TCP relay in front of every node (the way
   sim/measure_wire.py counts), so that every byte between nodes is seen:
   relays in front of recipient nodes carry notifications and their acks
   (the simulator's notify + notify_ack), relays in front of sender nodes
   carry fetches (fetch_request + body). Clients reach their own node
   directly (node.toml), so user traffic is not counted, as in the model.

With --check the exit status is 1 unless every copy ends alike and the total
bytes agree within --tolerance (5%). The table is printed (Markdown) and
written to --table if given. Nothing leaves 127.0.0.1; every process started
is stopped by PID.
"""

import argparse
import heapq
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(0, os.path.join(ROOT, "sim"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from world import World, free_port, wait_until  # noqa: E402
# The counting TCP relay of sim/measure_wire.py, and Postfix's master.cf for
# a private instance from bench/smtpin_bench.py.
from measure_wire import FRAME_NAMES, Relay, frames  # noqa: E402
from smtpin_bench import postfix_master_cf  # noqa: E402


# --------------------------------------------------------------- the relay

def relay_address(relay):
    return f"127.0.0.1:{relay.port}"


def relay_counts(relay):
    """(connections, bytes in, bytes out) a measure_wire Relay has seen."""
    snap = relay.snapshot()
    return len(snap), sum(u for u, _ in snap), sum(d for _, d in snap)


# ---------------------------------------------------------------- workload

def load_workload(path):
    w = {"domains": [], "messages": [], "copies": [], "worlds": {}}
    with open(path) as f:
        for line in f:
            o = json.loads(line)
            t = o["type"]
            if t == "run":
                w["run"] = o
            elif t == "domain":
                w["domains"].append(o)
            elif t == "message":
                w["messages"].append(o)
            elif t == "copy":
                w["copies"].append(o)
            elif t == "world":
                w["worlds"][o["name"]] = o
    return w


SIM_EPOCH = 1704067200  # sim/wire.h SimEpoch(): 2024-01-01T00:00:00Z


def compose(msg, first=None):
    """The RFC 5322 message of `msg`: exactly msg["size"] bytes, with the
    header fields from which sim/wire.cc builds the notification's summary
    (From "User N <a>" or "Offers N <a>", To: every recipient, a Subject of
    subject_bytes, the Date of its creation, its Message-ID), so that the
    real notification is the size the model signs. Messages of one body
    must be the same bytes (one SHA-256): they all carry the header fields
    of `first`, the first message with that body, and differ from the
    model's summary only by the lengths of their To: addresses."""
    h = first or msg
    who = "Offers" if h["campaign"] else "User"
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(SIM_EPOCH + int(h["created"])))
    head = (f"From: {who} {h['sender_user']} <{h['from']}>\r\nTo: {', '.join(h['to'])}\r\n"
            f"Subject: {'s' * h['subject_bytes']}\r\nDate: {date}\r\n"
            f"Message-ID: <{h['message_id']}>\r\n\r\n")
    n = msg["size"] - len(head)
    assert n >= 2, msg
    line = "x" * 76 + "\r\n"
    text = line * (n // len(line))
    rest = n - len(text)
    if rest >= 2:
        text += "y" * (rest - 2) + "\r\n"
    elif rest == 1:
        text = text[:-2] + "z\r\n"  # one more byte in the last line
    out = (head + text).encode()
    assert len(out) == msg["size"], (len(out), msg["size"])
    return out


def first_of_body(messages):
    """body -> the first message (lowest index) with that body."""
    first = {}
    for m in messages:
        first.setdefault(m["body"], m)
    return first


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise ValueError(f"cannot write {v!r} as TOML")


def seconds(v):
    """A scenario duration ("6h", "90s", "1d12h", a number) in seconds."""
    if isinstance(v, (int, float)):
        return float(v)
    total, num = 0.0, ""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    i = 0
    while i < len(v):
        c = v[i]
        if c.isdigit() or c == ".":
            num += c
            i += 1
            continue
        unit = v[i:i + 2] if v[i:i + 2] == "ms" else c
        total += float(num) * units[unit]
        num, i = "", i + len(unit)
    return total + (float(num) if num else 0)


def configure(domain, scenario, retention, speed):
    """Gives `domain`'s node.toml the scenario's policy, retention and
    prefetch margin (whole hours: the node's unit). The fetch bounds that
    stand for wall time on the network (grace before the minimum rate
    applies, a fetch's longest life; core/logic/fetch_schedule.h) are
    scaled by the clock speed, so that they still mean the same wall time:
    on a 240x clock a 10 s grace would otherwise cut a 50 ms first fetch."""
    pin = seconds(scenario.get("pull", {}).get("pin_margin", 86400))
    with open(domain.config) as f:
        lines = f.read().splitlines()
    out, skip = [], False
    for l in lines:
        if l.startswith("["):
            skip = l.startswith("[recipient.policy]")
        if skip or l.startswith(("retention_hours", "prefetch_before_expiry_hours")):
            continue
        out.append(l)
        if l == "[sender]":
            out.append(f"retention_seconds = {int(retention)}")
        if l == "[recipient]":
            out.append(f"prefetch_before_expiry_hours = {round(pin / 3600)}")
    out.append("")
    out.append("[recipient.fetch]  # wall-time bounds on a compressed clock (tests/xval/replay.py)")
    out.append(f"grace_seconds = {int(10 * speed)}")
    out.append(f"max_duration_seconds = {min(int(600 * speed), 86400)}")
    out.append("")
    out.append("[recipient.policy]  # the scenario's [policy], verbatim (tests/xval/replay.py)")
    for k, v in scenario.get("policy", {}).items():
        out.append(f"{k} = {toml_value(v)}")
    with open(domain.config, "w") as f:
        f.write("\n".join(out) + "\n")


# ------------------------------------------------------------------ replay

class Replay:
    def __init__(self, bin_dir, scenario, workload, speed, log, plaintext=False):
        self.bin_dir, self.scenario, self.w, self.speed, self.log = bin_dir, scenario, workload, speed, log
        self.plaintext = plaintext
        self.world = World(bin_dir, name="xval", dns=False)
        self.domains = {}       # name -> world Domain
        self.users = {}         # address -> world User
        self.relays = []        # (kind, measure_wire Relay)
        self.ids = {}           # message index -> real message id
        self.read_ok = set()    # (message index, address) read with the body
        self.first = first_of_body(workload["messages"])
        self.late = 0.0         # how far (wall s) the replay fell behind, at most
        self.origin = None
        readers = scenario.get("readers", {})
        self.retry_delay = seconds(readers.get("retry_delay", 900))
        self.max_retries = int(readers.get("max_retries", 3))

    def build(self):
        sc = self.scenario
        legit_retention = seconds(sc.get("legit", {}).get("retention", 7 * 86400))
        for d in self.w["domains"]:
            dom = self.world.init(d["name"], *(["--plaintext"] if self.plaintext else []))
            self.domains[d["name"]] = dom
            retention = legit_retention
            if d["spam"]:
                camps = sc.get("campaign", [])
                retention = max([seconds(c.get("retention", 7 * 86400)) for c in camps] or [legit_retention])
            configure(dom, sc, retention, self.speed)
            for address in d["users"]:
                self.users[address] = dom.add_user(address.split("@")[0])
        # Counting relays: the directory names them instead of the nodes.
        path = os.path.join(self.world.root, "directory.toml")
        with open(path) as f:
            text = f.read()
        for dom in self.domains.values():
            for kind in ("recipient", "sender"):
                listen = dom.info[f"{kind}_listen"]
                relay = Relay(listen)
                relay.name = f"{dom.name} {kind}"
                self.relays.append((kind, relay))
                key = f'{kind}_endpoint = "{listen}"'
                assert key in text, (key, path)
                text = text.replace(key, f'{kind}_endpoint = "{relay_address(relay)}"')
        with open(path, "w") as f:
            f.write(text)

    def start(self):
        # Simulated time 0 is wall time `origin`; a few seconds ahead so that
        # every node is up before the first event.
        self.origin = int(time.time()) + 3
        flags = [f"--clock_speed={self.speed}", f"--clock_origin={self.origin}"]
        for dom in self.domains.values():
            dom.sender.args = list(flags)
            dom.recipient.args = list(flags)
            dom.sender.start(wait=False)
            dom.recipient.start(wait=False)
        for dom in self.domains.values():
            dom.sender.wait_ready()
            dom.recipient.wait_ready()

    def at(self, t):
        """Waits until simulated time t (never returns early)."""
        wall = self.origin + t / self.speed
        now = time.time()
        if wall > now:
            time.sleep(wall - now)
        else:
            self.late = max(self.late, now - wall)

    # --- events

    def submit(self, i):
        m = self.w["messages"][i]
        user = self.users[m["from"]]
        args = ["send", "--json", "--file", "-"]
        for to in m["to"]:
            args += ["--to", to]
        r = self.world.pullmail(*args, "--config", user.domain.config, "--user", user.address,
                                env={"PULLMAIL_PASSWORD": user.password},
                                stdin=compose(m, self.first[m["body"]]).decode())
        out = r.json()
        self.ids[i] = out.get("message_id") or out.get("messageId")
        assert self.ids[i], r

    def find(self, user, i):
        """(folder, entry) of message i in `user`'s INBOX or Junk, or None."""
        mid = self.ids.get(i)
        for folder in ("INBOX", "Junk"):
            for e in user.list(folder):
                if (e.get("message_id") or e.get("messageId")) == mid:
                    return folder, e
        return None

    def read(self, copy, attempt):
        """Opens the copy as the simulator's reader does; returns True if it
        is to be tried again (a retryable failure, attempts left)."""
        i, address = copy["message"], copy["to"]
        user = self.users[address]
        # The copy was delivered well before (its reader's delay); a bounded
        # wait covers a delivery still in flight.
        found = wait_until(lambda: self.find(user, i), timeout=20,
                           what=f"message {i} at {address}")
        folder, e = found
        if folder != "INBOX" or e.get("state", "shown") != "shown" or "\\Seen" in e.get("flags", []):
            return  # not visible to its reader (suppressed, held, ...): not opened
        uid = e["uid"]
        r = user.read(uid, check=False)
        if r.returncode != 0:
            # Exit 3: the sender's node is unavailable (retryable), as the
            # simulator's reader sees a failed fetch: again after retry_delay.
            self.log(f"read of message {i} by {address} failed (attempt {attempt + 1}): "
                     f"{r.stderr.strip()}")
            return r.returncode == 3 and attempt < self.max_retries
        self.read_ok.add((i, address))
        if copy.get("reports"):
            user.run("report", str(uid), "spam", "--folder", "INBOX")
        return False

    def run(self):
        """Plays every event in simulated-time order; returns the time of the
        last one."""
        events = []  # (time, kind order, message, sequence, kind, what, attempt)
        for m in self.w["messages"]:
            events.append((m["created"], 0, m["index"], len(events), "submit", m["index"], 0))
        for c in self.w["copies"]:
            if c.get("reads"):
                m = self.w["messages"][c["message"]]
                events.append((m["created"] + c["delay"], 1, c["message"], len(events), "read", c, 0))
        heapq.heapify(events)
        last = 0
        while events:
            t, order, msg, seq, kind, what, attempt = heapq.heappop(events)
            self.at(t)
            last = t
            if kind == "submit":
                self.submit(what)
            elif self.read(what, attempt):
                heapq.heappush(events, (t + self.retry_delay, order, msg, seq, kind, what, attempt + 1))
        return last

    # --- results

    def collect(self):
        """Each copy's outcome as tests/parity describes it."""
        places = {}
        for address, user in self.users.items():
            if address.startswith("bot"):
                continue
            for folder in ("INBOX", "Junk"):
                for e in user.list(folder):
                    mid = e.get("message_id") or e.get("messageId")
                    state = e.get("state", "shown")
                    if folder == "Junk":
                        place = "junk"
                    elif state == "held":
                        place = "held"
                    elif state == "revoked":
                        place = "hidden"
                    else:
                        place = "shown"
                    places[(mid, address)] = place
        bounced = set()
        senders = {m["from"] for m in self.w["messages"]}
        for s in senders:
            for sm in self.users[s].sent():
                mid = sm.get("message_id") or sm.get("messageId")
                for d in sm.get("deliveries", []):
                    if d.get("state") == "bounced":
                        bounced.add((mid, d.get("domain")))
        real = {}
        for c in self.w["copies"]:
            i, address = c["message"], c["to"]
            mid = self.ids.get(i)
            desc = places.get((mid, address), "none")
            if (i, address) in self.read_ok:
                desc += " read"
            if (mid, address.split("@")[1]) in bounced:
                desc += " bounced"
            real[(i, address)] = desc
        byte_counts = {"recipient": 0, "sender": 0}
        connections = {"recipient": 0, "sender": 0}
        for kind, relay in self.relays:
            n, up, down = relay_counts(relay)
            calls = ""
            if self.plaintext:
                # gRPC calls = HTTP/2 streams the client opened (HEADERS).
                ids, kinds = set(), {}
                for c, (u, d) in enumerate(relay.streams()):
                    ids |= {(c, sid) for _, t, _, sid, _ in frames(u, 0, len(u)) if t == 1}
                    for way in (u, d):
                        for _, t, _, _, payload in frames(way, 0, len(way)):
                            name = FRAME_NAMES.get(t, str(t))
                            kinds[name] = kinds.get(name, 0) + 9 + len(payload)
                calls = (f", {len(ids)} gRPC calls; HTTP/2 frames: " +
                         ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
            self.log(f"relay {relay.name}: {n} connections, {up} bytes in, {down} bytes out{calls}")
            byte_counts[kind] += up + down
            connections[kind] += n
        return real, byte_counts, connections

    def close(self, keep=False):
        for _, relay in self.relays:
            relay.close()
        self.world.close(keep=keep)


class PostfixMta:
    """A private Postfix instance as the receiving MTA of the push replay
    (TOOLCHAIN.md "Real mail servers on loopback"): its own config, queue,
    log and Maildir under a temp folder, listening on a free loopback port,
    taking mail for the legacy domains into one Maildir (one file per
    delivered copy), STARTTLS offered with the given certificate. Needs
    root (Postfix's master) and the Debian postfix package; stopped with
    `postfix -c DIR stop` (the instance's own master only)."""

    MAIN = """\
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.legacy.example
mydomain = legacy.example
myorigin = $myhostname
mydestination =
relay_domains =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = {domains}
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = texthash:{d}/conf/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
alias_maps =
alias_database =
local_recipient_maps =
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtputf8_enable = no
biff = no
smtpd_tls_security_level = may
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_loglevel = 1
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
"""

    @staticmethod
    def available():
        import shutil
        return os.geteuid() == 0 and shutil.which("postfix") is not None and \
            os.path.exists("/etc/postfix/master.cf")

    def __init__(self, domains, users, cert, key):
        """`users`: the addresses that exist (RCPT TO any other: 550 5.1.1)."""
        import shutil
        self.d = tempfile.mkdtemp(prefix="pullmail-xval-postfix-")
        self.conf = os.path.join(self.d, "conf")
        os.makedirs(self.conf)
        for sub in ("data", "mail", "queue"):
            os.makedirs(os.path.join(self.d, sub))
        shutil.chown(os.path.join(self.d, "data"), "postfix")
        os.chown(os.path.join(self.d, "mail"), 65534, 65534)
        os.chmod(self.d, 0o755)
        # Postfix reads the key as root at start; keep private copies.
        for src, name in ((cert, "cert.pem"), (key, "key.pem")):
            shutil.copy(src, os.path.join(self.conf, name))
        self.port = free_port()
        with open(os.path.join(self.conf, "vmailbox"), "w") as f:
            f.write("".join(f"{u} all/Maildir/\n" for u in sorted(users)))
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(self.MAIN.format(d=self.d, domains=", ".join(domains),
                                     cert=os.path.join(self.conf, "cert.pem"),
                                     key=os.path.join(self.conf, "key.pem")))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(postfix_master_cf(self.port))
        # A config file younger than ~2 s makes the master re-read it in a
        # loop (TOOLCHAIN.md): backdate them.
        old = time.time() - 60
        for name in ("main.cf", "master.cf"):
            os.utime(os.path.join(self.conf, name), (old, old))
        self.started = False

    def start(self):
        for verb in ("check", "start"):
            p = subprocess.run(["postfix", "-c", self.conf, verb], capture_output=True, text=True,
                               timeout=60)
            if p.returncode != 0:
                raise AssertionError(f"postfix {verb} failed: {p.stderr.strip()} (see {self.d}/maillog)")
        self.started = True

        def listening():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return False
        wait_until(listening, 30, interval=0.05, what="Postfix's smtpd")

    def delivered(self):
        """Return-Path of every delivered copy (one Maildir file each)."""
        folder = os.path.join(self.d, "mail", "all", "Maildir", "new")
        out = []
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return out
        for n in names:
            with open(os.path.join(folder, n), "rb") as f:
                for line in f:
                    if line.lower().startswith(b"return-path:"):
                        out.append(line.split(b"<", 1)[1].split(b">", 1)[0].decode())
                        break
        return out

    def refused(self):
        """RCPTs that smtpd refused (unknown users)."""
        try:
            with open(os.path.join(self.d, "maillog"), errors="replace") as f:
                return sum("NOQUEUE: reject: RCPT from" in l for l in f)
        except OSError:
            return 0

    def tls_sessions(self):
        """Sessions that Postfix's smtpd logged as TLS."""
        try:
            with open(os.path.join(self.d, "maillog"), errors="replace") as f:
                return sum("TLS connection established from" in l for l in f)
        except OSError:
            return None

    def close(self, keep=False):
        import shutil
        if self.started:
            subprocess.run(["postfix", "-c", self.conf, "stop"], capture_output=True, timeout=60)
        if not keep:
            shutil.rmtree(self.d, ignore_errors=True)


class RefuseUnknown:
    """SmtpSink's queue of RCPT replies, answering by address: 550 5.1.1 for
    a recipient that does not exist ("nx<d>@<domain>", sim/world.h), 250
    otherwise. The sink records the RCPT's address (rcpt_commands) before it
    asks, under its lock."""

    def __init__(self, sink):
        self.sink, self.refused = sink, 0

    def __bool__(self):
        return True

    def pop(self, _):
        rcpt = self.sink.rcpt_commands[-1]
        if rcpt.startswith("nx"):
            self.refused += 1
            return f"550 5.1.1 <{rcpt}>: no such user"
        return "250 2.1.5 ok"


class PushReplay:
    """The push side: the same messages leave by SMTP. Every domain the
    workload sends from is a pullmail domain with its gateway (its name one
    letter on, d0.example -> e0.example, so that every address keeps its
    length); every domain it sends to is listed `legacy = true`, so that the
    sender node hands the mail to its gateway's relay, which fetches the body
    and relays it by SMTP (docs/GATEWAY.md "SMTP out") to the smarthost: an
    SMTP sink offering STARTTLS (tests/e2e/test_gateway_smtpout.py), behind
    a counting relay; or, with mta="postfix", a private Postfix instance
    (PostfixMta). The receiver stands for every receiving MTA, as the push
    world's receivers with their defences switched off (xval.toml [push])."""

    def __init__(self, bin_dir, scenario, workload, speed, log, mta="sink"):
        self.scenario, self.w, self.speed, self.log = scenario, workload, speed, log
        self.mta = mta
        self.postfix = None
        self.world = World(bin_dir, name="xval-push", dns=False)
        self.domains = {}   # renamed sender domain -> world Domain
        self.users = {}     # renamed sender address -> world User
        self.ids = {}
        self.first = first_of_body(workload["messages"])
        self.sink = None
        self.relay = None
        self.late = 0.0
        self.origin = None

    @staticmethod
    def rename(address):
        local, _, domain = address.rpartition("@")
        renamed = chr(ord(domain[0]) + 1) + domain[1:]
        return f"{local}@{renamed}" if local else renamed

    def build(self):
        from test_gateway_smtpout import SmtpSink
        import ssl
        sc = self.scenario
        senders = sorted({m["from"] for m in self.w["messages"]})
        targets = sorted({to.split("@")[1] for m in self.w["messages"] for to in m["to"]})
        names = sorted({self.rename(a.split("@")[1]) for a in senders})
        assert not set(names) & set(targets), (names, targets)
        legit_retention = seconds(sc.get("legit", {}).get("retention", 7 * 86400))
        for name in names:
            self.domains[name] = self.world.init(name)
        # The receiving MTA offers STARTTLS (any certificate: SMTP out checks
        # none): the first sending domain's.
        tls = os.path.join(os.path.dirname(self.domains[names[0]].config), "tls")
        cert, key = os.path.join(tls, "node.pem"), os.path.join(tls, "node.key")
        if self.mta == "postfix":
            valid = {to for m in self.w["messages"] for to in m["to"] if not to.startswith("nx")}
            self.postfix = PostfixMta(targets, valid, cert, key)
            port = self.postfix.port
        else:
            self.sink = SmtpSink()
            self.sink.rcpt_replies = RefuseUnknown(self.sink)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self.sink.tls_context = ctx
            port = self.sink.port
        self.relay = Relay(f"127.0.0.1:{port}")
        for name, dom in self.domains.items():
            configure(dom, sc, legit_retention, self.speed)
            dom.edit_config('relay_listen = "', f'smarthost = "{relay_address(self.relay)}"\nrelay_listen = "')
        with open(os.path.join(self.world.root, "directory.toml"), "a") as f:
            for t in targets:
                f.write(f'\n[domains."{t}"]\nlegacy = true\n')
        for a in senders:
            r = self.rename(a)
            self.users[r] = self.domains[r.split("@")[1]].add_user(r.split("@")[0])

    def start(self):
        if self.postfix:
            self.postfix.start()
        self.origin = int(time.time()) + 3
        flags = [f"--clock_speed={self.speed}", f"--clock_origin={self.origin}"]
        for dom in self.domains.values():
            for node in (dom.sender, dom.recipient, dom.gateway):
                node.args = list(flags)
                node.start(wait=False)
        for dom in self.domains.values():
            for node in (dom.sender, dom.recipient, dom.gateway):
                node.wait_ready()

    at = Replay.at

    def run(self):
        for m in sorted(self.w["messages"], key=lambda m: (m["created"], m["index"])):
            self.at(m["created"])
            sender = self.rename(m["from"])
            first = self.first[m["body"]]
            user = self.users[sender]
            args = ["send", "--json", "--file", "-"]
            for to in m["to"]:
                args += ["--to", to]
            r = self.world.pullmail(*args, "--config", user.domain.config, "--user", user.address,
                                    env={"PULLMAIL_PASSWORD": user.password},
                                    stdin=compose(dict(m, **{"from": sender}), dict(
                                        first, **{"from": self.rename(first["from"])})).decode())
            self.ids[r.json()["message_id"]] = m["index"]

    def collect(self):
        """Waits until every delivery is final; returns per-copy outcomes
        counted as the push world counts them, and the SMTP bytes."""
        def final():
            states = []
            for user in self.users.values():
                for sm in user.sent():
                    if sm["message_id"] in self.ids:
                        states += [d["state"] for d in sm.get("deliveries", [])]
            n = sum(len({t.split("@")[1] for t in self.w["messages"][i]["to"]})
                    for i in self.ids.values())
            return states if len(states) == n and "queued" not in states else None
        states = wait_until(final, timeout=120, interval=0.5, what="every delivery final")
        spammers = {self.rename(m["from"]) for m in self.w["messages"] if m["spam"]}
        delivered = [0, 0]
        if self.postfix:
            # Postfix has taken every message (250 to DATA) when the sender
            # says delivered; its local delivery to the Maildir follows.
            accepted = sum(sum(not t.startswith("nx") for t in self.w["messages"][i]["to"])
                           for i in self.ids.values())
            paths = wait_until(lambda: (lambda p: p if len(p) >= accepted else None)(
                self.postfix.delivered()), timeout=60, interval=0.2,
                what=f"{accepted} copies in Postfix's Maildir")
            for path in paths:
                delivered[1 if path in spammers else 0] += 1
            # The relayed bytes of each message are the sent ones (the sink
            # shows it: the gateway relays the stored message as is).
            data_bytes = sum(self.w["messages"][i]["size"] * len(
                {t.split("@")[1] for t in self.w["messages"][i]["to"] if not t.startswith("nx")})
                for i in self.ids.values())
            transactions, tls = states.count("delivered"), self.postfix.tls_sessions()
            refused = self.postfix.refused()
        else:
            messages, _ = self.sink.snapshot()
            data_bytes = 0
            for mail_from, rcpts, data in messages:
                delivered[1 if mail_from in spammers else 0] += len(rcpts)
                data_bytes += len(data)
            transactions, tls = len(messages), sum(self.sink.tls_used)
            refused = self.sink.rcpt_replies.refused
        n, up, down = relay_counts(self.relay)
        return {"delivered": delivered, "refused": refused, "states": states,
                "transactions": transactions,
                "tls": tls, "data": data_bytes, "total": up + down, "connections": n,
                "mta": self.mta}

    def close(self, keep=False):
        if self.relay:
            self.relay.close()
        if self.sink:
            self.sink.close()
        if self.postfix:
            self.postfix.close(keep=keep)
        self.world.close(keep=keep)


def compare_push(w, real, speed, wall):
    sim = w["worlds"]["push"]
    b = sim["bytes"]
    out = sim["outcomes"]
    lines = ["Push: per-copy outcomes (copies the receiving MTA accepted):", "",
             f"| copy | outcome | simulator | real (gateway SMTP out to {real['mta']}) |",
             "| --- | --- | ---: | ---: |"]
    ok = True
    for k, label in ((0, "legit"), (1, "spam")):
        for name, counts in out.items():
            if name == "failed":
                continue
            real_n = real["delivered"][k] if name == "delivered" else 0
            if counts[k] or real_n:
                lines.append(f"| {label} | {name} | {counts[k]} | {real_n} |")
                ok &= counts[k] == real_n
    # Unknown recipients: refused at RCPT (550 5.1.1); the push world counts
    # them failed. The receiver does not know legit from spam: one row.
    failed = sum(out["failed"])
    if failed or real["refused"]:
        lines.append(f"| all | failed (unknown recipient, 550 at RCPT) | {failed} | {real['refused']} |")
        ok &= failed == real["refused"]
    # Every kind but the message data is dialogue (envelope, STARTTLS and
    # TLS records, bounces; sim/metrics.h); the pull kinds are 0 here.
    sim_env = sum(n for k, n in b.items() if k != "push_body")
    real_env = real["total"] - real["data"]
    st, rt = b["push_body"] + sim_env, real["total"]
    lines += ["", "Push: SMTP bytes at the receiving MTA (both directions; STARTTLS on every session):", "",
              "| traffic | simulator | real | real / sim |", "| --- | ---: | ---: | ---: |",
              f"| message data (push_body) | {b['push_body']} | {real['data']} | "
              f"{real['data'] / b['push_body']:.3f} |",
              f"| dialogue + TLS (push_envelope, tls, push_bounce) | {sim_env} | {real_env} | {real_env / sim_env:.3f} |",
              f"| total | {st} | {rt} | {rt / st:.3f} |", "",
              f"Push replay: {real['transactions']} SMTP transactions on {real['connections']} "
              f"connections" + (f" ({real['tls']} over STARTTLS)" if real["tls"] is not None else "")
              + f", receiving MTA: {real['mta']}, clock speed {speed}x, {wall:.0f} s wall."]
    return "\n".join(lines), ok, rt / st


# ----------------------------------------------------------------- compare

def compare(w, real, real_bytes, connections, speed, wall, late, plaintext=False):
    sim_world = w["worlds"]["pull"]
    rows, mismatches = {}, []
    for c in w["copies"]:
        key = (c["message"], c["to"])
        spam = w["messages"][c["message"]]["spam"]
        s, r = c["pull"], real[key]
        rows.setdefault((spam, s), [0, 0])[0] += 1
        rows.setdefault((spam, r), [0, 0])[1] += 1
        if s != r:
            mismatches.append(f"message {c['message']} to {c['to']}: simulator '{s}', nodes '{r}'")
    b = sim_world["bytes"]
    # The model's byte kinds (sim/metrics.h) by the node whose relay carries
    # them; a kind this table does not know yet is shown on its own and
    # counted in the total.
    sides = {"notify": "recipient", "notify_ack": "recipient",
             "fetch_request": "sender", "body": "sender", "pin": "sender"}
    sim_bytes = {"recipient": 0, "sender": 0}
    other, left_out = {}, {}
    for kind, n in b.items():
        if kind in sides:
            sim_bytes[sides[kind]] += n
        elif plaintext and kind == "tls":
            left_out[kind] = n  # the model's TLS: the nodes ran without it
        elif not kind.startswith("push_") and n:
            other[kind] = n
    lines = []
    lines.append(f"Per-copy outcomes ({len(w['copies'])} copies of {len(w['messages'])} messages; "
                 f"seed {w['run']['seed']}):")
    lines.append("")
    lines.append("| copy | outcome | simulator | real nodes |")
    lines.append("| --- | --- | ---: | ---: |")
    for (spam, desc), (s, r) in sorted(rows.items()):
        lines.append(f"| {'spam' if spam else 'legit'} | {desc} | {s} | {r} |")
    lines.append("")
    lines.append("Bytes between nodes (TCP payload, TLS included, both directions):")
    lines.append("")
    lines.append("| traffic | simulator | real nodes | real / sim | connections |")
    lines.append("| --- | ---: | ---: | ---: | ---: |")
    for kind, label in (("recipient", "notify + notify_ack"), ("sender", "fetch_request + body")):
        ratio = real_bytes[kind] / sim_bytes[kind] if sim_bytes[kind] else float("nan")
        lines.append(f"| {label} | {sim_bytes[kind]} | {real_bytes[kind]} | {ratio:.3f} | "
                     f"{connections[kind]} |")
    for kind, n in sorted(other.items()):
        lines.append(f"| {kind} (model only) | {n} | | | |")
    st, rt = sum(sim_bytes.values()) + sum(other.values()), sum(real_bytes.values())
    total_ratio = rt / st if st else float("nan")
    lines.append(f"| total | {st} | {rt} | {total_ratio:.3f} | {sum(connections.values())} |")
    for kind, n in sorted(left_out.items()):
        lines.append("")
        lines.append(f"The model's {kind} bytes ({n}) are left out: the nodes ran gRPC without TLS.")
    lines.append("")
    lines.append(f"Replay: clock speed {speed}x, {wall:.0f} s wall, at most {late:.1f} s behind "
                 f"the clock.")
    return "\n".join(lines), mismatches, total_ratio


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin-dir", default="build")
    ap.add_argument("--scenario", default=os.path.join(HERE, "xval.toml"))
    ap.add_argument("--world", choices=("pull", "push"), default="pull",
                    help="pull: the federation's nodes; push: the same mail by the gateway's SMTP out")
    ap.add_argument("--set", default="",
                    help="scenario overrides 'table.key=value;...' (as pullmail-sim --set; "
                         "'campaign.0.key' for the first campaign), for both sides")
    ap.add_argument("--sim", help="the pullmail-sim to run (default: BIN_DIR/sim/pullmail-sim)")
    ap.add_argument("--speed", type=float, default=240,
                    help="clock speed of the nodes: simulated seconds per wall second")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless every copy ends alike and bytes agree within --tolerance")
    ap.add_argument("--check-outcomes", action="store_true",
                    help="exit 1 unless every copy ends alike (bytes are reported only)")
    ap.add_argument("--tolerance", type=float, default=0.05)
    ap.add_argument("--table", help="also write the table (Markdown) to this file")
    ap.add_argument("--keep", action="store_true", help="keep the federation's folder, the workload and Postfix's folder (everything is stopped)")
    ap.add_argument("--mta", choices=("auto", "sink", "postfix"), default="auto",
                    help="push: the receiving MTA (auto: a private Postfix if installed and run as "
                         "root, else the SMTP sink)")
    ap.add_argument("--plaintext", action="store_true",
                    help="pull: gRPC without TLS between the nodes (to tell TLS's bytes from the rest)")
    args = ap.parse_args()

    def log(text):
        sys.stderr.write(f"replay: {text}\n")
        sys.stderr.flush()

    bin_dir = os.path.abspath(args.bin_dir)
    with open(args.scenario, "rb") as f:
        scenario = tomllib.load(f)
    for assignment in filter(None, (a.strip() for a in args.set.split(";"))):
        path, _, value = assignment.partition("=")
        *tables, key = path.split(".")
        node = scenario
        for t in tables:
            node = node[int(t)] if isinstance(node, list) else node.setdefault(t, {})
        node[key] = tomllib.loads(f"v = {value}")["v"]
    tmp = tempfile.mkdtemp(prefix="pullmail-xval-")
    workload_path = os.path.join(tmp, "workload.jsonl")
    sim = subprocess.run([args.sim or os.path.join(bin_dir, "sim", "pullmail-sim"), "--scenario", args.scenario,
                          "--out", os.path.join(tmp, "sim"), "--workload_out", workload_path,
                          "--set", args.set,
                          "--progress=off", "--plots=false", "--quiet"],
                         capture_output=True, text=True, timeout=300)
    if sim.returncode != 0:
        log(f"pullmail-sim failed ({sim.returncode}):\n{sim.stderr}")
        return 2
    w = load_workload(workload_path)
    if args.world not in w["worlds"]:
        log(f"the scenario has no {args.world} world (run.mode)")
        return 2
    log(f"workload: {len(w['domains'])} domains, {len(w['messages'])} messages, "
        f"{len(w['copies'])} copies")

    if args.world == "pull":
        replay = Replay(bin_dir, scenario, w, args.speed, log, plaintext=args.plaintext)
    else:
        mta = args.mta
        if mta == "auto":
            mta = "postfix" if PostfixMta.available() else "sink"
        replay = PushReplay(bin_dir, scenario, w, args.speed, log, mta=mta)
    outcomes_ok = bytes_ok = False
    try:
        replay.build()
        replay.start()
        t0 = time.monotonic()
        if args.world == "pull":
            last = replay.run()
            replay.at(last + 60)  # a simulated minute for the last report's moves
            wall = time.monotonic() - t0
            real, real_bytes, connections = replay.collect()
            table, mismatches, ratio = compare(w, real, real_bytes, connections, args.speed, wall,
                                               replay.late, plaintext=args.plaintext)
            for m in mismatches:
                log(m)
            outcomes_ok = not mismatches
        else:
            replay.run()
            real = replay.collect()
            wall = time.monotonic() - t0
            table, outcomes_ok, ratio = compare_push(w, real, args.speed, wall)
        bytes_ok = abs(ratio - 1) <= args.tolerance
        print(table)
        if args.table:
            with open(args.table, "w") as f:
                f.write(table + "\n")
        log("every copy ended alike" if outcomes_ok else "OUTCOMES DIFFER")
        log(f"bytes real/sim {ratio:.3f} (tolerance {args.tolerance:.0%})")
    except BaseException:
        sys.stderr.write(replay.world.diagnostics() + "\n")
        raise
    finally:
        replay.close(keep=args.keep)
        if args.keep:
            log(f"kept {replay.world.root} and {tmp}")
        else:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
    if args.check and not (outcomes_ok and bytes_ok):
        return 1
    if args.check_outcomes and not outcomes_ok:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
