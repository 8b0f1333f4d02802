#!/usr/bin/env python3
"""End-to-end tests of what a hostile peer or a hostile environment does to
a node (issue 10): real node programs on loopback (world.py), driven by the
real `pullmail` command and, where a well-behaved node never would send
what the test needs, by `pullmail debug ...` (real gRPC, real TLS, a listed
domain's real key) or by the rogue peer program tests/rogue/rogue_peer.cc.

- a busy port (metrics or service) ends each program with a clean error
  and exit code 1, never an abort;
- a cached body serves only notifications from the domain that sent it;
- a peer's oversized request is refused by its method's limit, and a peer
  gets only so many calls at once;
- one trusted peer's report about a message never seen here does not
  condemn the sending domain; an abuse report counts its reporter (the
  signer) whatever the spelling of its reporter_domain;
- a slow-drip sender node holds neither the prefetch of other domains'
  mail, nor more than its share of fetches, nor a reader, nor the shutdown.

Run one:   python3 tests/e2e/test_hostile.py --bin-dir build Hostile.test_busy_metrics_port_is_a_clean_error
ctest registers each test method separately (tests/e2e/CMakeLists.txt).
Set PULLMAIL_E2E_KEEP=1 to keep a failed test's folder and logs.
"""

import base64
import glob
import os
import socket
import sqlite3
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import WorldTestCase, run_tests, wait_until  # noqa: E402

BIN_DIR = os.environ.get("PULLMAIL_BIN_DIR", "build")

SERVED = "pullmail_body_bytes_served_total"
FETCHED = "pullmail_body_bytes_fetched_total"
DRIP_SIZE = 1000000  # what tests/rogue/rogue_peer drip announces by default


def occupy(listen):
    """A socket listening on `listen` (host:port), so that nobody else can."""
    host, port = listen.rsplit(":", 1)
    s = socket.socket()
    s.bind((host, int(port)))
    s.listen(1)
    return s


class RoguePeer:
    """tests/rogue/rogue_peer as a child process whose stdout lines are
    collected; killed by PID when the world closes."""

    def __init__(self, world, *args):
        binary = os.path.join(world.bin_dir, "tests", "rogue", "rogue_peer")
        self.proc = subprocess.Popen([binary] + [str(a) for a in args], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        world.processes.append(self.proc)
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.strip())

    def starts(self):
        return [l for l in self.lines if l.startswith("START ")]

    def ends(self):
        return [l for l in self.lines if l.startswith("END ")]

    def max_in_flight(self):
        return max((int(l.split()[1]) for l in self.starts()), default=0)


def start_drip_sender(world, domain, interval_ms=500):
    """Runs the rogue drip server as `domain`'s sender node (its listed
    endpoint, its certificate): every body it serves never finishes."""
    rogue = RoguePeer(world, "drip", "--config", domain.config, "--listen",
                      domain.info["sender_listen"], "--interval-ms", interval_ms)
    wait_until(lambda: any(l.startswith("READY") for l in rogue.lines), 30,
               what="the rogue sender to listen")
    return rogue


def hostile_notify(world, domain, to):
    """A real notification signed by `domain` for a body of the size the
    drip sender announces (DRIP_SIZE), with a random hash."""
    r = world.pullmail("debug", "notify", "--config", domain.config, "--to", to,
                       "--body-sha256-hex", os.urandom(32).hex(), "--body-size", DRIP_SIZE)
    assert r.json_lines()[0]["code"] == 0, r


class Hostile(WorldTestCase):

    def _expect_clean_failure(self, node, words):
        node.start(wait=False)
        code = node.proc.wait(timeout=30)
        with open(node.log_path, errors="replace") as f:
            log = f.read()
        # Before the fix the recipient node died of SIGABRT ("terminate called
        # without an active exception"): returncode -6.
        self.assertEqual(code, 1, f"{node}: exit {code}\n{log}")
        self.assertNotIn("terminate called", log)
        for w in words:
            self.assertIn(w, log)

    def test_busy_metrics_port_is_a_clean_error(self):
        a = self.world.init("a.example")
        for node in (a.recipient, a.sender):
            with occupy(node.metrics_listen):
                self._expect_clean_failure(node, ["metrics", "Address already in use"])
        # The gateway has no metrics port: a busy service port is its case.
        with occupy(a.gateway.listen):
            self._expect_clean_failure(a.gateway, ["imap", "in use"])
        # And both nodes still start once the ports are free.
        a.start()

    def test_cached_body_serves_only_the_domain_that_sent_it(self):
        """b.example names the hash of a body a.example sent to c.example's
        users: it gets neither the body nor a hint that c.example holds it."""
        a = self.world.init("a.example").start()
        b = self.world.init("b.example").start()
        c = self.world.init("c.example").start()
        ann = a.add_user("ann")
        carol, dave = c.add_user("carol"), c.add_user("dave")
        secret = "the merger closes on Friday; tell nobody\n"
        ann.send([carol.address, dave.address], "Private", secret)
        m = carol.wait_for_messages(1)[0]
        # sent_size: the message as sent (body_size adds c.example's
        # Authentication-Results: field to what a read serves).
        size, sha = int(m["sent_size"]), base64.b64decode(m["body_sha256"])
        self.assertIn("merger", carol.read(m["uid"]).stdout)
        wait_until(lambda: c.recipient.counter(FETCHED) == size, 10, what="the first fetch")

        # Within a.example's scope the body is cached once for every reader.
        theirs = dave.wait_for_messages(1)[0]
        self.assertTrue(theirs["body_cached"])
        self.assertTrue(dave.read_json(theirs["uid"])["from_cache"])
        self.assertEqual(c.recipient.counter(FETCHED), size)
        self.assertEqual(a.sender.counter(SERVED), size)

        # b.example (its real key, a real notification) names that hash.
        r = self.world.pullmail("debug", "notify", "--config", b.config, "--to", dave.address,
                                "--body-sha256-hex", sha.hex(), "--body-size", size)
        self.assertEqual(r.json_lines()[0]["code"], 0, r)
        forged = [x for x in dave.wait_for_messages(2) if x["signing_domain"] == "b.example"]
        self.assertEqual(len(forged), 1)
        # No oracle in the listing...
        self.assertFalse(forged[0]["body_cached"])
        # ...and the read goes to b.example's sender node, which has no such
        # message: refused, and not one byte of a.example's body is shown.
        read = dave.read(forged[0]["uid"], check=False)
        self.assertNotEqual(read.returncode, 0, read)
        self.assertNotIn("merger", read.stdout + read.stderr)
        self.assertEqual(c.recipient.counter(FETCHED), size)

    def test_slow_drip_sender_holds_no_prefetch_of_others_nor_the_shutdown(self):
        a = self.world.init("a.example", "--retention-hours", "20")
        b = self.world.init("b.example")
        c = self.world.init("c.example")
        # Every unread body is due for prefetch (expiry within 25 h); a fetch
        # is never cut for slowness here (grace 10 min), so the drips stay in
        # flight: what bounds them is the schedule.
        c.edit_config("prefetch_before_expiry_hours = 24", "prefetch_before_expiry_hours = 25")
        c.append_config("[recipient.fetch]\nmax_in_flight = 4\nmax_per_domain = 2\n"
                        "grace_seconds = 600\n")
        a.start()
        c.start()
        rogue = start_drip_sender(self.world, b)
        ann, carol = a.add_user("ann"), c.add_user("carol")
        for _ in range(5):
            hostile_notify(self.world, b, carol.address)
        wait_until(lambda: len(rogue.starts()) >= 2, 30, what="the drips to be fetched")

        # Mail from a well-behaved domain is prefetched meanwhile.
        ann.send(carol.address, "Legit", "a body worth pinning\n")
        def legit_cached():
            return [m for m in carol.list() if m["signing_domain"] == "a.example"
                    and m["body_cached"]]
        wait_until(legit_cached, 30, what="a.example's body to be prefetched")
        self.assertGreaterEqual(c.recipient.counter("pullmail_prefetches_total"), 1)
        # b.example never had more than its share of the fetches.
        self.assertEqual(rogue.max_in_flight(), 2, rogue.lines)
        self.assertEqual(len(rogue.ends()), 0, rogue.lines)

        # SIGTERM cancels the fetches in flight; the node exits at once
        # (Node.stop fails the test past its grace period).
        self.assertEqual(c.recipient.stop(), 0)
        wait_until(lambda: len(rogue.ends()) == len(rogue.starts()), 10,
                   what="the rogue to see every fetch end")

    def test_slow_drip_body_read_is_cut_off_as_unavailable(self):
        b = self.world.init("b.example")
        c = self.world.init("c.example")
        c.append_config("[recipient.fetch]\ngrace_seconds = 1\nmin_bytes_per_second = 1000\n")
        c.start()
        rogue = start_drip_sender(self.world, b, interval_ms=200)
        carol = c.add_user("carol")
        hostile_notify(self.world, b, carol.address)
        m = carol.wait_for_messages(1)[0]
        r = carol.read(m["uid"], check=False)
        # UNAVAILABLE (exit 3), with the reason; not a wait for the drip.
        self.assertEqual(r.returncode, 3, r)
        self.assertIn("too_slow", r.stderr)
        # The read's fetch was cut off; the node's prefetch may have tried the
        # same drip meanwhile and been cut off too (CI saw 2), so at least one.
        self.assertGreaterEqual(c.recipient.counter('pullmail_fetches_total{result="too_slow"}'), 1)
        self.assertFalse(carol.list()[0]["body_cached"])
        wait_until(lambda: len(rogue.starts()) >= 1 and len(rogue.ends()) == len(rogue.starts()), 10,
                   what="the rogue to see every fetch end")

    def test_a_big_body_of_wrong_bytes_streamed_to_the_cache_leaves_nothing(self):
        # A body above 4 MiB goes to the cache in pieces as it arrives; a
        # sender that sends all of it, of the wrong bytes, gets a DATA_LOSS
        # read, and nothing of it stays: not a cached body, not a chunk row.
        b = self.world.init("b.example")
        c = self.world.init("c.example")
        c.start()
        size = 5 * 1024 * 1024 + 7
        rogue = RoguePeer(self.world, "drip", "--config", b.config, "--listen",
                          b.info["sender_listen"], "--interval-ms", 0, "--total-size", size,
                          "--chunk-bytes", 65536, "--finish", 1)
        wait_until(lambda: any(l.startswith("READY") for l in rogue.lines), 30,
                   what="the rogue sender to listen")
        carol = c.add_user("carol")
        r = self.world.pullmail("debug", "notify", "--config", b.config, "--to", carol.address,
                                "--body-sha256-hex", os.urandom(32).hex(), "--body-size", size)
        self.assertEqual(r.json_lines()[0]["code"], 0, r)
        m = carol.wait_for_messages(1)[0]
        r = carol.read(m["uid"], check=False)
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn("DATA_LOSS", r.stderr + r.stdout)
        self.assertGreaterEqual(c.recipient.counter(FETCHED), size)  # all of it came
        self.assertFalse(carol.list()[0]["body_cached"])
        wait_until(lambda: any("finished" in l for l in rogue.ends()), 10,
                   what="the rogue to see its call end")
        dbs = glob.glob(os.path.join(os.path.dirname(c.config), "data", "*.db"))
        chunks = 0
        for path in dbs:
            with sqlite3.connect(path) as db:
                if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'cached_body_chunks'"
                              ).fetchone():
                    chunks += db.execute("SELECT COUNT(*) FROM cached_body_chunks").fetchone()[0]
        self.assertEqual(chunks, 0, dbs)

    def test_one_peer_report_about_unseen_mail_does_not_hold_a_domain(self):
        a = self.world.init("a.example")
        b = self.world.init("b.example")  # a trusted peer of c.example, gone rogue
        c = self.world.init("c.example")
        c.append_config('[recipient.policy.peer_weights]\n"b.example" = 1.0')
        a.start()
        c.start()
        ann, carol = a.add_user("ann"), c.add_user("carol")
        # b.example reports, for 10 of its users, a message of a.example's
        # that c.example never received.
        r = self.world.pullmail(
            "debug", "share-report", "--config", b.config, "--to-domain", "c.example",
            "--message-id", "never-sent@a.example", "--message-signing-domain", "a.example",
            "--body-sha256-hex", os.urandom(32).hex(), "--reports", "10")
        res = r.json_lines()[0]
        self.assertEqual(res["code_name"], "OK", res)
        # a.example's next mail is shown, not held back for hours (held
        # copies are invisible to their user).
        ann.send(carol.address, "Ordinary", "nothing to see\n")
        [m] = carol.wait_for_messages(1, timeout=20)
        self.assertEqual(m["state"], "shown", m)
        self.assertIn("not counted against a.example: no such message here", res["reason"])

    def test_abuse_report_counts_its_reporter_in_any_spelling(self):
        # A report's reporter_domain may be spelt otherwise than its signer
        # ("B.Example."): the sender node judges the signer, the notified
        # domain, and records one reporter; it refused it as not_a_recipient.
        a = self.world.init("a.example")
        b = self.world.init("b.example")
        a.start()
        b.start()
        ann, bob = a.add_user("ann"), b.add_user("bob")
        ann.send(bob.address, "Offer", "Buy now.\n")
        [m] = bob.wait_for_messages(1)
        report = ["debug", "share-report", "--config", b.config, "--to-domain", "a.example",
                  "--message-id", m["message_id"], "--message-signing-domain", "a.example",
                  "--body-sha256-hex", base64.b64decode(m["body_sha256"]).hex(), "--as-abuse",
                  "--reporter-domain", "B.Example."]
        r = self.world.pullmail(*report, check=False)
        self.assertEqual(r.json_lines()[0]["code_name"], "OK", r)
        self.assertEqual(a.sender.counter('pullmail_abuse_reports_total{verdict="spam"}'), 1)
        self.assertEqual(
            a.sender.counter('pullmail_abuse_reports_rejected_total{reason="not_a_recipient"}'), 0)

    def rogue_codes(self, *args):
        r = RoguePeer(self.world, *args)
        r.proc.wait(timeout=60)
        r._reader.join(5)
        import json
        return json.loads(r.lines[-1])["codes"]

    def test_oversized_requests_are_refused_by_method_limit(self):
        b = self.world.init("b.example")
        c = self.world.init("c.example")
        c.recipient.start()
        # 200 kB is far below the node's 65 MiB receive limit (Append needs
        # it) but over what a notification or a report can be.
        for method in ("notify", "share-report"):
            codes = self.rogue_codes("flood", "--config", b.config, "--to-domain", "c.example",
                                     "--bytes", 200000, "--calls", 2, "--method", method)
            self.assertEqual(codes, {"RESOURCE_EXHAUSTED": 2}, method)
        self.assertEqual(c.recipient.counter('pullmail_rpc_refused_total{reason="message_too_large"}'), 4)
        self.assertEqual(c.recipient.counter("pullmail_notifications_accepted_total"), 0)

    def test_a_peer_gets_only_so_many_calls_at_once(self):
        a = self.world.init("a.example")
        b = self.world.init("b.example")
        c = self.world.init("c.example")
        c.append_config("[rpc]\nmax_calls_per_peer = 3")
        a.start()
        c.start()
        ann, carol = a.add_user("ann"), c.add_user("carol")
        codes = self.rogue_codes("hold", "--config", b.config, "--to-domain", "c.example",
                                 "--streams", 8, "--seconds", 3)
        # Three streams held to their deadline; the other five ended at once.
        self.assertEqual(codes, {"OK": 3, "CANCELLED": 5})
        self.assertEqual(c.recipient.counter('pullmail_rpc_refused_total{reason="too_many_calls"}'), 5)
        # The slots are free again once the rogue's calls end.
        ann.send(carol.address, "After", "still delivered\n")
        carol.wait_for_messages(1)


if __name__ == "__main__":
    run_tests(globals())
