#!/usr/bin/env python3
"""IMAP conformance cases against a real gateway and recipient node.

The same cases as core/imap/imap_machine_test.cc's golden transcripts (named
by RFC section there and here), run over a socket: framing (over-long line,
literals, pipelining), system flags in any letter case, and the extensions
issue 9 added (ID, ENABLE, SPECIAL-USE, LIST-EXTENDED/STATUS, ESEARCH, MOVE
into the selected mailbox, RENAME). Messages arrive by APPEND, so no sender
domain is needed. POP3's cases are in test_gateway_pop3.py.

Run one:  python3 tests/e2e/test_gateway_conformance.py --bin-dir build GatewayConformance.test_rfc3501_framing
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_gateway_imap import RawImap  # noqa: E402
from world import WorldTestCase, run_tests  # noqa: E402

BIN_DIR = os.environ.get("PULLMAIL_BIN_DIR", "build")


class GatewayConformance(WorldTestCase):
    def setUp(self):
        super().setUp()
        self.b = self.world.init("b.example")
        self.bob = self.b.add_user("bob")
        self.b.start()
        self.b.gateway.start()
        self.r = RawImap(self.b.gateway_address("imap"), self.b.tls_context(), self.b.name)
        self.addCleanup(self.r.close)

    def cmd(self, tag, text):
        self.r.send(tag + b" " + text + b"\r\n")
        return self.r.until_tagged(tag)

    def login(self):
        lines = self.cmd(b"l1", f'LOGIN {self.bob.address} "{self.bob.password}"'.encode())
        self.assertTrue(lines[-1].startswith(b"l1 OK"), lines)

    def append(self, n):
        for i in range(n):
            msg = b"From: ann@a.example\r\nSubject: m%d\r\n\r\nbody %d\r\n" % (i, i)
            self.r.send(b"ap APPEND INBOX {%d+}\r\n%s\r\n" % (len(msg), msg))
            self.assertTrue(self.r.until_tagged(b"ap")[-1].startswith(b"ap OK [APPENDUID"))

    def test_rfc3501_framing(self):
        r = self.r
        # RFC 3501 4.3 literals (synchronizing), in LOGIN.
        user, pw = self.bob.address.encode(), self.bob.password.encode()
        r.send(b"a1 LOGIN {%d}\r\n" % len(user))
        self.assertTrue(r.line().startswith(b"+ "))
        r.send(user + b" {%d}\r\n" % len(pw))
        self.assertTrue(r.line().startswith(b"+ "))
        r.send(pw + b"\r\n")
        self.assertTrue(r.until_tagged(b"a1")[-1].startswith(b"a1 OK"))
        # RFC 3501 5.5 pipelining: three commands in one segment, answered in order.
        r.send(b"p1 NOOP\r\np2 ID NIL\r\np3 SELECT INBOX\r\n")
        self.assertEqual(r.line(), b"p1 OK NOOP completed")
        self.assertTrue(r.line().startswith(b'* ID ("name" "pullmail"'))
        self.assertEqual(r.line(), b"p2 OK ID completed")
        self.assertTrue(r.until_tagged(b"p3")[-1].startswith(b"p3 OK [READ-WRITE]"))
        # An over-long line (issue 9: a client waiting for its tag hung).
        r.send(b"a2 NOOP " + b"x" * 9000 + b"\r\n")
        self.assertEqual(r.line(), b"a2 BAD line too long (at most 8192 octets)")
        # Over-long, sent in pieces, then a command right behind it.
        r.send(b"a3 NOOP " + b"y" * 5000)
        r.send(b"y" * 5000 + b"\r\na4 NOOP\r\n")
        self.assertEqual(r.line(), b"a3 BAD line too long (at most 8192 octets)")
        self.assertEqual(r.until_tagged(b"a4")[-1], b"a4 OK NOOP completed")
        # A literal over the limit before login is refused (new connection).
        r2 = RawImap(self.b.gateway_address("imap"), self.b.tls_context(), self.b.name)
        self.addCleanup(r2.close)
        r2.send(b"b1 LOGIN {100000}\r\n")
        self.assertEqual(r2.line(), b"b1 BAD literal too large")

    def test_rfc3501_flags_and_extensions(self):
        self.login()
        self.append(4)
        self.assertTrue(self.cmd(b"s1", b"SELECT INBOX")[-1].startswith(b"s1 OK"))
        # RFC 3501 2.3.2: "\deleted \seen" are the system flags.
        lines = self.cmd(b"a1", b"STORE 4 +FLAGS (\\deleted \\seen $Work)")
        self.assertIn(b"* 4 FETCH (FLAGS ($Work \\Deleted \\Seen))", lines)
        self.assertIn(b"* SEARCH 4", self.cmd(b"a2", b"SEARCH DELETED"))
        self.assertIn(b'* STATUS "INBOX" (UNSEEN 3)', self.cmd(b"a3", b"STATUS INBOX (UNSEEN)"))
        self.assertEqual(self.cmd(b"a4", b"EXPUNGE")[:1], [b"* 4 EXPUNGE"])
        # Keywords in use appear in FLAGS at SELECT.
        lines = self.cmd(b"s2", b"SELECT INBOX")
        self.assertTrue(any(l.startswith(b"* FLAGS (") and b"$Work" not in l for l in lines))
        self.cmd(b"a5", b"STORE 1 +FLAGS.SILENT (Later)")
        lines = self.cmd(b"s3", b"EXAMINE INBOX")
        self.assertIn(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft Later)", lines)
        self.assertTrue(self.cmd(b"s4", b"SELECT INBOX")[-1].startswith(b"s4 OK"))
        # RFC 6851: MOVE into the selected mailbox gives a new UID.
        lines = self.cmd(b"a6", b"UID MOVE 1 INBOX")
        self.assertTrue(any(re.match(rb"^\* OK \[COPYUID \d+ 1 5\] moved$", l) for l in lines), lines)
        self.assertIn(b"* 1 EXPUNGE", lines)
        self.assertEqual(lines[-1], b"a6 OK MOVE completed")
        # RFC 4731 ESEARCH.
        lines = self.cmd(b"a7", b"UID SEARCH RETURN (MIN MAX COUNT) ALL")
        self.assertIn(b'* ESEARCH (TAG "a7") UID MIN 2 MAX 5 COUNT 3', lines)
        # RFC 6154 / 5258 / 5819: Junk is listed with \Junk, with STATUS.
        lines = self.cmd(b"a8", b'LIST "" * RETURN (SPECIAL-USE STATUS (MESSAGES))')
        self.assertIn(b'* LIST (\\HasNoChildren \\Subscribed \\Junk) "/" "Junk"', lines)
        self.assertIn(b'* STATUS "INBOX" (MESSAGES 3)', lines)
        # RFC 5161 ENABLE, RFC 3501 6.3.5 RENAME.
        self.assertEqual(self.cmd(b"a9", b"ENABLE CONDSTORE")[0], b"* ENABLED")
        self.assertTrue(self.cmd(b"b0", b"CREATE Old")[-1].startswith(b"b0 OK"))
        self.assertTrue(self.cmd(b"b1", b"CREATE Old/Sub")[-1].startswith(b"b1 OK"))
        self.assertEqual(self.cmd(b"b2", b"RENAME Old New")[-1], b"b2 OK RENAME completed")
        lines = self.cmd(b"b3", b'LIST "" New*')
        self.assertIn(b'* LIST (\\HasNoChildren) "/" "New/Sub"', lines)


if __name__ == "__main__":
    run_tests(globals())
