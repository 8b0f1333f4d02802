#!/usr/bin/env python3
"""End-to-end tests of pullmail-gateway's SMTP submission service (RFC 6409:
SMTP with STARTTLS and AUTH).

Each test builds a two-domain federation (world.py), starts a.example's
gateway, and submits as ann@a.example with Python's smtplib over STARTTLS
(trusting the world's CA), with a raw TLS socket where the exact bytes
matter (pipelining, dot-stuffing), and with swaks when it is installed. What
arrives is checked at bob@b.example with the `pullmail` CLI: real clients,
real TLS, real nodes.

Run one:  python3 tests/e2e/test_gateway_submission.py --bin-dir build GatewaySubmission.test_pipelined_mail_rcpt_data
ctest registers each test method as e2e_gateway_submission_<name>.
"""

import os
import re
import shutil
import smtplib
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raw_smtp import TIMEOUT, RawSmtp, plain  # noqa: E402
from world import WorldTestCase, run_tests, wait_until  # noqa: E402

BIN_DIR = os.environ.get("PULLMAIL_BIN_DIR", "build")



class GatewaySubmission(WorldTestCase):
    def setUp(self):
        super().setUp()
        self.a = self.world.init("a.example")
        self.b = self.world.init("b.example")
        self.ann = self.a.add_user("ann")
        self.bob = self.b.add_user("bob")
        self.clients = []
        self.addCleanup(self._close_clients)

    def _close_clients(self):
        for c in self.clients:
            try:
                c.close()
            except (OSError, smtplib.SMTPException):
                pass


    def start(self):
        self.a.start()
        self.b.start()
        self.a.gateway.start()

    # -------------------------------------------------------------- helpers

    def smtp(self, tls=True, login=None):
        """An smtplib session to a.example's gateway: EHLO, then STARTTLS
        (certificate checked against the domain's name) and EHLO again when
        tls, then AUTH PLAIN as `login` if given."""
        host, port = self.a.gateway_address("submission")
        s = smtplib.SMTP(host, port, local_hostname="client.test", timeout=TIMEOUT)
        self.clients.append(s)
        code, banner = s.ehlo()
        self.assertEqual(code, 250, banner)
        if tls:
            s._host = self.a.name  # smtplib checks the certificate against _host
            s.starttls(context=self.a.tls_context())
            s.ehlo()
        if login is not None:
            s.login(login.address, login.password)
        return s

    def raw(self):
        r = RawSmtp(self.a)
        self.clients.append(r)
        return r

    def message(self, subject, body, sender=None, to=None):
        sender = sender or self.ann.address
        to = to or self.bob.address
        return (f"From: Ann <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\r\n"
                + body.replace("\n", "\r\n"))

    def read_only(self, user, subject):
        """The message as submitted: what a read serves, less the recipient
        node's Authentication-Results: field on top (checked here)."""
        msgs = user.wait_for_subject(subject)
        found = [m for m in msgs if m["summary"]["subject"] == subject]
        self.assertEqual(len(found), 1, msgs)
        read = user.read(found[0]["uid"]).stdout.replace("\r\n", "\n")
        field, rest = read.split("\n", 1)
        self.assertTrue(field.startswith(f"Authentication-Results: {user.domain.name}; "), field)
        self.assertIn("dmarc=pass", field)
        return rest

    # ---------------------------------------------------------------- tests

    def test_submit_to_another_domain_arrives_with_exact_body(self):
        self.start()
        s = self.smtp(login=self.ann)
        for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "auth"):
            self.assertTrue(s.has_extn(ext), f"{ext} not in {s.esmtp_features}")
        self.assertFalse(s.has_extn("starttls"))  # already active
        self.assertEqual(s.esmtp_features["auth"].split(), ["PLAIN", "LOGIN"])
        body = ("Hello Bob,\n\nA line with trailing spaces   \n\ttabbed\n"
                "caf\u00e9 in UTF-8, 8BITMIME\n-- \nAnn\n")
        msg = self.message("Over submission", body).encode()
        s.mail(self.ann.address, ["BODY=8BITMIME", f"SIZE={len(msg)}"])
        s.rcpt(self.bob.address)
        code, text = s.data(msg)
        self.assertEqual(code, 250, text)
        m = re.fullmatch(rb"2\.0\.0 Ok: queued as (\S+)", text)
        self.assertIsNotNone(m, text)
        message_id = m.group(1).decode()
        s.quit()

        # The node acknowledged: ann's sent list has that message id.
        self.assertIn(message_id, [m["message_id"] for m in self.ann.sent()])
        read = self.read_only(self.bob, "Over submission")
        self.assertTrue(read.endswith("\n\n" + body), read)
        headers = read.split("\n\n", 1)[0]
        # Received: on top (RFC 5321 4.4), Date: and Message-ID: added (RFC 6409 8).
        self.assertTrue(headers.startswith("Received: from client.test ([127.0.0.1])\n"
                                           "\tby a.example (pullmail submission) with ESMTPSA"),
                        headers)
        self.assertIn(f"\tfor <{self.bob.address}>; ", headers)
        self.assertRegex(headers, r"\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000\n")
        self.assertRegex(headers, r"\nMessage-ID: <[0-9a-f]+\.\d+@a\.example>")

    def test_auth_login_and_existing_date_and_message_id_are_kept(self):
        self.start()
        s = self.smtp()
        s.user, s.password = self.ann.address, self.ann.password
        code, text = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        self.assertEqual(code, 235, text)
        msg = ("Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <mine@client.test>\r\n"
               + self.message("Kept headers", "body\n"))
        s.sendmail(self.ann.address, [self.bob.address], msg)
        read = self.read_only(self.bob, "Kept headers")
        headers = read.split("\n\n", 1)[0]
        self.assertEqual(headers.count("Date:"), 1, headers)
        self.assertEqual(headers.count("Message-ID:"), 1, headers)
        self.assertIn("Message-ID: <mine@client.test>", headers)

    def test_mail_before_auth_is_530(self):
        self.start()
        s = self.smtp()
        code, text = s.mail(self.ann.address)
        self.assertEqual((code, text), (530, b"5.7.0 Authentication required"))
        code, _ = s.rcpt(self.bob.address)
        self.assertEqual(code, 530)
        self.assertEqual(self.bob.list(), [])

    def test_wrong_password_is_535(self):
        self.start()
        s = self.smtp()
        with self.assertRaises(smtplib.SMTPAuthenticationError) as e:
            s.login(self.ann.address, "not the password")
        self.assertEqual(e.exception.smtp_code, 535)
        self.assertEqual(e.exception.smtp_error, b"5.7.8 Authentication credentials invalid")
        # The session goes on; the right password works.
        s.login(self.ann.address, self.ann.password)
        # Unknown user: the same answer (no user enumeration).
        s2 = self.smtp()
        with self.assertRaises(smtplib.SMTPAuthenticationError) as e:
            s2.login("nobody@a.example", "x")
        self.assertEqual(e.exception.smtp_code, 535)

    def test_three_failed_logins_close_the_connection(self):
        self.start()
        r = self.raw()
        self.assertEqual(r.reply()[0], 220)
        r.cmd("EHLO raw.test")
        r.cmd("STARTTLS")
        r.sock = self.a.tls_context().wrap_socket(r.sock, server_hostname=self.a.name)
        r.cmd("EHLO raw.test")
        for _ in range(2):
            self.assertEqual(r.cmd(f"AUTH PLAIN {plain(self.ann.address, 'bad')}")[0], 535)
        r.send(f"AUTH PLAIN {plain(self.ann.address, 'bad')}\r\n")
        self.assertEqual(r.reply()[0], 535)
        code, text = r.reply()
        self.assertEqual(code, 421, text)
        self.assertEqual(r.sock.recv(100), b"")  # closed

    def test_auth_refused_before_starttls_when_plaintext_auth_is_off(self):
        self.start()  # init writes no allow_plaintext_auth: it is false
        s = self.smtp(tls=False)
        self.assertTrue(s.has_extn("starttls"))
        self.assertFalse(s.has_extn("auth"), s.esmtp_features)
        code, text = s.docmd("AUTH", "PLAIN " + plain(self.ann.address, self.ann.password))
        self.assertEqual(code, 538, text)
        self.assertTrue(text.startswith(b"5.7.11 "), text)
        code, _ = s.mail(self.ann.address)
        self.assertEqual(code, 530)
        # After STARTTLS the same session may authenticate.
        s._host = self.a.name
        s.starttls(context=self.a.tls_context())
        s.ehlo()
        self.assertTrue(s.has_extn("auth"))
        s.login(self.ann.address, self.ann.password)

    def test_plaintext_auth_on_loopback_when_the_operator_allows_it(self):
        self.a.edit_config("submission_listen = ",
                           "allow_plaintext_auth = true\nsubmission_listen = ")
        self.start()
        s = self.smtp(tls=False)
        self.assertTrue(s.has_extn("auth"), s.esmtp_features)
        s.login(self.ann.address, self.ann.password)
        s.sendmail(self.ann.address, [self.bob.address], self.message("In the clear", "lo\n"))
        read = self.read_only(self.bob, "In the clear")
        # RFC 3848: ESMTPA, not ESMTPSA, says no TLS was used.
        self.assertIn("(pullmail submission) with ESMTPA\n", read)

    def test_mail_from_someone_else_is_553(self):
        carol = self.a.add_user("carol")
        self.start()
        s = self.smtp(login=self.ann)
        code, text = s.mail(carol.address)
        self.assertEqual(code, 553, text)
        self.assertTrue(text.startswith(b"5.7.1 "), text)
        code, text = s.mail(self.bob.address)
        self.assertEqual(code, 553, text)
        # The envelope sender is checked, not just the syntax: ann's own works.
        self.assertEqual(s.mail(self.ann.address)[0], 250)

    def test_message_over_max_message_bytes_is_552_and_session_goes_on(self):
        # [gateway] is in node.toml as init wrote it; add the limit there.
        self.a.edit_config("submission_listen = ",
                           "max_message_bytes = 2048\nsubmission_listen = ")
        self.start()
        s = self.smtp(login=self.ann)
        self.assertEqual(s.esmtp_features["size"], "2048")
        # Declared too big (RFC 1870): refused at MAIL.
        code, text = s.mail(self.ann.address, ["SIZE=4096"])
        self.assertEqual((code, text[:6]), (552, b"5.3.4 "))
        # Undeclared and too big: read to the end, then refused.
        s.mail(self.ann.address)
        s.rcpt(self.bob.address)
        code, text = s.data(self.message("Too big", ("y" * 70 + "\n") * 40))
        self.assertEqual(code, 552, text)
        self.assertTrue(text.startswith(b"5.3.4 "), text)
        # The session is in step and a small message goes through.
        self.assertEqual(s.noop()[0], 250)
        s.sendmail(self.ann.address, [self.bob.address], self.message("Small", "fits\n"))
        read = self.read_only(self.bob, "Small")
        self.assertTrue(read.endswith("\n\nfits\n"), read)
        self.assertEqual(len(self.bob.list()), 1)

    def test_sender_node_down_is_451_and_nothing_queued(self):
        self.start()
        s = self.smtp(login=self.ann)
        self.assertEqual(s.mail(self.ann.address)[0], 250)
        self.assertEqual(s.rcpt(self.bob.address)[0], 250)
        self.a.sender.kill9()
        code, text = s.data(self.message("While down", "body\n"))
        self.assertEqual(code, 451, text)
        self.assertTrue(text.startswith(b"4.3.0 "), text)
        # AUTH while the node is down: 454 4.7.0 (a temporary failure).
        s2 = self.smtp()
        with self.assertRaises(smtplib.SMTPAuthenticationError) as e:
            s2.login(self.ann.address, self.ann.password)
        self.assertEqual(e.exception.smtp_code, 454)
        self.assertTrue(e.exception.smtp_error.startswith(b"4.7.0 "), e.exception.smtp_error)

        self.a.sender.start()
        self.assertEqual(self.ann.sent(), [])  # nothing was queued

        # The client retries in the same session once the node is back (the
        # gateway's channel may still be backing off: 451 again until then).
        def retry():
            try:
                s.sendmail(self.ann.address, [self.bob.address],
                           self.message("After restart", "b\n"))
                return True
            except smtplib.SMTPDataError as e:
                self.assertEqual(e.smtp_code, 451, e.smtp_error)
                return False
        wait_until(retry, what="a submission accepted after the sender node restarted")
        self.read_only(self.bob, "After restart")
        self.assertEqual([m["summary"]["subject"] for m in self.bob.list()], ["After restart"])

    def test_pipelined_mail_rcpt_data(self):
        carol = self.b.add_user("carol")
        self.start()
        r = self.raw()
        r.starttls_and_login(self.ann)
        # RFC 2920: one write, replies in order.
        r.send(f"MAIL FROM:<{self.ann.address}> BODY=8BITMIME\r\n"
               f"RCPT TO:<{self.bob.address}>\r\n"
               f"RCPT TO:<not an address>\r\n"
               f"RCPT TO:<{carol.address}>\r\n"
               "DATA\r\n")
        self.assertEqual(r.reply(), (250, ["2.1.0 Ok"]))
        self.assertEqual(r.reply(), (250, ["2.1.5 Ok"]))
        self.assertEqual(r.reply()[0], 501)
        self.assertEqual(r.reply(), (250, ["2.1.5 Ok"]))
        self.assertEqual(r.reply()[0], 354)
        r.send(self.message("Pipelined", "to two\n") + ".\r\nNOOP\r\nQUIT\r\n")
        code, text = r.reply()
        self.assertEqual(code, 250, text)
        self.assertTrue(text[0].startswith("2.0.0 Ok: queued as "), text)
        self.assertEqual(r.reply(), (250, ["2.0.0 Ok"]))
        self.assertEqual(r.reply(), (221, ["2.0.0 Bye"]))
        self.assertTrue(self.read_only(self.bob, "Pipelined").endswith("\n\nto two\n"))
        self.assertTrue(self.read_only(carol, "Pipelined").endswith("\n\nto two\n"))

    def test_dot_stuffed_lines_arrive_intact(self):
        self.start()
        r = self.raw()
        r.starttls_and_login(self.ann)
        self.assertEqual(r.cmd(f"MAIL FROM:<{self.ann.address}>")[0], 250)
        self.assertEqual(r.cmd(f"RCPT TO:<{self.bob.address}>")[0], 250)
        self.assertEqual(r.cmd("DATA")[0], 354)
        # RFC 5321 4.5.2: the client doubles a leading dot; the server undoes it.
        r.send(f"From: <{self.ann.address}>\r\nSubject: Dots\r\n\r\n"
               "..leading dot\r\n"
               "..\r\n"
               "...\r\n"
               "a . in the middle\r\n"
               ". \r\n"
               ".\r\n")
        code, text = r.reply()
        self.assertEqual(code, 250, text)
        read = self.read_only(self.bob, "Dots")
        self.assertTrue(read.endswith("\n\n.leading dot\n.\n..\na . in the middle\n \n"), read)

    def test_overlong_command_line_is_500_and_session_goes_on(self):
        self.start()
        r = self.raw()
        r.starttls_and_login(self.ann)
        code, text = r.cmd("NOOP " + "x" * 600)
        self.assertEqual((code, text), (500, ["5.5.2 Line too long"]))
        code, text = r.cmd("X" * 20000)  # past the transport's limit too
        self.assertEqual(code, 500, text)
        self.assertEqual(r.cmd("NOOP"), (250, ["2.0.0 Ok"]))

    def test_idle_client_gets_421_and_is_closed(self):
        self.a.edit_config("submission_listen = ",
                           "idle_timeout_seconds = 3\nsubmission_listen = ")
        self.start()
        r = self.raw()
        r.starttls_and_login(self.ann)
        # Say nothing: the gateway gives up after its idle timeout.
        code, text = r.reply()
        self.assertEqual(code, 421, text)
        self.assertTrue(text[0].startswith("4.4.2 "), text)
        self.assertEqual(r.sock.recv(100), b"")  # closed

    def test_swaks_auth_login_pipelined(self):
        if not shutil.which("swaks"):
            self.skipTest("swaks is not installed (apt-get install swaks)")
        self.start()
        host, port = self.a.gateway_address("submission")
        ca = os.path.join(self.world.root, "ca", "ca.pem")
        body = "Hi Bob,\n.a dot first\n..two\nend\n"
        msg = os.path.join(self.world.root, "swaks.eml")
        with open(msg, "w", newline="") as f:
            f.write(self.message("From swaks with LOGIN", body))
        p = subprocess.run(
            ["swaks", "--server", host, "--port", str(port), "--pipeline",
             "--tls", "--tls-verify", "--tls-ca-path", ca, "--tls-sni", self.a.name,
             "--auth", "LOGIN", "--auth-user", self.ann.address,
             "--auth-password", self.ann.password,
             "--from", self.ann.address, "--to", self.bob.address,
             "--data", f"@{msg}", "--helo", "swaks.test"],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, f"swaks:\n{p.stdout}\n{p.stderr}")
        self.assertIn("235 2.7.0 Authentication successful", p.stdout)
        self.assertRegex(p.stdout, r"250 2\.0\.0 Ok: queued as \S+")
        read = self.read_only(self.bob, "From swaks with LOGIN")
        # swaks ends the message with a CRLF of its own before the ".".
        self.assertIn("\n\n" + body, read)


if __name__ == "__main__":
    run_tests(globals())
