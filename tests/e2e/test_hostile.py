#!/usr/bin/env python3
"""End-to-end tests of what a hostile peer or a hostile environment does to
a node (issue 10): real node programs on loopback (world.py), driven by the
real `pullmail` command and, where a well-behaved node never would send
what the test needs, by `pullmail debug ...` (real gRPC, real TLS, a listed
domain's real key) or by the rogue peer program tests/rogue/rogue_peer.cc.

- a busy port (metrics or service) ends each program with a clean error
  and exit code 1, never an abort;
- a cached body serves only notifications from the domain that sent it.

Run one:   python3 tests/e2e/test_hostile.py --bin-dir build Hostile.test_busy_metrics_port_is_a_clean_error
ctest registers each test method separately (tests/e2e/CMakeLists.txt).
Set PULLMAIL_E2E_KEEP=1 to keep a failed test's folder and logs.
"""

import base64
import os
import signal
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import WorldTestCase, run_tests, wait_until  # noqa: E402

BIN_DIR = os.environ.get("PULLMAIL_BIN_DIR", "build")

SERVED = "pullmail_body_bytes_served_total"
FETCHED = "pullmail_body_bytes_fetched_total"


def occupy(listen):
    """A socket listening on `listen` (host:port), so that nobody else can."""
    host, port = listen.rsplit(":", 1)
    s = socket.socket()
    s.bind((host, int(port)))
    s.listen(1)
    return s


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
        size, sha = int(m["body_size"]), base64.b64decode(m["body_sha256"])
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


if __name__ == "__main__":
    run_tests(globals())
