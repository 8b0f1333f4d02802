#!/usr/bin/env python3
"""End-to-end tests of pullmail-gateway's SMTP in (RFC 5321: the domain's MX,
no AUTH, STARTTLS offered): classic mail servers deliver to pullmail users.

Each test builds a two-domain federation (world.py): a.example and b.example
are pullmail domains; legacy.example is not in the directory (a classic mail
domain). b.example's gateway takes mail for bob@b.example from swaks (a real
SMTP client), Python's smtplib, or a raw socket where the exact bytes matter.
What arrives is checked at bob with the `pullmail` CLI, and the body bytes
bob reads are counted at b.example's sender node: it is the sender node of
record for bridged mail.

Run one:  python3 tests/e2e/test_gateway_smtpin.py --bin-dir build GatewaySmtpin.test_null_sender_is_delivered
ctest registers each test method as e2e_gateway_smtpin_<name>.
"""

import os
import re
import shutil
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raw_smtp import TIMEOUT, RawSmtp  # noqa: E402
from world import WorldTestCase, run_tests, wait_until  # noqa: E402

BIN_DIR = os.environ.get("PULLMAIL_BIN_DIR", "build")

SERVED = "pullmail_body_bytes_served_total"
CAROL = "carol@legacy.example"


class GatewaySmtpin(WorldTestCase):
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
        self.b.gateway.start()

    # -------------------------------------------------------------- helpers

    def smtp(self, tls=False):
        host, port = self.b.gateway_address("smtp")
        s = smtplib.SMTP(host, port, local_hostname="mx.legacy.example", timeout=TIMEOUT)
        self.clients.append(s)
        code, banner = s.ehlo()
        self.assertEqual(code, 250, banner)
        if tls:
            s._host = self.b.name  # smtplib checks the certificate against _host
            s.starttls(context=self.b.tls_context())
            s.ehlo()
        return s

    def raw(self):
        r = RawSmtp(self.b, "smtp")
        self.clients.append(r)
        return r

    @staticmethod
    def message(subject, body, sender=CAROL, to="bob@b.example"):
        return (f"From: Carol <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
                "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <c1@legacy.example>\r\n"
                "\r\n" + body.replace("\n", "\r\n"))

    def only(self, user, subject):
        msgs = user.wait_for_subject(subject)
        found = [m for m in msgs if m["summary"]["subject"] == subject]
        self.assertEqual(len(found), 1, msgs)
        return found[0]

    def swaks(self, *extra, sender=CAROL, to="bob@b.example", subject="From swaks",
              body="Hello Bob,\n.a dot first\nend\n"):
        if not shutil.which("swaks"):
            self.skipTest("swaks is not installed (apt-get install swaks)")
        host, port = self.b.gateway_address("smtp")
        msg = os.path.join(self.world.root, "swaks.eml")
        with open(msg, "w", newline="") as f:
            f.write(self.message(subject, body, sender=sender, to=to))
        return subprocess.run(
            ["swaks", "--server", host, "--port", str(port), "--helo", "mx.legacy.example",
             "--from", sender, "--to", to, "--data", f"@{msg}", *extra],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)

    def check_delivered(self, subject, body, protocol):
        """bob lists it from carol, reads exactly the body, and the bytes came
        from b.example's sender node."""
        m = self.only(self.bob, subject)
        self.assertEqual(m["envelope_sender"], CAROL, m)
        self.assertEqual(m["signing_domain"], "b.example", m)
        served = self.b.sender.counter(SERVED)
        read = self.bob.read(m["uid"]).stdout.replace("\r\n", "\n")
        # b.example's own verdict first: bridged, the From: unverified.
        field, read = read.split("\n", 1)
        self.assertTrue(field.startswith("Authentication-Results: b.example; pullmail=pass "
                                         "(bridged from SMTP"), field)
        self.assertIn("dmarc=none", field)
        headers, got_body = read.split("\n\n", 1)
        self.assertTrue(headers.startswith("Received: from mx.legacy.example ([127.0.0.1])\n"
                                           f"\tby b.example (pullmail smtp-in) with {protocol}\n"
                                           "\tfor <bob@b.example>; "), headers)
        # A relay adds nothing else: carol's own Date: and Message-ID: only.
        self.assertEqual(headers.count("\nDate: "), 1, headers)
        self.assertEqual(headers.count("Message-ID:"), 1, headers)
        self.assertIn(body, got_body)
        wait_until(lambda: self.b.sender.counter(SERVED) == served + int(m["sent_size"]), 10,
                   what=f"b.example's sender node to have served {m['sent_size']} more bytes")
        self.assertEqual(self.a.sender.counter(SERVED), 0)

    # ---------------------------------------------------------------- tests

    def test_swaks_without_tls_delivers_from_a_legacy_sender(self):
        self.start()
        body = "Hello Bob,\n.a dot first\nend\n"
        p = self.swaks(subject="Plain SMTP in", body=body)
        self.assertEqual(p.returncode, 0, f"swaks:\n{p.stdout}\n{p.stderr}")
        self.assertIn("220 b.example ESMTP pullmail", p.stdout)
        self.assertNotRegex(p.stdout, r"<-\s+250[- ]AUTH")  # an MX offers no AUTH
        self.assertRegex(p.stdout, r"250 2\.0\.0 Ok: queued as \S+")
        self.check_delivered("Plain SMTP in", body, "ESMTP")

    def test_swaks_with_starttls_delivers(self):
        self.start()
        ca = os.path.join(self.world.root, "ca", "ca.pem")
        body = "Over TLS.\n"
        p = self.swaks("--tls", "--tls-verify", "--tls-ca-path", ca, "--tls-sni", self.b.name,
                       subject="TLS SMTP in", body=body)
        self.assertEqual(p.returncode, 0, f"swaks:\n{p.stdout}\n{p.stderr}")
        self.assertIn("220 2.0.0 Ready to start TLS", p.stdout)
        self.check_delivered("TLS SMTP in", body, "ESMTPS")

    def test_no_auth_offered_even_over_tls(self):
        self.start()
        s = self.smtp()
        self.assertTrue(s.has_extn("starttls"))
        self.assertFalse(s.has_extn("auth"), s.esmtp_features)
        s = self.smtp(tls=True)
        self.assertFalse(s.has_extn("auth"), s.esmtp_features)
        code, text = s.docmd("AUTH", "PLAIN AGJvYgBwdw==")
        self.assertEqual((code, text[:5]), (503, b"5.5.1"), text)

    def test_relay_to_another_domain_is_550_571(self):
        self.start()
        s = self.smtp()
        self.assertEqual(s.mail(CAROL)[0], 250)
        code, text = s.rcpt(self.ann.address)
        self.assertEqual(code, 550, text)
        self.assertTrue(text.startswith(b"5.7.1 "), text)
        self.assertIn(b"Relay access denied", text)

    def test_unknown_user_is_550_511(self):
        self.start()
        s = self.smtp()
        self.assertEqual(s.mail(CAROL)[0], 250)
        code, text = s.rcpt("nobody@b.example")
        self.assertEqual(code, 550, text)
        self.assertTrue(text.startswith(b"5.1.1 "), text)
        # A known user in the same transaction is still fine.
        self.assertEqual(s.rcpt(self.bob.address)[0], 250)

    def test_mail_from_a_pullmail_domain_is_550_571(self):
        self.start()
        s = self.smtp()
        for sender in (self.ann.address, "someone@b.example", "Someone@B.EXAMPLE"):
            code, text = s.mail(sender)
            self.assertEqual(code, 550, text)
            self.assertTrue(text.startswith(b"5.7.1 "), text)
            self.assertIn(b"is a pullmail domain", text)
        # A trailing dot is not RFC 5321 Domain syntax: refused before any
        # directory lookup (SECURITY.md: one normalisation behind it anyway).
        code, text = s.mail("someone@b.example.")
        self.assertEqual(code, 501, text)
        self.assertTrue(text.startswith(b"5.1.7 "), text)
        p = self.swaks(sender=self.ann.address, subject="Forged")
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("550 5.7.1", p.stdout)
        self.assertEqual(self.bob.list(), [])

    def test_null_sender_is_delivered(self):
        self.start()
        s = self.smtp()
        code, text = s.mail("")
        self.assertEqual(code, 250, text)
        self.assertEqual(s.rcpt(self.bob.address)[0], 250)
        code, text = s.data(self.message("Undelivered Mail Returned to Sender",
                                         "This is the mail system.\n",
                                         sender="MAILER-DAEMON@legacy.example"))
        self.assertEqual(code, 250, text)
        m = self.only(self.bob, "Undelivered Mail Returned to Sender")
        self.assertEqual(m["envelope_sender"], "", m)
        read = self.bob.read(m["uid"]).stdout.replace("\r\n", "\n")
        self.assertTrue(read.endswith("\n\nThis is the mail system.\n"), read)

    def test_sender_node_down_is_451_and_nothing_delivered(self):
        amy = self.b.add_user("amy")
        self.start()
        s = self.smtp()
        self.assertEqual(s.mail(CAROL)[0], 250)
        self.assertEqual(s.rcpt(self.bob.address)[0], 250)
        self.b.sender.kill9()
        code, text = s.data(self.message("While down", "body\n"))
        self.assertEqual(code, 451, text)
        self.assertTrue(text.startswith(b"4.3.0 "), text)
        # RCPT checks with the node too: 451 while it is down, for a user the
        # node has not confirmed lately.
        self.assertEqual(s.mail(CAROL)[0], 250)
        code, text = s.rcpt(amy.address)
        self.assertEqual(code, 451, text)
        self.assertTrue(text.startswith(b"4.3.0 "), text)
        # bob was confirmed a moment ago: taken at RCPT from the gateway's
        # memory, and the message is refused with 451 at its end (the node is
        # what stores it).
        self.assertEqual(s.rcpt(self.bob.address)[0], 250)
        code, text = s.data(self.message("Still down", "body\n"))
        self.assertEqual(code, 451, text)
        self.assertTrue(text.startswith(b"4.3.0 "), text)

        self.b.sender.start()

        # The client retries once the node is back (the channel may still be
        # backing off: 451 until then).
        def retry():
            try:
                s.sendmail(CAROL, [self.bob.address], self.message("After restart", "b\n"))
                return True
            except smtplib.SMTPRecipientsRefused as e:
                code = list(e.recipients.values())[0][0]
            except smtplib.SMTPResponseException as e:
                code = e.smtp_code
            # Only a temporary failure is acceptable while the node comes back.
            self.assertTrue(400 <= code < 500, code)
            return False
        wait_until(retry, what="a message accepted after the sender node restarted")
        self.only(self.bob, "After restart")
        # Nothing from the failed transaction was ever delivered.
        self.assertEqual([m["summary"]["subject"] for m in self.bob.list()], ["After restart"])

    def test_bare_lf_dot_does_not_end_data(self):
        """SMTP smuggling: '<LF>.<LF>' must not end the message, so a second
        message hidden after it is never taken as commands."""
        self.start()
        r = self.raw()
        self.assertEqual(r.reply()[0], 220)
        self.assertEqual(r.cmd("EHLO mx.legacy.example")[0], 250)
        self.assertEqual(r.cmd(f"MAIL FROM:<{CAROL}>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<bob@b.example>")[0], 250)
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send("Subject: Visible\r\n\r\nhello\n.\nMAIL FROM:<admin@legacy.example>\r\n"
               "RCPT TO:<bob@b.example>\r\nDATA\r\nSubject: Smuggled\r\n\r\nx\r\n.\r\n")
        code, text = r.reply()
        self.assertEqual(code, 554, text)
        self.assertTrue(text[0].startswith("5.6.0 "), text)
        # The session goes on in step: a clean message is accepted.
        self.assertEqual(r.cmd(f"MAIL FROM:<{CAROL}>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<bob@b.example>")[0], 250)
        self.assertEqual(r.cmd("DATA")[0], 354)
        code, text = r.cmd("Subject: Clean\r\n\r\nfine\r\n.")
        self.assertEqual(code, 250, text)
        self.only(self.bob, "Clean")
        self.assertEqual([m["summary"]["subject"] for m in self.bob.list()], ["Clean"])


if __name__ == "__main__":
    run_tests(globals())
