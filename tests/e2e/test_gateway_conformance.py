#!/usr/bin/env python3
"""IMAP conformance cases against a real gateway and recipient node.

The same cases as core/imap/imap_machine_test.cc's golden transcripts (named
by RFC section there and here), run over a socket: framing (over-long line,
literals, pipelining), system flags in any letter case, and the extensions
issue 9 added (ID, ENABLE, SPECIAL-USE, LIST-EXTENDED/STATUS, ESEARCH, MOVE
into the selected mailbox, RENAME, CONDSTORE and QRESYNC, MULTIAPPEND, SORT, BINARY). Messages arrive by APPEND, so no sender
domain is needed. POP3's cases are in test_gateway_pop3.py.

Run one:  python3 tests/e2e/test_gateway_conformance.py --bin-dir build GatewayConformance.test_rfc3501_framing
"""

import os
import re
import sys
import time

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
        # ENABLE CONDSTORE with a mailbox selected: its HIGHESTMODSEQ first
        # (RFC 7162 3.1).
        lines = self.cmd(b"a9", b"ENABLE CONDSTORE")
        self.assertTrue(re.match(rb"^\* OK \[HIGHESTMODSEQ \d+\] Highest$", lines[0]), lines)
        self.assertEqual(lines[1:], [b"* ENABLED CONDSTORE", b"a9 OK ENABLE completed"])
        self.assertTrue(self.cmd(b"b0", b"CREATE Old")[-1].startswith(b"b0 OK"))
        self.assertTrue(self.cmd(b"b1", b"CREATE Old/Sub")[-1].startswith(b"b1 OK"))
        self.assertEqual(self.cmd(b"b2", b"RENAME Old New")[-1], b"b2 OK RENAME completed")
        lines = self.cmd(b"b3", b'LIST "" New*')
        self.assertIn(b'* LIST (\\HasNoChildren) "/" "New/Sub"', lines)

    def test_rfc3502_multiappend(self):
        self.login()
        self.assertTrue(self.cmd(b"s1", b"SELECT INBOX")[-1].startswith(b"s1 OK"))
        m1 = b"From: ann@a.example\r\nSubject: one\r\n\r\nfirst\r\n"
        m2 = b"From: ann@a.example\r\nSubject: two\r\n\r\nsecond\r\n"
        self.r.send(b"a1 APPEND INBOX (\\Seen) {%d+}\r\n%s {%d+}\r\n%s\r\n"
                    % (len(m1), m1, len(m2), m2))
        lines = self.r.until_tagged(b"a1")
        self.assertIn(b"* 2 EXISTS", lines)
        self.assertTrue(re.match(rb"^a1 OK \[APPENDUID \d+ 1:2\] APPEND completed$", lines[-1]), lines)
        lines = self.cmd(b"f1", b"UID FETCH 1:2 (FLAGS BODY.PEEK[TEXT])")
        self.assertIn(b"* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) BODY[TEXT] {7}", lines)
        self.assertIn(b"* 2 FETCH (UID 2 FLAGS (\\Recent) BODY[TEXT] {8}", lines)

    def test_rfc5256_sort(self):
        self.login()
        for subject, size in ((b"Re: beta", 30), (b"alpha", 10), (b"Fwd: gamma", 20)):
            msg = b"From: ann@a.example\r\nSubject: %s\r\n\r\n%s\r\n" % (subject, b"x" * size)
            self.r.send(b"ap APPEND INBOX {%d+}\r\n%s\r\n" % (len(msg), msg))
            self.assertTrue(self.r.until_tagged(b"ap")[-1].startswith(b"ap OK"))
        self.assertTrue(self.cmd(b"s1", b"SELECT INBOX")[-1].startswith(b"s1 OK"))
        self.assertEqual(self.cmd(b"a1", b"SORT (SUBJECT) UTF-8 ALL"),
                         [b"* SORT 2 1 3", b"a1 OK SORT completed"])
        self.assertEqual(self.cmd(b"a2", b"UID SORT (REVERSE SIZE) UTF-8 ALL"),
                         [b"* SORT 1 3 2", b"a2 OK SORT completed"])

    def test_rfc3516_binary(self):
        self.login()
        msg = (b"From: ann@a.example\r\nSubject: bin\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
               b"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n--b\r\n"
               b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
               b"\r\nAAEC/w==\r\n--b--\r\n")
        self.r.send(b"ap APPEND INBOX ~{%d+}\r\n%s\r\n" % (len(msg), msg))
        self.assertTrue(self.r.until_tagged(b"ap")[-1].startswith(b"ap OK [APPENDUID"))
        self.assertTrue(self.cmd(b"s1", b"SELECT INBOX")[-1].startswith(b"s1 OK"))
        self.r.send(b"f1 FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[2] BINARY.PEEK[2])\r\n")
        self.assertEqual(self.r.line(), b"* 1 FETCH (BINARY[1] {5}")
        rest = b""
        while not rest.endswith(b"f1 OK FETCH completed\r\n"):
            rest += self.r.sock.recv(65536) if not self.r.buf else self.r.buf
            self.r.buf = b""
        self.assertEqual(rest, b"caf\xc3\xa9 BINARY.SIZE[2] 4 BINARY[2] ~{4}\r\n\x00\x01\x02\xff)\r\n"
                               b"f1 OK FETCH completed\r\n")

    def other_session(self):
        r2 = RawImap(self.b.gateway_address("imap"), self.b.tls_context(), self.b.name)
        self.addCleanup(r2.close)
        r2.send(f'l1 LOGIN {self.bob.address} "{self.bob.password}"\r\n'.encode())
        self.assertTrue(r2.until_tagged(b"l1")[-1].startswith(b"l1 OK"))
        return r2

    def noop_until(self, r, tag, wanted):
        """NOOPs until a line matching `wanted` arrives (another session's
        change reaches this one through the node's Watch stream); bounded."""
        seen = []
        for i in range(50):
            r.send(b"%s%d NOOP\r\n" % (tag, i))
            lines = r.until_tagged(b"%s%d" % (tag, i))
            seen += lines[:-1]
            if any(re.match(wanted, l) for l in lines):
                return seen
            time.sleep(0.1)
        self.fail(f"never saw {wanted!r}; saw {seen!r}")

    def test_rfc7162_condstore(self):
        self.login()
        self.append(4)
        lines = self.cmd(b"s1", b"SELECT INBOX (CONDSTORE)")
        start = int(re.search(rb"\[HIGHESTMODSEQ (\d+)\]", b"\n".join(lines)).group(1))
        # 3.1.4.1 FETCH MODSEQ: one distinct modseq per message, the highest
        # is the mailbox's.
        lines = self.cmd(b"f1", b"FETCH 1:4 (UID MODSEQ)")
        modseq = {int(u): int(m) for u, m in
                  (re.match(rb"^\* \d+ FETCH \(UID (\d+) MODSEQ \((\d+)\)\)$", l).groups()
                   for l in lines[:-1])}
        self.assertEqual(sorted(modseq), [1, 2, 3, 4])
        self.assertEqual(max(modseq.values()), start)
        self.assertEqual(len(set(modseq.values())), 4)
        # 3.1.3 STORE UNCHANGEDSINCE: passes, then fails for the message it
        # changed (UIDs in MODIFIED for UID STORE).
        lines = self.cmd(b"f2", b"UID STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % modseq[1])
        m1 = int(re.match(rb"^\* 1 FETCH \(FLAGS \(\\Flagged\) UID 1 MODSEQ \((\d+)\)\)$",
                          lines[0]).group(1))
        self.assertGreater(m1, start)
        self.assertEqual(lines[-1], b"f2 OK STORE completed")
        lines = self.cmd(b"f3", b"UID STORE 1:2 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)" % modseq[2])
        self.assertEqual(lines[-1], b"f3 OK [MODIFIED 1] Conditional STORE failed")
        self.assertEqual(len(lines), 2)
        self.assertTrue(re.match(rb"^\* 2 FETCH \(FLAGS \(\\Seen\) UID 2 MODSEQ \(\d+\)\)$",
                                 lines[0]), lines)
        # 3.1.4.1 CHANGEDSINCE; 3.1.5 SEARCH MODSEQ; 3.1.6 STATUS HIGHESTMODSEQ.
        lines = self.cmd(b"f4", b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % start)
        self.assertEqual([re.match(rb"^\* \d+ FETCH \(UID (\d+)", l).group(1) for l in lines[:-1]],
                         [b"1", b"2"])
        lines = self.cmd(b"f5", b"SEARCH MODSEQ %d" % (start + 1))
        self.assertTrue(re.match(rb"^\* SEARCH 1 2 \(MODSEQ \d+\)$", lines[0]), lines)
        lines = self.cmd(b"f6", b"STATUS INBOX (HIGHESTMODSEQ MESSAGES)")
        now = int(re.match(rb'^\* STATUS "INBOX" \(HIGHESTMODSEQ (\d+) MESSAGES 4\)$',
                           lines[0]).group(1))
        self.assertGreater(now, m1)
        # Another session's flag change arrives with its MODSEQ.
        r2 = self.other_session()
        r2.send(b"o1 SELECT INBOX\r\n")
        r2.until_tagged(b"o1")
        r2.send(b"o2 STORE 4 +FLAGS.SILENT (\\Answered)\r\n")
        self.assertEqual(r2.until_tagged(b"o2")[-1], b"o2 OK STORE completed")
        self.noop_until(self.r, b"n", rb"^\* 4 FETCH \(FLAGS \(\\Answered\) UID 4 MODSEQ \(\d+\)\)$")

    def test_rfc7162_qresync(self):
        self.login()
        self.append(4)
        lines = self.cmd(b"s0", b"SELECT INBOX (QRESYNC (1 1))")
        self.assertEqual(lines, [b"s0 BAD QRESYNC must be enabled first (ENABLE QRESYNC)"])
        self.assertEqual(self.cmd(b"e1", b"ENABLE QRESYNC"),
                         [b"* ENABLED QRESYNC", b"e1 OK ENABLE completed"])
        lines = self.cmd(b"s1", b"SELECT INBOX")
        text = b"\n".join(lines)
        uidvalidity = int(re.search(rb"\[UIDVALIDITY (\d+)\]", text).group(1))
        # 3.2.10: this session's EXPUNGE is a VANISHED, its tagged OK has the
        # new HIGHESTMODSEQ.
        self.cmd(b"a1", b"STORE 3 +FLAGS.SILENT (\\Deleted)")
        lines = self.cmd(b"a2", b"EXPUNGE")
        self.assertEqual(lines[0], b"* VANISHED 3")
        saved = int(re.match(rb"^a2 OK \[HIGHESTMODSEQ (\d+)\] Expunged$", lines[1]).group(1))
        # Another session removes UID 2 and flags UID 1; this one is told
        # with VANISHED, not EXPUNGE.
        r2 = self.other_session()
        r2.send(b"o1 SELECT INBOX\r\no2 STORE 2 +FLAGS.SILENT (\\Deleted)\r\no3 EXPUNGE\r\n"
                b"o4 STORE 1 +FLAGS.SILENT (\\Flagged)\r\n")
        self.assertEqual(r2.until_tagged(b"o4")[-1], b"o4 OK STORE completed")
        self.noop_until(self.r, b"n", rb"^\* VANISHED 2$")
        self.r.send(b"z LOGOUT\r\n")
        self.r.until_tagged(b"z")
        # 3.2.5: a new connection resynchronises in its SELECT: what vanished
        # since `saved` (VANISHED (EARLIER)) and what changed (FETCH).
        r3 = self.other_session()
        r3.send(b"e1 ENABLE QRESYNC\r\n")
        r3.until_tagged(b"e1")
        r3.send(b"s2 SELECT INBOX (QRESYNC (%d %d 1:4))\r\n" % (uidvalidity, saved))
        lines = r3.until_tagged(b"s2")
        self.assertTrue(lines[-1].startswith(b"s2 OK [READ-WRITE]"), lines)
        self.assertIn(b"* VANISHED (EARLIER) 2", lines)
        fetches = [l for l in lines if b" FETCH " in l]
        self.assertEqual(len(fetches), 1, lines)
        self.assertTrue(re.match(rb"^\* 1 FETCH \(UID 1 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$",
                                 fetches[0]), fetches)
        # 3.2.6: the same from UID FETCH (CHANGEDSINCE ... VANISHED).
        r3.send(b"f1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)\r\n" % saved)
        lines = r3.until_tagged(b"f1")
        self.assertEqual(lines[0], b"* VANISHED (EARLIER) 2")
        self.assertEqual(lines[1:], fetches + [b"f1 OK FETCH completed"])


if __name__ == "__main__":
    run_tests(globals())
