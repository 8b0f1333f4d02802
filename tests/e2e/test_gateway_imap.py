#!/usr/bin/env python3
"""End-to-end tests of pullmail-gateway's IMAP4rev1 service (RFC 3501).

Each test builds a two-domain federation (world.py), starts b.example's
gateway, and drives it with Python's imaplib over STARTTLS, trusting the
world's CA: a real client, real TLS, real nodes. ann@a.example sends with the
`pullmail` CLI; bob@b.example reads by IMAP. Byte counters from the nodes'
/metrics show when a body moves (a.example serves it, b.example fetches it):
listing, ENVELOPE and summary header fields must move none; BODY[] pulls.
A few tests speak raw IMAP over a TLS socket where imaplib hides the wire
(literals, over-long lines, IDLE).

Run one:  python3 tests/e2e/test_gateway_imap.py --bin-dir build GatewayImap.test_idle_sees_new_mail
ctest registers each test method as e2e_gateway_imap_<name>.
"""

import imaplib
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import WorldTestCase, run_tests, wait_until  # noqa: E402

BIN_DIR = os.environ.get("PULLMAIL_BIN_DIR", "build")

SERVED = "pullmail_body_bytes_served_total"
FETCHED = "pullmail_body_bytes_fetched_total"
TIMEOUT = 30  # seconds, for every socket operation


class RawImap:
    """A line-level IMAP client over a socket (STARTTLS on request)."""

    def __init__(self, addr, tls_context=None, server_hostname=None):
        self.sock = socket.create_connection(addr, timeout=TIMEOUT)
        self.buf = b""
        self.greeting = self.line()
        if tls_context is not None:
            self.send(b"s0 STARTTLS\r\n")
            resp = self.line()
            assert resp.startswith(b"s0 OK"), resp
            self.sock = tls_context.wrap_socket(self.sock, server_hostname=server_hostname)

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"connection closed; buffered {self.buf!r}")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def until_tagged(self, tag):
        """Lines up to and including the one starting with `tag `."""
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class GatewayCase(WorldTestCase):
    """Two running domains (ann@a.example, bob@b.example) and b.example's
    gateway; every IMAP session a test opens (self.sessions) is closed after
    it. The gateway suites (IMAP, IDLE, EXPUNGE) build on it. A suite's
    B_USERS names more users of b.example (each self.<name>)."""

    B_USERS = ()

    def setUp(self):
        super().setUp()
        self.a = self.world.init("a.example")
        self.b = self.world.init("b.example")
        self.ann = self.a.add_user("ann")
        self.bob = self.b.add_user("bob")
        for name in self.B_USERS:
            setattr(self, name, self.b.add_user(name))
        self.a.start()
        self.b.start()
        self.b.gateway.start()
        self.sessions = []
        self.addCleanup(self._close_sessions)

    def _close_sessions(self):
        for s in self.sessions:
            try:
                if isinstance(s, RawImap):
                    s.close()
                else:
                    s.shutdown()
            except (OSError, imaplib.IMAP4.error):
                pass

    def tls_login(self, user):
        """An imaplib session to b.example's gateway, after STARTTLS and
        LOGIN as `user`."""
        host, port = self.b.gateway_address("imap")
        m = imaplib.IMAP4(host, port, timeout=TIMEOUT)
        self.sessions.append(m)
        m.host = self.b.name  # the certificate names the domain
        self.assertEqual(m.starttls(ssl_context=self.b.tls_context())[0], "OK")
        self.assertEqual(m.login(user.address, user.password)[0], "OK")
        return m


class GatewayImap(GatewayCase):

    # -------------------------------------------------------------- helpers

    def connect(self, tls=True):
        host, port = self.b.gateway_address("imap")
        m = imaplib.IMAP4(host, port, timeout=TIMEOUT)
        self.sessions.append(m)
        self.assertIn(b"pullmail IMAP4rev1 ready", m.welcome)
        if tls:
            # imaplib checks the certificate against self.host; the gateway's
            # certificate names the domain, which we reach at 127.0.0.1.
            m.host = self.b.name
            typ, _ = m.starttls(ssl_context=self.b.tls_context())
            self.assertEqual(typ, "OK")
        return m

    def login(self, user=None):
        user = user or self.bob
        m = self.connect()
        typ, _ = m.login(user.address, user.password)
        self.assertEqual(typ, "OK")
        return m

    def raw(self, tls=True):
        r = RawImap(self.b.gateway_address("imap"), self.b.tls_context() if tls else None,
                    self.b.name)
        self.sessions.append(r)
        return r

    def raw_login(self):
        r = self.raw()
        r.send(f'l1 LOGIN {self.bob.address} "{self.bob.password}"\r\n'.encode())
        self.assertTrue(r.until_tagged(b"l1")[-1].startswith(b"l1 OK"))
        return r

    def send(self, subject, body):
        return self.ann.send(self.bob.address, subject, body)

    def ok(self, result):
        typ, data = result
        self.assertEqual(typ, "OK", data)
        return data

    # ---------------------------------------------------------------- tests

    def test_envelope_moves_no_body_then_body_pulls_it(self):
        self.send("Lunch on Friday?", "Hi Bob,\nlunch on Friday?\n")
        listed = self.bob.wait_for_messages(1)[0]
        size = int(listed["body_size"])  # what IMAP serves: with b.example's Authentication-Results:
        sent = int(listed["sent_size"])  # what moves between the nodes

        m = self.login()
        folders = self.ok(m.list('""', "*"))
        self.assertTrue(any(b'"INBOX"' in f for f in folders), folders)
        typ, data = m.select("INBOX")
        self.assertEqual((typ, data), ("OK", [b"1"]))
        data = self.ok(m.fetch("1", "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)"))
        line = data[0]
        self.assertIn(f"RFC822.SIZE {size}".encode(), line)
        self.assertIn(b'"Lunch on Friday?"', line)
        self.assertIn(b'"ann" "a.example"', line)
        self.assertRegex(line, rb'INTERNALDATE "[ 0-9]\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d \+0000"')
        # Header fields the summary holds come from it: still no body moved.
        data = self.ok(m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS "
                                             "(DATE FROM SUBJECT TO MESSAGE-ID)])"))
        self.assertIn(b"Subject: Lunch on Friday?", data[0][1])
        self.assertIn(b"From: ", data[0][1])
        self.assertEqual(self.a.sender.counter(SERVED), 0)
        self.assertEqual(self.b.recipient.counter(FETCHED), 0)
        self.assertNotIn("\\Seen", self.bob.list()[0]["flags"])

        # BODY[] pulls the body now: exactly its bytes, and \Seen is set.
        data = self.ok(m.fetch("1", "(BODY[])"))
        meta, body = data[0]
        self.assertIn(b"\\Seen", data[0][0] + (data[1] if len(data) > 1 else b""))
        self.assertEqual(len(body), size)
        self.assertIn(b"Subject: Lunch on Friday?", body)
        self.assertTrue(body.replace(b"\r\n", b"\n").endswith(b"Hi Bob,\nlunch on Friday?\n"), body)
        self.assertTrue(body.startswith(b"Authentication-Results: b.example; "), body)
        wait_until(lambda: self.a.sender.counter(SERVED) == sent, 10,
                   what=f"a.example to have served {sent} body bytes")
        self.assertEqual(self.b.recipient.counter(FETCHED), sent)
        self.assertIn("\\Seen", self.bob.list()[0]["flags"])
        # The node's own read gives the same bytes.
        cli = self.bob.read_json(listed["uid"])["body"]
        self.assertEqual(body.decode(), cli)
        # BODYSTRUCTURE of a plain text message (from the cache now).
        data = self.ok(m.fetch("1", "(BODYSTRUCTURE)"))
        self.assertRegex(data[0], rb'BODYSTRUCTURE \("TEXT" "PLAIN" \("CHARSET" "[^"]+"\) NIL NIL '
                                  rb'"[0-9A-Z-]+" \d+ \d+')
        self.assertEqual(m.logout()[0], "BYE")  # imaplib returns the BYE

    def test_mutt_header_fetch_and_partial(self):
        self.send("Mutt", "one\ntwo\n")
        self.bob.wait_for_messages(1)
        m = self.login()
        self.ok(m.select("INBOX"))
        # mutt asks for fields the summary lacks (REFERENCES, CONTENT-TYPE):
        # that needs the real header, a peek (no \Seen).
        data = self.ok(m.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK"
                                             "[HEADER.FIELDS (DATE FROM SUBJECT TO CC MESSAGE-ID "
                                             "REFERENCES CONTENT-TYPE IN-REPLY-TO)])"))
        meta, header = data[0]
        self.assertIn(b"BODY[HEADER.FIELDS (DATE FROM SUBJECT TO CC MESSAGE-ID REFERENCES "
                      b"CONTENT-TYPE IN-REPLY-TO)]", meta)
        self.assertIn(b"Subject: Mutt", header)
        self.assertTrue(header.endswith(b"\r\n\r\n") or header.endswith(b"\n\n"), header)
        self.assertNotIn(b"\\Seen", meta)
        data = self.ok(m.fetch("1", "(BODY.PEEK[TEXT]<0.3>)"))
        self.assertIn(b"BODY[TEXT]<0>", data[0][0])
        self.assertEqual(data[0][1], b"one")
        self.assertNotIn("\\Seen", self.bob.list()[0]["flags"])

    def fetch_raw(self, r, tag, command):
        """Sends `tag command` and returns every byte of the reply up to and
        including the tagged line, literals read by their announced size."""
        r.send(f"{tag} {command}\r\n".encode())
        out = b""
        while True:
            line = r.line()
            out += line + b"\r\n"
            m = re.search(rb"\{(\d+)\}$", line)
            while m:  # a literal, then the rest of its line
                n = int(m.group(1))
                while len(r.buf) < n:
                    chunk = r.sock.recv(1 << 20)
                    if not chunk:
                        raise EOFError("connection closed inside a literal")
                    r.buf += chunk
                out += r.buf[:n]
                r.buf = r.buf[n:]
                line = r.line()
                out += line + b"\r\n"
                m = re.search(rb"\{(\d+)\}$", line)
            if line.startswith(tag.encode() + b" "):
                return out

    def test_section_fetches_match_the_whole_body_parse(self):
        """Issue 9: BODYSTRUCTURE, BODY, BODY[section]<partial>, BINARY and
        RFC822.HEADER/TEXT come from the MIME structure the node keeps with
        the cached body and from byte ranges of it: every answer is byte for
        byte the one the whole-body path gives (the same FETCH with
        BODY.PEEK[] added, which reads and parses the whole message), for a
        message fetched from its sender (with the node's
        Authentication-Results: field on top) and an APPENDed one."""
        attachment = b"".join(b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU2Nzg5YWJjZGVm\r\n"
                              for _ in range(20000))  # about 1.1 MB
        msg = (b"From: ann@a.example\r\nTo: bob@b.example\r\nSubject: report\r\n"
               b"Authentication-Results: forged.example; dkim=pass\r\n"
               b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
               b"--o\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n"
               b"--a\r\nContent-Type: text/plain; charset=utf-8\r\n"
               b"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 at noon\r\n"
               b"--a\r\nContent-Type: text/html\r\n\r\n<p>at noon</p>\r\n--a--\r\n"
               b"--o\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\n"
               b"Content-Disposition: attachment; filename=\"r.pdf\"\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" + attachment +
               b"--o\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@c.example\r\n"
               b"Subject: fwd\r\n\r\nforwarded\r\n--o--\r\n")
        path = os.path.join(self.world.root, "multipart.eml")
        with open(path, "wb") as f:
            f.write(msg)
        self.ann.run("send", "--json", "--file", path, "--to", self.bob.address)
        self.bob.wait_for_messages(1)
        r = self.raw_login()
        r.send(b"s1 SELECT INBOX\r\n")
        self.assertTrue(r.until_tagged(b"s1")[-1].startswith(b"s1 OK"))
        # APPEND the same bytes: a local copy, served exactly as stored.
        r.send(b"ap APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
        self.assertTrue(r.until_tagged(b"ap")[-1].startswith(b"ap OK"))
        atts = ["BODYSTRUCTURE", "BODY", "BODY.PEEK[1]", "BODY.PEEK[1.1]", "BODY.PEEK[1.2]<3.5>",
                "BODY.PEEK[2]<0.4096>", "BODY.PEEK[2]<1000000.100>", "BODY.PEEK[2]",
                "BODY.PEEK[2.MIME]", "BODY.PEEK[3.HEADER]", "BODY.PEEK[3.TEXT]",
                "BODY.PEEK[3.HEADER.FIELDS (SUBJECT)]", "BODY.PEEK[HEADER]",
                "BODY.PEEK[HEADER]<0.40>", "BODY.PEEK[HEADER]<30.60>",
                "BODY.PEEK[HEADER.FIELDS (AUTHENTICATION-RESULTS SUBJECT)]",
                "BODY.PEEK[HEADER.FIELDS.NOT (TO)]<2.70>", "BODY.PEEK[TEXT]<0.50>",
                "BODY.PEEK[]<10.300>", "BODY.PEEK[]<0.4>", "BODY.PEEK[4]", "BINARY.PEEK[1.1]",
                "BINARY.PEEK[2]<100.8>", "BINARY.SIZE[2]", "BINARY.PEEK[]<0.5>", "RFC822.HEADER",
                "RFC822.TEXT", "BODY.PEEK[1] BODYSTRUCTURE BINARY.SIZE[1.2] RFC822.SIZE"]
        moved = "pullmail_read_set_data_bytes_total"
        before = self.b.recipient.counter(moved)
        self.fetch_raw(r, "m1", "UID FETCH 1:2 (BODYSTRUCTURE BODY.PEEK[1] BODY.PEEK[2]<0.4096>)")
        # The structure and those ranges, not the 1.1 MB attachment.
        self.assertLess(self.b.recipient.counter(moved) - before, 2 * 5000)
        n = 0
        for uid in (1, 2):
            for att in atts:
                n += 1
                whole = self.fetch_raw(r, f"w{n}", f"UID FETCH {uid} ({att} BODY.PEEK[])")
                served = re.search(rb" BODY\[\] \{(\d+)\}\r\n", whole)
                self.assertIsNotNone(served, whole[:300])
                size = int(served.group(1))
                want = whole[:served.start()] + whole[served.end() + size:]
                want = want.replace(f"w{n} OK".encode(), f"r{n} OK".encode())
                if att == "RFC822.TEXT":  # set \Seen there, already set here
                    want = re.sub(rb"FLAGS \([^)]*\) ", b"", want, count=1)
                got = self.fetch_raw(r, f"r{n}", f"UID FETCH {uid} ({att})")
                self.assertEqual(got, want, f"UID {uid} {att}")
            if uid == 1:
                # The node's own field on top, the sender's renamed.
                self.assertIn(b"X-Original-Auth-Result: forged.example", whole)
        # The structure records were kept when the bodies were cached (the
        # fetched one and the APPENDed one): none had to be computed later.
        self.assertEqual(self.b.recipient.counter("pullmail_structure_records_computed_total"), 0)
        # A section without .PEEK sets \Seen (at the node).
        self.fetch_raw(r, "z0", "UID STORE 1 -FLAGS.SILENT (\\Seen)")
        self.assertNotIn("\\Seen", self.bob.list()[0]["flags"])
        got = self.fetch_raw(r, "z1", "UID FETCH 1 (BODY[1.2])")
        self.assertIn("\\Seen", self.bob.list()[0]["flags"])
        self.assertIn(b"\\Seen", got)
        self.assertIn(b"<p>at noon</p>", got)

    def test_bulk_fetch_matches_the_node_read_byte_for_byte(self):
        """Issue 9, seventh round: a FETCH set's small cached bodies come
        with the set's lookups (one statement for a group of bodies instead
        of one per message) and are filtered in one buffer. Every body of a
        bulk FETCH, first read and cached, is byte for byte what the node's
        own Read serves (slice by slice): the sender's Authentication-Results:
        renamed, a body above the read-along size mixed in, an APPENDed
        (local) one served as stored."""
        bodies = []
        for i in range(6):
            head = (f"From: ann@a.example\r\nTo: bob@b.example\r\nSubject: bulk {i}\r\n"
                    + ("Authentication-Results: forged.example; dkim=pass\r\n"
                       "authentication-results: other.example; spf=pass\r\n" if i % 2 else "")
                    + "\r\n")
            text = "".join(f"line {k} of message {i}\r\n" for k in range(40 if i != 3 else 4000))
            bodies.append((head + text).encode())
        for i, msg in enumerate(bodies):
            path = os.path.join(self.world.root, f"bulk{i}.eml")
            with open(path, "wb") as f:
                f.write(msg)
            self.ann.run("send", "--json", "--file", path, "--to", self.bob.address)
        self.bob.wait_for_messages(len(bodies))
        r = self.raw_login()
        r.send(b"s1 SELECT INBOX\r\n")
        self.assertTrue(r.until_tagged(b"s1")[-1].startswith(b"s1 OK"))
        local = bodies[1]  # the same bytes APPENDed: served exactly as stored
        r.send(b"ap APPEND INBOX {%d+}\r\n" % len(local) + local + b"\r\n")
        self.assertTrue(r.until_tagged(b"ap")[-1].startswith(b"ap OK"))
        count = len(bodies) + 1

        def fetched(tag):
            out = self.fetch_raw(r, tag, "UID FETCH 1:* (BODY.PEEK[])")
            got = {}
            for m in re.finditer(rb"\* \d+ FETCH \(UID (\d+) BODY\[\] \{(\d+)\}\r\n", out):
                got[int(m.group(1))] = out[m.end():m.end() + int(m.group(2))]
            self.assertEqual(sorted(got), list(range(1, count + 1)), out[-200:])
            return got

        along = "pullmail_read_set_bodies_read_along_total"
        first = fetched("f1")  # the pull: read-ahead, then the cache
        before = self.b.recipient.counter(along)
        cached = fetched("f2")
        self.assertEqual(cached, first)
        # Every body but the big one came with the lookups.
        self.assertEqual(self.b.recipient.counter(along) - before, count - 1)
        for uid in range(1, count + 1):
            node = self.bob.read_json(uid)["body"].encode()
            self.assertEqual(cached[uid], node, f"UID {uid}")
        self.assertTrue(cached[2].startswith(b"Authentication-Results: b.example; "))
        self.assertIn(b"X-Original-Auth-Result: forged.example", cached[2])
        self.assertIn(b"X-Original-Auth-Result: other.example", cached[2])
        self.assertEqual(cached[count], local)
        # One at a time (a one-message set) gives the same bytes.
        for uid in (2, 4, count):
            one = self.fetch_raw(r, f"o{uid}", f"UID FETCH {uid} (BODY.PEEK[])")
            self.assertIn(cached[uid] + b")\r\n", one)

    def test_store_flags_visible_to_the_node(self):
        self.send("Flag me", "body\n")
        self.bob.wait_for_messages(1)
        m = self.login()
        self.ok(m.select("INBOX"))
        data = self.ok(m.store("1", "+FLAGS", "(\\Flagged)"))
        self.assertIn(b"\\Flagged", data[0])
        self.assertIn("\\Flagged", self.bob.list()[0]["flags"])
        self.ok(m.store("1", "-FLAGS", "(\\Flagged)"))
        self.assertNotIn("\\Flagged", self.bob.list()[0]["flags"])
        # EXAMINE is read-only.
        self.ok(m.select("INBOX", readonly=True))
        typ, data = m.store("1", "+FLAGS", "(\\Flagged)")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[READ-ONLY]", data[0])

    def test_copy_move_search_expunge(self):
        for s in ("m1", "m2", "m3"):
            self.send(s, f"body of {s}\n")
        self.bob.wait_for_messages(3)
        m = self.login()
        self.ok(m.select("INBOX"))
        # COPY to a folder that does not exist: TRYCREATE.
        typ, data = m.copy("1", "Archive")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[TRYCREATE]", data[0])
        self.ok(m.create("Archive"))
        folders = self.ok(m.list('""', "*"))
        self.assertTrue(any(b'"Archive"' in f for f in folders), folders)
        # The tagged line's text (imaplib's uid() hides it).
        typ, data = m._simple_command("UID", "COPY", "1", "Archive")
        self.assertEqual(typ, "OK")
        self.assertRegex(data[-1], rb"^\[COPYUID \d+ 1 \d+\] COPY completed$")
        self.assertEqual(len(self.bob.list("Archive")), 1)

        # SEARCH UNSEEN, after reading one.
        self.ok(m.fetch("2", "(BODY[])"))
        self.assertEqual(self.ok(m.search(None, "UNSEEN")), [b"1 3"])
        self.assertEqual(self.ok(m.search(None, "SUBJECT", "m3")), [b"3"])
        self.assertEqual(self.ok(m.uid("SEARCH", "SEEN")), [b"2"])
        # SEARCH BODY reads the bodies (peek: nothing becomes \Seen).
        self.assertEqual(self.ok(m.search(None, "BODY", "no-such-text-anywhere")), [b""])
        self.assertEqual(self.ok(m.uid("SEARCH", "SEEN")), [b"2"])

        # UID MOVE 3 to Archive: gone from INBOX, an EXPUNGE for seq 3.
        typ, data = m.uid("MOVE", "3", "Archive")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(m.untagged_responses.get("EXPUNGE"), [b"3"])
        m.untagged_responses.pop("EXPUNGE", None)
        self.assertEqual(sorted(x["summary"]["subject"] for x in self.bob.list("Archive")),
                         ["m1", "m3"])

        # STORE \Deleted + EXPUNGE removes message 1 (m1).
        self.ok(m.store("1", "+FLAGS", "(\\Deleted)"))
        typ, data = m.expunge()
        self.assertEqual((typ, data), ("OK", [b"1"]))
        self.assertEqual([x["summary"]["subject"] for x in self.bob.list()], ["m2"])
        status = self.ok(m.status("Archive", "(MESSAGES UIDNEXT UNSEEN)"))
        self.assertIn(b"MESSAGES 2", status[0])
        self.ok(m.close())

    def test_sender_node_down_gives_unavailable(self):
        self.send("Directions", "turn left\n")
        self.bob.wait_for_messages(1)
        m = self.login()
        self.ok(m.select("INBOX"))
        self.a.sender.stop()
        typ, data = m.fetch("1", "(BODY[])")
        self.assertEqual(typ, "NO")
        self.assertEqual(data[0],
                         b"[UNAVAILABLE] the sender's node cannot be reached; try again later")
        # No body, not even a partial one, reached the client; the session
        # goes on and the listing still works.
        self.assertNotIn("FETCH", m.untagged_responses)
        data = self.ok(m.fetch("1", "(ENVELOPE)"))
        self.assertIn(b'"Directions"', data[0])
        self.assertNotIn("\\Seen", self.bob.list()[0]["flags"])

    def test_wrong_password_and_plaintext_login(self):
        m = self.connect()
        with self.assertRaises(imaplib.IMAP4.error) as cm:
            m.login(self.bob.address, "wrong")
        self.assertIn("[AUTHENTICATIONFAILED]", str(cm.exception))
        # Before STARTTLS (allow_plaintext_auth is false): LOGINDISABLED and
        # LOGIN is refused with PRIVACYREQUIRED.
        r = self.raw(tls=False)
        self.assertIn(b"LOGINDISABLED", r.greeting)
        self.assertIn(b"STARTTLS", r.greeting)
        r.send(f'a LOGIN {self.bob.address} "{self.bob.password}"\r\n'.encode())
        self.assertTrue(r.line().startswith(b"a NO [PRIVACYREQUIRED]"))
        r.send(b"b SELECT INBOX\r\n")
        self.assertTrue(r.line().startswith(b"b BAD"))
        # AUTHENTICATE PLAIN over TLS works (SASL-IR).
        m2 = self.connect()
        typ, _ = m2.authenticate(
            "PLAIN", lambda _: f"\0{self.bob.address}\0{self.bob.password}".encode())
        self.assertEqual(typ, "OK")

    def test_literals_and_overlong_line(self):
        r = self.raw()
        user, pw = self.bob.address.encode(), self.bob.password.encode()
        r.send(b"a1 LOGIN {%d}\r\n" % len(user))
        self.assertTrue(r.line().startswith(b"+ "))
        r.send(user + b" {%d}\r\n" % len(pw))
        self.assertTrue(r.line().startswith(b"+ "))
        r.send(pw + b"\r\n")
        self.assertTrue(r.until_tagged(b"a1")[-1].startswith(b"a1 OK"))
        # LITERAL+ (no continuation), then an unknown command and a bad set.
        r.send(b"a2 SELECT {5+}\r\nINBOX\r\n")
        self.assertTrue(r.until_tagged(b"a2")[-1].startswith(b"a2 OK [READ-WRITE]"))
        r.send(b"a3 FROB\r\n")
        self.assertEqual(r.line(), b"a3 BAD unknown command FROB")
        r.send(b"a4 UID FETCH 1:x FLAGS\r\n")
        self.assertEqual(r.line(), b"a4 BAD bad sequence set")
        # A line longer than max_line_bytes (8192): a tagged BAD (a client
        # waits for its tag), and the session goes on.
        r.send(b"a5 NOOP " + b"x" * 20000 + b"\r\n")
        self.assertEqual(r.line(), b"a5 BAD line too long (at most 8192 octets)")
        r.send(b"a6 NOOP\r\n")
        self.assertEqual(r.until_tagged(b"a6")[-1], b"a6 OK NOOP completed")
        # APPEND takes its literal after a continuation (APPEND tests below).
        r.send(b"a7 APPEND INBOX {10}\r\n")
        self.assertTrue(r.line().startswith(b"+ "))
        r.send(b"Subject: x\r\n")
        lines = r.until_tagged(b"a7")
        self.assertIn(b"* 1 EXISTS", lines)  # INBOX is selected: announced at once
        self.assertRegex(lines[-1], rb"^a7 OK \[APPENDUID \d+ 1\]")
        r.send(b"a8 LOGOUT\r\n")
        lines = r.until_tagged(b"a8")
        self.assertTrue(lines[0].startswith(b"* BYE"))

    def test_idle_sees_new_mail(self):
        self.send("first", "1\n")
        self.bob.wait_for_messages(1)
        r = self.raw_login()
        r.send(b"s SELECT INBOX\r\n")
        lines = r.until_tagged(b"s")
        self.assertIn(b"* 1 EXISTS", lines)
        r.send(b"i IDLE\r\n")
        self.assertTrue(r.line().startswith(b"+ "))
        self.send("second", "2\n")
        # Bounded by the socket timeout (TIMEOUT seconds).
        seen = []
        while b"* 2 EXISTS" not in seen:
            seen.append(r.line())
        r.send(b"DONE\r\n")
        self.assertEqual(r.until_tagged(b"i")[-1], b"i OK IDLE terminated")
        r.send(b"f FETCH 2 (ENVELOPE)\r\n")
        lines = r.until_tagged(b"f")
        self.assertIn(b'"second"', lines[0])
        self.assertEqual(lines[-1], b"f OK FETCH completed")

    def test_noop_reports_expunge_from_another_session(self):
        for s in ("x1", "x2"):
            self.send(s, "b\n")
        self.bob.wait_for_messages(2)
        m1 = self.login()
        self.ok(m1.select("INBOX"))
        uid = min(x["uid"] for x in self.bob.list())
        self.bob.run("delete", str(uid))
        wait_until(lambda: len(self.bob.list()) == 1, 10, what="the CLI's delete")
        def expunged():
            self.ok(m1.noop())
            return m1.untagged_responses.get("EXPUNGE")
        self.assertEqual(wait_until(expunged, 10, what="an EXPUNGE response"), [b"1"])
        data = self.ok(m1.fetch("1", "(ENVELOPE)"))
        self.assertIn(b'"x2"', data[0])

    @unittest.skipUnless(shutil.which("curl"), "curl is not installed")
    def test_curl_lists_searches_and_downloads(self):
        body = "Hello Bob,\nfetched by curl over IMAP.\n"
        self.send("For curl", body)
        self.bob.wait_for_messages(1)
        host, port = self.b.gateway_address("imap")
        base = f"imap://{self.b.name}:{port}"

        def curl(url, *extra):
            argv = ["curl", "--silent", "--show-error", "--ssl-reqd", "--max-time", str(TIMEOUT),
                    "--cacert", os.path.join(self.world.root, "ca", "ca.pem"),
                    "--connect-to", f"{self.b.name}:{port}:{host}:{port}",
                    "--user", f"{self.bob.address}:{self.bob.password}", *extra, url]
            p = subprocess.run(argv, capture_output=True, timeout=TIMEOUT + 10)
            self.assertEqual(p.returncode, 0, p.stderr)
            return p.stdout

        self.assertIn(b'"INBOX"', curl(base + "/"))
        self.assertEqual(curl(base + "/INBOX?UNSEEN").strip(), b"* SEARCH 1")
        self.assertEqual(self.a.sender.counter(SERVED), 0)
        data = curl(base + "/INBOX;UID=1").replace(b"\r\n", b"\n")
        self.assertIn(b"Subject: For curl", data)
        self.assertTrue(data.endswith(body.encode()), data)
        self.assertGreater(self.a.sender.counter(SERVED), 0)
        self.assertEqual(curl(base + "/INBOX?UNSEEN").strip(), b"* SEARCH")

    # ------------------------------------------------- APPEND and DELETE

    def draft(self, subject, body):
        """An RFC 5322 message from bob, as a client saves it in Sent."""
        return (f"From: Bob <{self.bob.address}>\r\nTo: {self.ann.address}\r\n"
                f"Subject: {subject}\r\nDate: Thu, 07 Mar 2024 08:15:02 +0000\r\n"
                f"Message-ID: <{subject.replace(' ', '.')}@b.example>\r\n\r\n"
                f"{body}").encode()

    def test_append_to_sent_stores_exact_bytes_with_appenduid(self):
        message = self.draft("Saved copy", "Hello Ann,\r\nthe copy I sent you.\r\n")
        m = self.login()
        self.assertIn(b"APPENDLIMIT=", b" ".join(self.ok(m.capability())))
        self.ok(m.create("Sent"))
        date = '"07-Mar-2024 10:15:02 +0200"'  # 08:15:02 UTC
        data = self.ok(m.append("Sent", r"(\Seen $Sent)", date, message))
        match = re.match(rb"\[APPENDUID (\d+) (\d+)\] APPEND completed", data[0])
        self.assertIsNotNone(match, data)
        uid_validity, uid = int(match.group(1)), int(match.group(2))
        self.assertEqual(uid, 1)

        typ, data = m.select("Sent")
        self.assertEqual((typ, data), ("OK", [b"1"]))
        self.assertEqual(int(m.untagged_responses["UIDVALIDITY"][0]), uid_validity)
        data = self.ok(m.fetch("1", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)"))
        line = data[0]
        self.assertIn(f"UID {uid} ".encode(), line)
        self.assertIn(b"\\Seen", line)
        self.assertIn(b"$Sent", line)
        self.assertIn(b'INTERNALDATE " 7-Mar-2024 08:15:02 +0000"', line)
        self.assertIn(f"RFC822.SIZE {len(message)}".encode(), line)
        self.assertIn(b'"Saved copy"', line)          # ENVELOPE from the summary
        self.assertIn(b'"Bob" NIL "bob" "b.example"', line)
        data = self.ok(m.fetch("1", "(BODY[])"))
        self.assertEqual(data[0][1], message)          # exactly the appended bytes

        # Stored at b.example alone: a.example served nothing, b.example
        # fetched nothing, and the node lists it as bob's own.
        self.assertEqual(self.a.sender.counter(SERVED), 0)
        self.assertEqual(self.b.sender.counter(SERVED), 0)
        self.assertEqual(self.b.recipient.counter(FETCHED), 0)
        listed = self.bob.list("Sent")
        self.assertEqual(len(listed), 1)
        self.assertEqual(listed[0]["envelope_sender"], self.bob.address)
        self.assertTrue(listed[0]["message_id"].startswith("local."), listed[0])
        self.assertEqual(self.bob.list(), [])          # nothing arrived in INBOX
        self.assertEqual(self.bob.read_json(uid, "Sent")["body"].encode(), message)

        # A second APPEND without flags or date: the next UID, unseen.
        data = self.ok(m.append("Sent", None, None, self.draft("Second", "two\r\n")))
        self.assertIn(f"[APPENDUID {uid_validity} 2]".encode(), data[0])
        # RFC 3501 6.3.11: appended to the selected mailbox, announced at once.
        self.assertEqual(m.untagged_responses.get("EXISTS", [])[-1:], [b"2"])
        data = self.ok(m.fetch("2", "(FLAGS)"))
        self.assertNotIn(b"\\Seen", data[0])

    def test_append_to_missing_folder_is_trycreate(self):
        m = self.login()
        typ, data = m.append("Drafts", None, None, self.draft("Draft", "unfinished\r\n"))
        self.assertEqual(typ, "NO")
        self.assertIn(b"[TRYCREATE]", data[0])
        self.ok(m.create("Drafts"))
        data = self.ok(m.append("Drafts", r"(\Draft)", None, self.draft("Draft", "unfinished\r\n")))
        self.assertIn(b"[APPENDUID ", data[0])
        self.assertEqual(len(self.bob.list("Drafts")), 1)
        # INBOX always exists; a bad date is BAD.
        self.ok(m.append("INBOX", None, None, self.draft("To myself", "note\r\n")))
        with self.assertRaisesRegex(imaplib.IMAP4.error, "invalid date-time"):  # BAD
            m.append("INBOX", None, '"31-Feb-2024 00:00:00 +0000"', b"Subject: x\r\n\r\nx")
        self.assertEqual(len(self.bob.list()), 1)

    def test_append_literal_plus_and_over_the_limit(self):
        self.b.gateway.stop()
        self.b.edit_config("imap_listen = ", "max_message_bytes = 4096\nimap_listen = ")
        self.b.gateway.start()
        r = self.raw_login()
        r.send(b"c1 CAPABILITY\r\n")
        self.assertIn(b"APPENDLIMIT=4096", r.until_tagged(b"c1")[0])
        r.send(b"c2 CREATE Sent\r\n")
        self.assertTrue(r.until_tagged(b"c2")[-1].startswith(b"c2 OK"))
        # Over the limit with a synchronizing literal: refused before the
        # bytes are sent (no "+" continuation), and the session goes on.
        r.send(b"a1 APPEND Sent (\\Seen) {5000}\r\n")
        lines = r.until_tagged(b"a1")
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith(b"a1 NO [TOOBIG]"), lines)
        # LITERAL+ (RFC 7888): no continuation to wait for.
        msg = self.draft("Literal plus", "fits\r\n")
        r.send(b"a2 APPEND Sent {%d+}\r\n%s\r\n" % (len(msg), msg))
        lines = r.until_tagged(b"a2")
        self.assertRegex(lines[-1], rb"^a2 OK \[APPENDUID \d+ 1\] APPEND completed")
        # A synchronizing literal that fits: "+", then the bytes.
        r.send(b"a3 APPEND Sent {%d}\r\n" % len(msg))
        self.assertTrue(r.line().startswith(b"+ "))
        r.send(msg + b"\r\n")
        self.assertRegex(r.until_tagged(b"a3")[-1], rb"^a3 OK \[APPENDUID \d+ 2\]")
        self.assertEqual(len(self.bob.list("Sent")), 2)
        # Over the limit as LITERAL+: the bytes are coming anyway, so BYE.
        r.send(b"a4 APPEND Sent {5000+}\r\n")
        self.assertTrue(r.line().startswith(b"* BYE"))
        self.assertEqual(len(self.bob.list("Sent")), 2)

    def test_delete_folder_removes_it_and_its_messages(self):
        m = self.login()
        self.ok(m.create("Old"))
        self.ok(m.append("Old", None, None, self.draft("Old one", "x\r\n")))
        self.assertTrue(any(b'"Old"' in f for f in self.ok(m.list('""', "*"))))
        self.ok(m.delete("Old"))
        self.assertFalse(any(b'"Old"' in f for f in self.ok(m.list('""', "*"))))
        typ, data = m.select("Old")
        self.assertEqual(typ, "NO")
        # Re-created: empty, with a new UIDVALIDITY (RFC 3501 2.3.1.1).
        self.ok(m.create("Old"))
        self.assertEqual(m.select("Old"), ("OK", [b"0"]))
        self.ok(m.close())
        # INBOX, Junk and a missing folder are refused with the reason.
        typ, data = m.delete("INBOX")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[CANNOT]", data[0])
        typ, data = m.delete("Junk")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[CANNOT] Junk cannot be deleted", data[0])
        typ, data = m.delete("Nope")
        self.assertEqual((typ, data[0][:13]), ("NO", b"[NONEXISTENT]"))
        # The selected folder is refused (INUSE) until it is closed.
        self.ok(m.select("Old"))
        typ, data = m.delete("Old")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[INUSE]", data[0])
        self.ok(m.close())
        self.ok(m.delete("Old"))

    def test_append_seen_by_idle_in_another_session_and_headerless_text(self):
        # Session 1 idles on Drafts; session 2 (imaplib) saves a draft there.
        m = self.login()
        self.ok(m.create("Drafts"))
        r = self.raw_login()
        r.send(b"s SELECT Drafts\r\n")
        self.assertIn(b"* 0 EXISTS", r.until_tagged(b"s"))
        r.send(b"i IDLE\r\n")
        self.assertTrue(r.line().startswith(b"+ "))
        # Text with no header block, as a draft may be: stored as is, with an
        # empty ENVELOPE (no summary to take it from).
        text = b"just some words\r\nnot a header\r\n"
        self.ok(m.append("Drafts", r"(\Draft)", None, text))
        seen = []
        while b"* 1 EXISTS" not in seen:  # bounded by the socket timeout
            seen.append(r.line())
        r.send(b"DONE\r\n")
        self.assertEqual(r.until_tagged(b"i")[-1], b"i OK IDLE terminated")
        r.send(b"f FETCH 1 (FLAGS RFC822.SIZE ENVELOPE BODY.PEEK[])\r\n")
        lines = r.until_tagged(b"f")
        self.assertIn(b"\\Draft", lines[0])
        self.assertIn(f"RFC822.SIZE {len(text)}".encode(), lines[0])
        self.assertIn(b"ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)", lines[0])
        self.assertTrue(lines[0].endswith(b"BODY[] {%d}" % len(text)), lines[0])
        self.assertEqual(b"\r\n".join(lines[1:3]) + b"\r\n", text)
        self.assertEqual(lines[-1], b"f OK FETCH completed")
        self.assertEqual(self.b.recipient.counter(FETCHED), 0)

    def test_appended_copy_is_outside_the_spam_policy(self):
        # cy, dan, fay and eve get a spam from ann; bob stores the very same
        # bytes himself. Three reports (the default threshold) suppress the
        # unread copies of that body: eve's, never bob's own stored copy; and
        # his report on it counts for nothing.
        cy, dan, fay, eve = (self.b.add_user(n) for n in ("cy", "dan", "fay", "eve"))
        self.ann.send([u.address for u in (cy, dan, fay, eve)], "PRIZE",
                      "You have won a prize!\n" * 10)
        copies = {u.address: u.wait_for_messages(1)[0] for u in (cy, dan, fay, eve)}
        body = cy.read_json(copies[cy.address]["uid"])["body"].encode()
        # The message as ann sent it: without b.example's Authentication-Results:.
        body = body.split(b"\r\n", 1)[1]
        m = self.login()
        data = self.ok(m.append("INBOX", None, None, body))
        self.assertIn(b"[APPENDUID ", data[0])
        mine = self.bob.list()[0]
        self.assertEqual(mine["body_sha256"], copies[cy.address]["body_sha256"])  # same body

        for u in (cy, dan, fay):
            u.read_json(copies[u.address]["uid"])
            last = u.run("report", copies[u.address]["uid"], "spam", "--json").json()
        self.assertEqual(last.get("suppressed", 0), 1, last)  # eve's copy, not bob's
        self.assertEqual(eve.list(), [])
        listed = self.bob.list()
        self.assertEqual(len(listed), 1)
        self.assertEqual(listed[0]["state"], "shown")

        spam = 'pullmail_reports_total{verdict="spam"}'
        self.assertEqual(self.b.recipient.counter(spam), 3)
        r = self.bob.run("report", mine["uid"], "spam", "--json").json()
        self.assertIn("stored yourself", r["explanation"])
        self.assertEqual(self.bob.list(), [])
        self.assertEqual(len(self.bob.list(junk=True)), 1)
        self.assertEqual(self.b.recipient.counter(spam), 3)
        self.assertEqual(self.b.recipient.counter(FETCHED), len(body))  # cy's first read alone

if __name__ == "__main__":
    run_tests(globals())
