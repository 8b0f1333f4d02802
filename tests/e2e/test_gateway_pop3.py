#!/usr/bin/env python3
"""End-to-end tests of pullmail-gateway's POP3 service (RFC 1939 + STLS).

Each test builds a two-domain federation (world.py), starts b.example's
gateway, and drives it with Python's poplib over STLS, trusting the world's
CA: a real client, real TLS, real nodes. ann@a.example sends with the
`pullmail` CLI; bob@b.example reads by POP3. Byte counters from the nodes'
/metrics show when a body moves (a.example serves it, b.example fetches it).

Run one:  python3 tests/e2e/test_gateway_pop3.py --bin-dir build GatewayPop3.test_top
ctest registers each test method as e2e_gateway_pop3_<name>.
"""

import base64
import os
import poplib
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import WorldTestCase, run_tests, wait_until  # noqa: E402

BIN_DIR = os.environ.get("PULLMAIL_BIN_DIR", "build")

SERVED = "pullmail_body_bytes_served_total"
FETCHED = "pullmail_body_bytes_fetched_total"
TIMEOUT = 30  # seconds, for every socket operation


class GatewayPop3(WorldTestCase):
    def setUp(self):
        super().setUp()
        self.a = self.world.init("a.example")
        self.b = self.world.init("b.example")
        self.ann = self.a.add_user("ann")
        self.bob = self.b.add_user("bob")
        self.a.start()
        self.b.start()
        self.b.gateway.start()
        self.sessions = []
        self.addCleanup(self._close_sessions)

    def _close_sessions(self):
        for p in self.sessions:
            try:
                p.close()
            except OSError:
                pass


    # -------------------------------------------------------------- helpers

    def connect(self, tls=True):
        """A poplib session to b.example's gateway, after STLS when tls."""
        host, port = self.b.gateway_address("pop3")
        p = poplib.POP3(host, port, timeout=TIMEOUT)
        self.sessions.append(p)
        self.assertEqual(p.getwelcome(), b"+OK pullmail POP3 ready")
        if tls:
            # poplib checks the certificate against self.host; the gateway's
            # certificate names the domain, which we reach at 127.0.0.1.
            p.host = self.b.name
            p.stls(context=self.b.tls_context())
        return p

    def login(self, user=None):
        user = user or self.bob
        p = self.connect()
        resp = p.user(user.address)
        self.assertTrue(resp.startswith(b"+OK"), resp)
        resp = p.pass_(user.password)
        self.assertTrue(resp.startswith(b"+OK"), resp)
        return p

    def send(self, subject, body):
        return self.ann.send(self.bob.address, subject, body)

    def inbox_subjects(self):
        return sorted(m["summary"]["subject"] for m in self.bob.list())

    def assert_pop_error(self, fn, prefix):
        with self.assertRaises(poplib.error_proto) as cm:
            fn()
        text = cm.exception.args[0]
        self.assertTrue(text.startswith(prefix), f"{text!r} does not start with {prefix!r}")
        return text

    @staticmethod
    def split_message(lines):
        """poplib lines -> (header lines, body lines)."""
        blank = lines.index(b"")
        return lines[:blank], lines[blank + 1:]

    # ---------------------------------------------------------------- tests

    def test_stat_list_uidl_move_no_body_bytes(self):
        self.send("one", "first body\n")
        self.send("two", "second body, a little longer\n")
        listed = sorted(self.bob.wait_for_messages(2), key=lambda m: m["uid"])
        sizes = [int(m["body_size"]) for m in listed]

        p = self.login()
        self.assertEqual(p.stat(), (2, sum(sizes)))
        resp, lines, _ = p.list()
        self.assertTrue(resp.startswith(b"+OK"), resp)
        self.assertEqual(lines, [f"1 {sizes[0]}".encode(), f"2 {sizes[1]}".encode()])
        self.assertEqual(p.list(2), f"+OK 2 {sizes[1]}".encode())
        resp, uidl, _ = p.uidl()
        self.assertEqual(len(uidl), 2)
        ids = [l.split(b" ", 1)[1] for l in uidl]
        self.assertEqual(len(set(ids)), 2, uidl)
        for uid in ids:
            self.assertTrue(1 <= len(uid) <= 70 and all(0x21 <= c <= 0x7E for c in uid), uid)
        self.assertEqual(p.uidl(1), b"+OK 1 " + ids[0])
        self.assertEqual(p.noop(), b"+OK")
        self.assert_pop_error(lambda: p.list(3), b"-ERR no such message")
        self.assertEqual(p.quit(), b"+OK pullmail POP3 signing off")

        # Listing moved no body: a.example served nothing, b.example fetched nothing.
        self.assertEqual(self.a.sender.counter(SERVED), 0)
        self.assertEqual(self.b.recipient.counter(FETCHED), 0)
        self.assertEqual(self.inbox_subjects(), ["one", "two"])

    def test_retr_returns_the_sent_body_and_pulls_it_now(self):
        body_lines = ["Hello Bob,", ".", ".starts with a dot", "..two dots", "",
                      "last line"]
        self.send("Dots", "\n".join(body_lines) + "\n")
        m = self.bob.wait_for_messages(1)[0]
        size = int(m["body_size"])  # what POP3 serves: with b.example's Authentication-Results:
        sent = int(m["sent_size"])  # what moves between the nodes
        self.assertEqual(self.b.recipient.counter(FETCHED), 0)

        p = self.login()
        resp, lines, octets = p.retr(1)
        self.assertEqual(resp, f"+OK {size} octets".encode())
        header, body = self.split_message(lines)
        self.assertIn(b"Subject: Dots", header)
        self.assertEqual(body, [l.encode() for l in body_lines])
        # Now, and only now, the body moved: exactly its size, once.
        wait_until(lambda: self.a.sender.counter(SERVED) == sent, 10,
                   what=f"a.example to have served {sent} body bytes")
        self.assertEqual(self.b.recipient.counter(FETCHED), sent)

        # A second RETR comes from b.example's cache.
        resp, again, _ = p.retr(1)
        self.assertEqual(again, lines)
        p.quit()
        self.assertEqual(self.a.sender.counter(SERVED), sent)
        self.assertEqual(self.b.recipient.counter(FETCHED), sent)
        # RETR marked it \Seen and deleted nothing.
        after = self.bob.list()
        self.assertEqual(len(after), 1)
        self.assertIn("\\Seen", after[0]["flags"])

        # The same bytes as the node's own read (CRLF-normalised).
        cli = self.bob.read_json(m["uid"])["body"].replace("\r\n", "\n").split("\n")
        if cli and cli[-1] == "":
            cli.pop()
        self.assertEqual([l.decode() for l in lines], cli)

    def test_top_sends_header_and_n_body_lines_without_seen(self):
        self.send("Top", "l1\nl2\nl3\nl4\n")
        self.bob.wait_for_messages(1)
        p = self.login()
        resp, lines, _ = p.top(1, 2)
        self.assertTrue(resp.startswith(b"+OK"), resp)
        header, body = self.split_message(lines)
        self.assertIn(b"Subject: Top", header)
        self.assertEqual(body, [b"l1", b"l2"])
        resp, lines0, _ = p.top(1, 0)
        self.assertEqual(lines0, header + [b""])
        self.assert_pop_error(lambda: p.top(2, 1), b"-ERR no such message")
        p.quit()
        self.assertNotIn("\\Seen", self.bob.list()[0]["flags"])

    def test_dele_quit_removes_exactly_those(self):
        for s in ("m1", "m2", "m3"):
            self.send(s, f"body of {s}\n")
        self.bob.wait_for_messages(3)
        p = self.login()
        self.assertEqual(p.stat()[0], 3)
        # A message that arrives during the session is not in its maildrop
        # and QUIT never touches it.
        self.send("late", "arrived during the session\n")
        self.bob.wait_for_messages(4)
        self.assertEqual(p.stat()[0], 3)
        self.assertEqual(p.dele(1), b"+OK message 1 deleted")
        self.assertEqual(p.dele(3), b"+OK message 3 deleted")
        self.assert_pop_error(lambda: p.dele(3), b"-ERR message 3 already deleted")
        self.assert_pop_error(lambda: p.retr(1), b"-ERR message 1 already deleted")
        self.assertEqual(p.stat()[0], 1)
        self.assertEqual(p.quit(), b"+OK pullmail POP3 signing off (2 messages deleted)")
        self.assertEqual(self.inbox_subjects(), ["late", "m2"])

    def test_dele_rset_quit_removes_nothing(self):
        for s in ("k1", "k2"):
            self.send(s, "keep me\n")
        self.bob.wait_for_messages(2)
        p = self.login()
        p.dele(1)
        p.dele(2)
        self.assertEqual(p.stat()[0], 0)
        self.assertTrue(p.rset().startswith(b"+OK maildrop has 2 messages"))
        self.assertEqual(p.stat()[0], 2)
        self.assertEqual(p.quit(), b"+OK pullmail POP3 signing off")
        self.assertEqual(self.inbox_subjects(), ["k1", "k2"])
        self.assertTrue(all("\\Deleted" not in m["flags"] for m in self.bob.list()))

    def test_dropped_connection_removes_nothing(self):
        for s in ("d1", "d2"):
            self.send(s, "still here\n")
        self.bob.wait_for_messages(2)
        p = self.login()
        p.dele(1)
        p.dele(2)
        # No QUIT: the client goes away (RFC 1939 6: no UPDATE).
        p.sock.shutdown(socket.SHUT_RDWR)
        p.close()
        # A new session (served after the old one's end was seen or not)
        # still finds both, and so does the node.
        q = self.login()
        self.assertEqual(q.stat()[0], 2)
        q.quit()
        self.assertEqual(self.inbox_subjects(), ["d1", "d2"])
        self.assertTrue(all("\\Deleted" not in m["flags"] for m in self.bob.list()))

    def test_pipelined_commands_are_answered_in_order(self):
        # RFC 2449 6.6 PIPELINING: several commands in one write.
        self.send("pipe", "a\n")
        size = int(self.bob.wait_for_messages(1)[0]["body_size"])
        p = self.login()
        p.sock.sendall(b"STAT\r\nLIST 1\r\nDELE 1\r\nSTAT\r\nRSET\r\nNOOP\r\n")
        got = [p._getline()[0] for _ in range(6)]
        self.assertEqual(got, [f"+OK 1 {size}".encode(), f"+OK 1 {size}".encode(),
                               b"+OK message 1 deleted", b"+OK 0 0",
                               f"+OK maildrop has 1 message ({size} octets)".encode(), b"+OK"])
        p.quit()
        self.assertEqual(self.inbox_subjects(), ["pipe"])

    def test_idle_timeout_closes_without_update(self):
        # A gateway with a 2-second idle timeout (the config's minimum is 1).
        self.assertEqual(self.b.gateway.stop(), 0)
        listen = f'pop3_listen = "{self.b.info["pop3_listen"]}"\n'
        self.b.edit_config(listen, listen + "idle_timeout_seconds = 2\n")
        self.b.gateway.start()
        self.send("idle", "do not delete me\n")
        self.bob.wait_for_messages(1)
        p = self.login()
        self.assertEqual(p.dele(1), b"+OK message 1 deleted")
        # Say nothing: the gateway closes the connection (bounded by the
        # socket timeout) and, with no QUIT, removes nothing.
        self.assertEqual(p.file.readline(), b"", "the gateway should have closed the connection")
        self.assertEqual(self.inbox_subjects(), ["idle"])
        self.assertTrue(all("\\Deleted" not in m["flags"] for m in self.bob.list()))

    def test_wrong_password_is_auth_error_and_session_goes_on(self):
        p = self.connect()
        p.user(self.bob.address)
        self.assert_pop_error(lambda: p.pass_("not the password"),
                              b"-ERR [AUTH] invalid user name or password")
        p.user("nobody@b.example")
        self.assert_pop_error(lambda: p.pass_("whatever"),
                              b"-ERR [AUTH] invalid user name or password")
        # Still in AUTHORIZATION: the right password works.
        p.user(self.bob.address)
        self.assertTrue(p.pass_(self.bob.password).startswith(b"+OK"))
        self.assertEqual(p.stat(), (0, 0))
        p.quit()

    def test_three_wrong_passwords_close_the_connection(self):
        p = self.connect()
        for _ in range(3):
            p.user(self.bob.address)
            self.assert_pop_error(lambda: p.pass_("wrong"), b"-ERR [AUTH]")
        with self.assertRaises((poplib.error_proto, OSError, EOFError)):
            p.noop()

    def test_user_before_stls_is_refused(self):
        p = self.connect(tls=False)
        caps = p.capa()
        self.assertIn("STLS", caps)
        self.assertNotIn("USER", caps)
        self.assertNotIn("SASL", caps)
        for c in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"):
            self.assertIn(c, caps)
        self.assertEqual(caps["IMPLEMENTATION"], ["pullmail"])
        self.assert_pop_error(lambda: p.user(self.bob.address), b"-ERR [AUTH]")
        self.assert_pop_error(lambda: p.pass_(self.bob.password), b"-ERR [AUTH]")
        self.assert_pop_error(lambda: p.stat(), b"-ERR STAT is not valid before login")
        # After STLS the password is welcome.
        p.host = self.b.name
        p.stls(context=self.b.tls_context())
        caps = p.capa()
        self.assertIn("USER", caps)
        self.assertEqual(caps["SASL"], ["PLAIN"])
        self.assertNotIn("STLS", caps)
        p.user(self.bob.address)
        self.assertTrue(p.pass_(self.bob.password).startswith(b"+OK"))
        p.quit()

    def test_auth_plain_and_overlong_lines(self):
        p = self.connect()
        # An over-long command: -ERR, and the session goes on.
        self.assert_pop_error(lambda: p._shortcmd("NOOP " + "x" * 300),
                              b"-ERR command line too long")
        self.assert_pop_error(lambda: p._shortcmd("X" * 20000), b"-ERR line too long")
        self.assertEqual(p._shortcmd("NOOP"), b"+OK")
        # RFC 5034 AUTH PLAIN with a continuation.
        self.assertEqual(p._shortcmd("AUTH PLAIN"), b"+ ")
        wrong = base64.b64encode(f"\0{self.bob.address}\0nope".encode()).decode()
        self.assert_pop_error(lambda: p._shortcmd(wrong), b"-ERR [AUTH]")
        # ... and with an initial response.
        right = base64.b64encode(f"\0{self.bob.address}\0{self.bob.password}".encode()).decode()
        self.assertTrue(p._shortcmd("AUTH PLAIN " + right).startswith(b"+OK"))
        self.assertEqual(p.stat(), (0, 0))
        p.quit()

    def test_sender_node_down_retr_is_sys_temp_then_works(self):
        self.send("While you were out", "the sender node will be down\n")
        self.bob.wait_for_messages(1)
        p = self.login()
        self.a.sender.kill9()
        self.assert_pop_error(
            lambda: p.retr(1),
            b"-ERR [SYS/TEMP] the sender's node cannot be reached; try again later")
        # The session is still usable, and nothing was half-sent.
        self.assertEqual(p.stat()[0], 1)
        self.assertEqual(self.b.recipient.counter(FETCHED), 0)
        self.a.sender.start()

        def retr_ok():
            try:
                return p.retr(1)
            except poplib.error_proto as e:
                if not e.args[0].startswith(b"-ERR [SYS/TEMP]"):
                    raise
                return None
        _, lines, _ = wait_until(retr_ok, 30, interval=0.3,
                                 what="RETR to work once the sender node is back")
        self.assertEqual(self.split_message(lines)[1], [b"the sender node will be down"])
        p.quit()

    def test_uidl_is_stable_across_sessions(self):
        for s in ("u1", "u2"):
            self.send(s, "x\n")
        self.bob.wait_for_messages(2)
        p = self.login()
        first = dict(l.split(b" ") for l in p.uidl()[1])
        p.quit()

        self.send("u3", "y\n")
        self.bob.wait_for_messages(3)
        q = self.login()
        second = dict(l.split(b" ") for l in q.uidl()[1])
        self.assertEqual(second[b"1"], first[b"1"])
        self.assertEqual(second[b"2"], first[b"2"])
        self.assertNotIn(second[b"3"], first.values())
        q.dele(1)
        q.quit()

        # After the first is gone the others keep their ids (numbers shift).
        r = self.login()
        third = [l.split(b" ")[1] for l in r.uidl()[1]]
        self.assertEqual(third, [first[b"2"], second[b"3"]])
        r.quit()

    def test_fetchmail_downloads_and_deletes(self):
        fetchmail = shutil.which("fetchmail")
        if not fetchmail:
            self.skipTest("fetchmail is not installed (apt-get install fetchmail)")
        self.send("f1", "for fetchmail one\n")
        self.send("f2", "for fetchmail two\n")
        self.bob.wait_for_messages(2)
        host, port = self.b.gateway_address("pop3")
        home = tempfile.mkdtemp(prefix="fetchmail-", dir=self.world.root)
        out = os.path.join(home, "mbox")
        rc = os.path.join(home, "fetchmailrc")
        ca = os.path.join(self.world.root, "ca", "ca.pem")
        # fetchmail checks the certificate's name against the host it dials
        # (127.0.0.1); sslcommonname names the domain instead. sslproto
        # tls1.2+ without "ssl" means STLS.
        with open(rc, "w") as f:
            f.write(
                "set no syslog\n"
                f"poll {self.b.name} via {host} port {port} proto POP3 uidl\n"
                f"  user \"{self.bob.address}\" there with password \"{self.bob.password}\"\n"
                f"  sslproto tls1.2+ sslcertck sslcertfile \"{ca}\"\n"
                f"  sslcommonname \"{self.b.name}\"\n"
                f"  mda \"cat >> {out}\"\n"
                "  fetchall nokeep\n")
        os.chmod(rc, 0o600)
        env = dict(os.environ, HOME=home, FETCHMAILHOME=home)
        r = subprocess.run([fetchmail, "-f", rc, "-v", "--nodetach"], env=env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, f"fetchmail failed:\n{r.stdout}\n{r.stderr}")
        with open(out) as f:
            mbox = f.read()
        self.assertIn("for fetchmail one", mbox)
        self.assertIn("for fetchmail two", mbox)
        self.assertEqual(self.bob.list(), [])


if __name__ == "__main__":
    run_tests(globals())
