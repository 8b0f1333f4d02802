#!/usr/bin/env python3
"""Replicas: several node processes of one domain sharing a PostgreSQL
database (docs/SCALE-OUT.md), with the directory listing every replica.

The PostgreSQL server is the ctest fixture's (tests/pg/pg_server.py, named by
$PULLMAIL_TEST_PG); run by hand, this file starts its own. Each test makes one
schema per domain in it. Skipped (with the reason) only if PostgreSQL is not
installed here.

Run:  python3 tests/e2e/test_replicas.py --bin-dir build Replicas.test_kill9_one_replica_of_each_under_load
"""

import imaplib
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import Node, WorldTestCase, free_port, run_tests, wait_until  # noqa: E402
from test_gateway_imap import RawImap  # noqa: E402

BIN_DIR = os.environ.get("PULLMAIL_BIN_DIR", "build")
PG_BIN = "/usr/lib/postgresql/15/bin"
PG_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pg", "pg_server.py")

RETRY_FAST = """[sender.retry]
initial_seconds = 0.2
multiplier = 2.0
max_seconds = 1
jitter = 0.1
"""

# Seconds an IDLE session may wait for the announcement of a new message
# (a bound on a hang, not a timing threshold: it normally comes in < 1 s).
IDLE_WAIT = 60

_own_state = None


def pg_base_url():
    """(url, None) of the test PostgreSQL server, or (None, why-not)."""
    global _own_state
    state = os.environ.get("PULLMAIL_TEST_PG")
    if not state:
        if _own_state is None:
            _own_state = tempfile.mkdtemp(prefix="pullmail-pgstate-")
            subprocess.run([sys.executable, PG_SERVER, "start", _own_state], check=True,
                           stdout=subprocess.DEVNULL)
        state = _own_state
    try:
        with open(os.path.join(state, "url")) as f:
            return f.read().strip(), None
    except FileNotFoundError:
        try:
            with open(os.path.join(state, "skip")) as f:
                return None, f.read().strip()
        except FileNotFoundError:
            return None, f"no PostgreSQL server state in {state}"


def stop_own_server():
    if _own_state is not None:
        subprocess.run([sys.executable, PG_SERVER, "stop", _own_state],
                       stdout=subprocess.DEVNULL)
        shutil.rmtree(_own_state, ignore_errors=True)


class Replica(Node):
    """One more process of a domain's node: same node.toml, its own listen
    and metrics ports (--listen, --metrics_listen)."""

    def __init__(self, world, domain, kind, n):
        super().__init__(world, domain, kind)
        self.n = n
        self._listen = f"127.0.0.1:{free_port()}"
        self._metrics = f"127.0.0.1:{free_port()}"
        self.out_path = os.path.join(world.root, "logs", f"{domain.name}-{kind}-{n}.out")
        self.log_path = os.path.join(world.root, "logs", f"{domain.name}-{kind}-{n}.log")
        self.config = os.path.join(os.path.dirname(domain.config), f"node-{kind}-{n}.toml")
        # A node.toml naming this replica alone, for the CLI (which talks to
        # the [sender]/[recipient] endpoints of the config it is given, else
        # to its listen).
        with open(domain.config) as f:
            text = f.read()
        section = f"[{kind}]\nlisten = \"{domain.info[kind + '_listen']}\""
        assert section in text, section
        with open(self.config, "w") as f:
            f.write(text.replace(section, f"[{kind}]\nlisten = \"{self._listen}\""))

    @property
    def listen(self):
        return self._listen

    @property
    def metrics_listen(self):
        return self._metrics

    def start(self, wait=True):
        assert not self.running()
        offset = os.path.getsize(self.out_path) if os.path.exists(self.out_path) else 0
        with open(self.out_path, "ab") as out, open(self.log_path, "ab") as err:
            self.proc = subprocess.Popen(
                [self.binary, "--config", self.domain.config, "--listen", self._listen,
                 "--metrics_listen", self._metrics],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        self.starts += 1
        self.world.processes.append(self.proc)
        if wait:
            self.wait_ready(offset)
        return self

    def __str__(self):
        return f"{self.domain.name} {self.kind} replica {self.n}" + (
            f" (pid {self.pid})" if self.proc else "")


class Replicas(WorldTestCase):
    def setUp(self):
        super().setUp()
        self.base_url, why = pg_base_url()
        if self.base_url is None:
            self.skipTest(f"PostgreSQL tests skipped: {why}")
        self.replicas = []

    def database(self, domain):
        """A fresh schema for `domain`; its URL (dropped at the end)."""
        schema = "e2e_" + domain.replace(".", "_") + f"_{os.getpid()}_{free_port()}"
        psql = [os.path.join(PG_BIN, "psql"), "-q", "-v", "ON_ERROR_STOP=1", self.base_url]
        subprocess.run(psql + ["-c", f"CREATE SCHEMA {schema}"], check=True,
                       stdout=subprocess.DEVNULL)
        self.addCleanup(lambda: subprocess.run(
            psql + ["-c", f"DROP SCHEMA {schema} CASCADE"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return f"{self.base_url}?options=-csearch_path%3D{schema}"

    def replicated(self, name, kind):
        """Domain `name` on PostgreSQL with a second `kind` node process; the
        directory lists both processes' endpoints for that node."""
        d = self.world.init(name, "--database", self.database(name))
        d.edit_config("retention_hours = 720", "retention_hours = 720\nclaim_lease_seconds = 3")
        d.append_config(RETRY_FAST)
        r = Replica(self.world, d, kind, 2)
        self.replicas.append(r)
        self.list_in_directory(d, kind, f'{d.info[kind + "_listen"]},{r.listen}')
        return d, r

    def list_in_directory(self, d, kind, endpoints):
        """Sets domain `d`'s `kind`_endpoint in the shared directory.toml."""
        path = os.path.join(self.world.root, "directory.toml")
        with open(path) as f:
            text = f.read()
        old = f'{kind}_endpoint = "{d.info[kind + "_listen"]}"'
        assert old in text, old
        with open(path, "w") as f:
            f.write(text.replace(old, f'{kind}_endpoint = "{endpoints}"'))

    def two_replicas_of_each(self, name):
        """Domain `name` with two sender and two recipient replicas on one
        database, each listed in the directory and in its node.toml
        ([sender]/[recipient] endpoints: the gateway's and `pullmail`'s round_robin
        channels); not started. Returns (domain, sender 2, recipient 2)."""
        d = self.world.init(name, "--database", self.database(name))
        d.edit_config("retention_hours = 720", "retention_hours = 720\nclaim_lease_seconds = 3")
        d.append_config(RETRY_FAST)
        s2 = Replica(self.world, d, "sender", 2)
        r2 = Replica(self.world, d, "recipient", 2)
        self.replicas += [s2, r2]
        for kind, second in (("sender", s2), ("recipient", r2)):
            both = f'{d.info[kind + "_listen"]},{second.listen}'
            self.list_in_directory(d, kind, both)
            listen = f'[{kind}]\nlisten = "{d.info[kind + "_listen"]}"'
            d.edit_config(listen, f'{listen}\nendpoints = "{both}"')
        return d, s2, r2

    def send(self, config, user, to, subject):
        return self.world.pullmail("send", "--json", "--config", config, "--user", user.address,
                                   "--to", to.address, "--subject", subject,
                                   "--body", f"body of {subject}\n", check=False,
                                   env={"PULLMAIL_PASSWORD": user.password})

    def subjects(self, config, user):
        r = self.world.pullmail("list", "--json", "--folder", "INBOX", "--config", config,
                                "--user", user.address, env={"PULLMAIL_PASSWORD": user.password})
        return [m["summary"]["subject"] for m in r.json().get("messages", [])]

    # ------------------------------------------------------------------

    def test_kill9_one_replica_of_each_under_load(self):
        """Two sender replicas of a.example and two recipient replicas of
        b.example on one PostgreSQL; one of each is killed with SIGKILL in the
        middle of a stream of sends. Every send that was acknowledged arrives
        exactly once; none arrives twice."""
        a, a2 = self.replicated("a.example", "sender")
        b, b2 = self.replicated("b.example", "recipient")
        ann = a.add_user("ann")
        bob = b.add_user("bob")
        a.start()
        a2.start()
        b.start()
        b2.start()

        acked = []
        total = 40
        for i in range(total):
            if i == total // 3:
                a.sender.kill9()  # sender replica 1: its claimed deliveries come due again
                b2.kill9()        # recipient replica 2: in-flight streams break
            # Submissions alternate between the sender replicas while both run.
            via = a.config if (i % 2 == 0 and a.sender.running()) else a2.config
            subject = f"load {i:02d}"
            r = self.send(via, ann, bob, subject)
            if r.returncode == 0:
                acked.append(subject)
        self.assertGreaterEqual(len(acked), total - 2, "most sends were acknowledged")

        def all_arrived():
            got = self.subjects(b.config, bob)  # through the surviving recipient replica
            return got if set(got) >= set(acked) else None
        got = wait_until(all_arrived, 90, interval=0.5,
                         what=f"{len(acked)} acknowledged messages in bob's INBOX")
        dups = sorted({s for s in got if got.count(s) > 1})
        self.assertEqual(dups, [], "delivered twice")
        self.assertEqual(sorted(set(got) - set(acked)), [], "only what was sent arrives")

        # The body is fetched from whichever sender replica is up.
        r = self.world.pullmail("read", "1", "--config", b.config, "--user", bob.address,
                                env={"PULLMAIL_PASSWORD": bob.password})
        self.assertIn("body of load", r.stdout)

    def test_mailbox_state_is_shared_between_recipient_replicas(self):
        """A notification taken by one recipient replica, and the flag a read
        sets through the other, are seen through both."""
        a = self.world.init("a.example")
        a.append_config(RETRY_FAST)
        b, b2 = self.replicated("b.example", "recipient")
        ann = a.add_user("ann")
        bob = b.add_user("bob")
        a.start()
        b.start()
        b2.start()
        for i in range(4):  # round-robin: the stream goes to both replicas in turn
            self.assertEqual(self.send(a.config, ann, bob, f"shared {i}").returncode, 0)
        wait_until(lambda: len(self.subjects(b2.config, bob)) == 4, 60, interval=0.3,
                   what="4 messages through replica 2")
        self.assertEqual(sorted(self.subjects(b.config, bob)),
                         [f"shared {i}" for i in range(4)])
        self.world.pullmail("read", "2", "--config", b.config, "--user", bob.address,
                            env={"PULLMAIL_PASSWORD": bob.password})
        r = self.world.pullmail("list", "--json", "--config", b2.config, "--user", bob.address,
                                env={"PULLMAIL_PASSWORD": bob.password}).json()
        seen = {m["uid"]: "\\Seen" in m["flags"] for m in r["messages"]}
        self.assertEqual(seen, {1: False, 2: True, 3: False, 4: False})

    def test_idle_on_one_recipient_replica_sees_mail_taken_by_the_other(self):
        """Watch across replicas, through the gateway: bob's IMAP IDLE session
        is served by recipient replica 1 (the gateway's node.toml names it),
        while other domains reach b.example only through replica 2 (the only
        address in the directory). A message ann sends is taken by replica 2;
        replica 1 hears of it by LISTEN/NOTIFY and its Watch stream wakes the
        IDLE session, which announces it. Without the cross-replica wake-up
        nothing is announced: the node's Watch waits on changes only, and the
        gateway polls only when its Watch stream is broken."""
        a = self.world.init("a.example")
        a.append_config(RETRY_FAST)
        b = self.world.init("b.example", "--database", self.database("b.example"))
        b2 = Replica(self.world, b, "recipient", 2)
        self.list_in_directory(b, "recipient", b2.listen)
        ann = a.add_user("ann")
        bob = b.add_user("bob")
        a.start()
        b.start()
        b2.start()
        b.gateway.start()

        r = RawImap(b.gateway_address("imap"), b.tls_context(), b.name)
        self.addCleanup(r.close)
        r.send(f'l LOGIN {bob.address} "{bob.password}"\r\n'.encode())
        self.assertTrue(r.until_tagged(b"l")[-1].startswith(b"l OK"))
        r.send(b"s SELECT INBOX\r\n")
        self.assertIn(b"* 0 EXISTS", r.until_tagged(b"s"))
        r.send(b"i IDLE\r\n")
        self.assertTrue(r.line().startswith(b"+ "))

        ann.send(bob.address, "through replica 2", "taken by the other replica\n")
        # Bounded: every line read has the socket's timeout, and the lines
        # read are bounded by the deadline.
        deadline = time.monotonic() + IDLE_WAIT
        seen = []
        while b"* 1 EXISTS" not in seen:
            self.assertLess(time.monotonic(), deadline, f"no EXISTS during IDLE: {seen}")
            seen.append(r.line())
        r.send(b"DONE\r\n")
        self.assertEqual(r.until_tagged(b"i")[-1], b"i OK IDLE terminated")
        r.send(b"f FETCH 1 (ENVELOPE)\r\n")
        lines = r.until_tagged(b"f")
        self.assertIn(b'"through replica 2"', lines[0])
        self.assertEqual(lines[-1], b"f OK FETCH completed")

        # The notification really went through replica 2, not replica 1.
        accepted = "pullmail_notifications_accepted_total"
        self.assertEqual(b2.counter(accepted), 1)
        self.assertEqual(b.recipient.counter(accepted), 0)

    def test_gateway_keeps_serving_when_one_replica_of_each_node_is_killed(self):
        """b.example runs two sender and two recipient replicas; its gateway's
        node.toml lists both of each ([sender]/[recipient] endpoints), so the
        gateway holds one round_robin channel per node. While bob submits by
        SMTP (a new session, AUTH and one message each time) to carol and
        dave, recipient replica 1 and sender replica 2 are killed with
        SIGKILL. The gateway keeps serving: later submissions are accepted,
        carol's IMAP session opened before the kills goes on answering, and
        dave's first LOGIN, SELECT and FETCH after them work. Every
        submission the gateway acknowledged (250) arrives exactly once."""
        b, b_s2, b_r2 = self.two_replicas_of_each("b.example")
        bob, carol, dave = (b.add_user(u) for u in ("bob", "carol", "dave"))
        b.start()
        b_s2.start()
        b_r2.start()
        b.gateway.start()

        def imap(user):
            host, port = b.gateway_address("imap")
            m = imaplib.IMAP4(host, port, timeout=30)
            m.host = b.name  # the certificate names the domain
            self.assertEqual(m.starttls(ssl_context=b.tls_context())[0], "OK")
            self.assertEqual(m.login(user.address, user.password)[0], "OK")
            self.addCleanup(m.shutdown)
            return m

        def submit(subject):
            """One SMTP submission session; True if the message got a 250."""
            host, port = b.gateway_address("submission")
            try:
                with smtplib.SMTP(host, port, local_hostname="client.test", timeout=30) as s:
                    s._host = b.name
                    s.starttls(context=b.tls_context())
                    s.login(bob.address, bob.password)
                    s.sendmail(bob.address, [carol.address, dave.address],
                               f"From: <{bob.address}>\r\nTo: <{carol.address}>\r\n"
                               f"Subject: {subject}\r\n\r\nbody of {subject}\r\n")
                return True
            except (smtplib.SMTPException, OSError):
                return False

        def subjects(m):
            typ, data = m.select("INBOX")
            self.assertEqual(typ, "OK", data)
            if int(data[0]) == 0:
                return []
            typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            self.assertEqual(typ, "OK", data)
            return [re.search(rb"Subject: (.*?)\r\n", part[1]).group(1).decode()
                    for part in data if isinstance(part, tuple)]

        carol_imap = imap(carol)
        acked, refused = [], []
        total, kill_at = 30, 10
        for i in range(total):
            if i == kill_at:
                b.recipient.kill9()  # recipient replica 1
                b_s2.kill9()         # sender replica 2
            subject = f"load {i:02d}"
            (acked if submit(subject) else refused).append(subject)
            if i % 5 == 4:  # carol's session, opened before the kills, goes on
                self.assertEqual(carol_imap.noop()[0], "OK")
        # A call already on its way to a replica when it died may fail; the
        # gateway must not fail beyond those.
        self.assertLessEqual(len(refused), 2, f"submissions refused: {refused}")
        self.assertTrue(all(f"load {i:02d}" in acked for i in range(kill_at + 3, total)),
                        f"a submission after the kills was refused: {refused}")

        # dave logs in for the first time now (no login cache): LOGIN,
        # SELECT and FETCH through the surviving replicas.
        dave_imap = imap(dave)
        got = wait_until(lambda: (lambda s: s if set(s) >= set(acked) else None)(
                             subjects(dave_imap)), 90, interval=0.5,
                         what=f"{len(acked)} acknowledged messages in dave's INBOX")
        self.assertEqual(sorted(s for s in set(got) if got.count(s) > 1), [], "delivered twice")
        self.assertEqual(sorted(set(got) - set(acked) - set(refused)), [],
                         "only what was submitted arrives")
        typ, data = dave_imap.fetch("1", "(BODY[])")  # pulled from the surviving sender replica
        self.assertEqual(typ, "OK", data)
        self.assertRegex(data[0][1], rb"body of load \d\d")
        self.assertEqual(sorted(set(subjects(carol_imap))), sorted(set(got)))

        # The `pullmail` command reads the same lists from node.toml.
        self.assertEqual(sorted(self.subjects(b.config, dave)), sorted(got))
        self.assertEqual(self.send(b.config, bob, carol, "by the CLI").returncode, 0)
        carol.wait_for_subject("by the CLI")

    def test_no_command_fails_when_a_replica_dies_under_it(self):
        """Idempotent calls that meet a dying replica go again to the other
        one (core/logic/replica_retry.h, gRPC's retry policy on every
        channel). Two IMAP sessions read carol's mailbox without pause
        (listing, bodies, NOOP) through a gateway that lists both recipient
        replicas, and bob submits by SMTP through both sender replicas; one
        replica of each is killed with SIGKILL in the middle. Not one IMAP
        command gets anything but OK, and not one submission is refused.
        Before the retry policy a call on its way to a dying replica failed:
        a first read whose pull met the dying sender replica answered
        "NO [UNAVAILABLE] the sender's node cannot be reached"."""
        import threading
        b, b_s2, b_r2 = self.two_replicas_of_each("b.example")
        bob, carol = (b.add_user(u) for u in ("bob", "carol"))
        b.start()
        b_s2.start()
        b_r2.start()
        b.gateway.start()
        for i in range(8):
            self.assertEqual(self.send(b.config, bob, carol, f"before {i}").returncode, 0)
        wait_until(lambda: len(self.subjects(b.config, carol)) >= 8, 60,
                   what="carol's 8 messages")

        def imap():
            host, port = b.gateway_address("imap")
            m = imaplib.IMAP4(host, port, timeout=30)
            m.host = b.name
            self.assertEqual(m.starttls(ssl_context=b.tls_context())[0], "OK")
            self.assertEqual(m.login(carol.address, carol.password)[0], "OK")
            self.assertEqual(m.select("INBOX")[0], "OK")
            self.addCleanup(m.shutdown)
            return m

        sessions = [imap(), imap()]
        stop = threading.Event()
        failures, done = [], [0]

        def reader(m, k):
            i = 0
            while not stop.is_set():
                try:
                    for typ, data in (m.uid("FETCH", "1:*", "(UID FLAGS)"),
                                      m.uid("FETCH", str(1 + (i + k) % 8), "(BODY.PEEK[])"),
                                      m.noop()):
                        if typ != "OK":
                            failures.append((typ, data))
                    done[0] += 1
                except (imaplib.IMAP4.error, OSError) as e:
                    failures.append(repr(e))
                    return
                i += 1

        threads = [threading.Thread(target=reader, args=(m, k)) for k, m in enumerate(sessions)]
        for t in threads:
            t.start()
        refused = []
        try:
            for i in range(12):
                if i == 4:
                    b.recipient.kill9()  # recipient replica 1, under both sessions' reads
                    b_s2.kill9()         # sender replica 2, between submissions
                host, port = b.gateway_address("submission")
                try:
                    with smtplib.SMTP(host, port, local_hostname="client.test", timeout=30) as s:
                        s._host = b.name
                        s.starttls(context=b.tls_context())
                        s.login(bob.address, bob.password)
                        s.sendmail(bob.address, [carol.address],
                                   f"From: <{bob.address}>\r\nTo: <{carol.address}>\r\n"
                                   f"Subject: during {i}\r\n\r\nbody of during {i}\r\n")
                except (smtplib.SMTPException, OSError) as e:
                    refused.append((i, repr(e)))
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        self.assertGreater(done[0], 0, "no read round finished")
        self.assertEqual(failures, [], f"IMAP commands failed ({done[0]} rounds done)")
        self.assertEqual(refused, [], "submissions refused")

    def test_spam_counts_are_shared_between_recipient_replicas(self):
        """The spam policy's counts live in the shared store: one report
        through replica 1 and one through replica 2 together reach k=2, and
        replica 1, refreshed by its next maintenance pass, places a new copy
        of that body in Junk by the count that replica 2 completed."""
        a = self.world.init("a.example")
        a.append_config(RETRY_FAST)
        b, b2 = self.replicated("b.example", "recipient")
        b.edit_config("spam_threshold_k = 3.0", "spam_threshold_k = 2.0")
        ann = a.add_user("ann")
        users = [b.add_user(f"u{i}") for i in range(5)]
        a.start()
        b.start()
        b2.start()

        def mailbox(config, user, *args, check=True):
            return self.world.pullmail(*args, "--config", config, "--user", user.address,
                                       env={"PULLMAIL_PASSWORD": user.password}, check=check)

        def listed(config, user, junk=False):
            args = ["list", "--json"] + (["--junk"] if junk else ["--folder", "INBOX"])
            return mailbox(config, user, *args).json().get("messages", [])

        # One RFC 5322 message, sent twice: both copies have one body hash.
        raw = ("From: ann@a.example\r\nSubject: Replica spam\r\n"
               "Message-ID: <replica-spam@a.example>\r\n\r\n"
               + "Buy shared counts: http://shared.invalid/\r\n" * 20)

        def send(to):
            args = ["send", "--json", "--file", "-"]
            for u in to:
                args += ["--to", u.address]
            return self.world.pullmail(*args, "--config", a.config, "--user", ann.address,
                                       env={"PULLMAIL_PASSWORD": ann.password}, stdin=raw).json()

        first = send(users[:4])
        copies = {}
        for u in users[:4]:
            copies[u.address] = wait_until(
                lambda: next(iter(listed(b.config, u)), None), 60, interval=0.3,
                what=f"the message in {u.address}'s INBOX")
        self.assertEqual({c["message_id"] for c in copies.values()}, {first["message_id"]})

        one = mailbox(b.config, users[0], "report", copies[users[0].address]["uid"], "spam",
                      "--json").json()
        self.assertIn("1 net spam reports on this body", one["explanation"])
        self.assertIn("below the threshold", one["explanation"])
        two = mailbox(b2.config, users[1], "report", copies[users[1].address]["uid"], "spam",
                      "--json").json()
        self.assertIn("2 net spam reports on this body", two["explanation"])
        self.assertIn("threshold reached", two["explanation"])
        self.assertEqual(two["suppressed"], 2, two)
        for u in users[2:4]:
            self.assertEqual(listed(b.config, u), [], f"{u.address}'s copy is still in INBOX")
            junk = listed(b.config, u, junk=True)
            self.assertEqual([m["state"] for m in junk], ["suppressed"], junk)

        # Replica 1 counted only the first report itself; after one whole
        # maintenance pass it has the second from the store. With replica 2
        # stopped, replica 1 takes the next copy of the body and places it.
        syncs = "pullmail_policy_syncs_total"
        seen = b.recipient.counter(syncs)
        wait_until(lambda: b.recipient.counter(syncs) >= seen + 2, 30, interval=0.2,
                   what="two policy syncs on replica 1")
        b2.stop()
        again = send([users[4]])
        self.assertNotEqual(again["message_id"], first["message_id"])
        self.assertEqual(again["body_sha256"], first["body_sha256"])
        placed = wait_until(
            lambda: ([("INBOX", m) for m in listed(b.config, users[4])] +
                     [("Junk", m) for m in listed(b.config, users[4], junk=True)]), 60,
            interval=0.3, what=f"the second copy for {users[4].address}")
        self.assertEqual([(f, m["state"]) for f, m in placed], [("Junk", "suppressed")], placed)
        placed = [m for _, m in placed]
        self.assertTrue(placed[0]["reason"].startswith("body_hash_threshold:"), placed)
        self.assertIn("2 net spam reports on this body", placed[0]["reason"])


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        stop_own_server()
