#!/usr/bin/env python3
"""End-to-end tests of who a message is from, and of the smaller hardening
points of issue 10 (point 4 and point 8), on a real two-domain federation.

- A user may not submit with another address in From: (CLI and SMTP
  submission), not even another local user's.
- The recipient node says what it verified: an Authentication-Results:
  field (RFC 8601) on top of what IMAP FETCH and POP3 RETR serve, with the
  sizes clients see (RFC822.SIZE, POP3 LIST) counting it; a forged From:
  from a rogue signer is marked in the CLI listing.
- Revoking an unknown message id is OK with hidden 0; a replayed revocation
  hides nothing the second time.
- Forty wrong passwords make logins slow (the nodes count the waits) but the
  right password still works.
- A submission sent twice with the same idempotency key is stored and
  delivered once.

Run one:  python3 tests/e2e/test_gateway_identity.py --bin-dir build GatewayIdentity.test_...
ctest registers each test method as e2e_gateway_identity_<name>.
"""

import imaplib
import json
import os
import poplib
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import WorldTestCase, run_tests, wait_until  # noqa: E402

BIN_DIR = os.environ.get("PULLMAIL_BIN_DIR", "build")
TIMEOUT = 30  # seconds, for every socket operation


class GatewayIdentity(WorldTestCase):
    def setUp(self):
        super().setUp()
        self.a = self.world.init("a.example")
        self.b = self.world.init("b.example")
        self.ann = self.a.add_user("ann")
        self.amy = self.a.add_user("amy")
        self.bob = self.b.add_user("bob")
        self.sessions = []
        self.addCleanup(self._close_sessions)

    def _close_sessions(self):
        for s in self.sessions:
            try:
                # IMAP4.shutdown closes the socket; POP3/SMTP close do.
                getattr(s, "shutdown", s.close)()
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass

    # -------------------------------------------------------------- helpers

    def imap(self, user=None, password=None):
        host, port = self.b.gateway_address("imap")
        m = imaplib.IMAP4(host, port, timeout=TIMEOUT)
        self.sessions.append(m)
        m.host = self.b.name
        typ, _ = m.starttls(ssl_context=self.b.tls_context())
        self.assertEqual(typ, "OK")
        if user is not None:
            m.login(user.address, password or user.password)
        return m

    def pop3(self, user):
        host, port = self.b.gateway_address("pop3")
        p = poplib.POP3(host, port, timeout=TIMEOUT)
        self.sessions.append(p)
        p.host = self.b.name
        p.stls(context=self.b.tls_context())
        p.user(user.address)
        p.pass_(user.password)
        return p

    def smtp(self, user):
        host, port = self.a.gateway_address("submission")
        s = smtplib.SMTP(host, port, local_hostname="client.test", timeout=TIMEOUT)
        self.sessions.append(s)
        s.ehlo()
        s._host = self.a.name  # smtplib checks the certificate against _host
        s.starttls(context=self.a.tls_context())
        s.ehlo()
        s.login(user.address, user.password)
        return s

    def send_file(self, user, text, *extra, check=True):
        path = os.path.join(self.world.root, "msg.eml")
        with open(path, "w", newline="") as f:
            f.write(text)
        return user.run("send", "--json", "--file", path, "--to", self.bob.address, *extra,
                        check=check)

    # ---------------------------------------------------------------- tests

    def test_spoofed_from_is_refused_at_submission(self):
        self.a.start()
        self.b.start()
        self.a.gateway.start()
        # The CLI: another domain's boss, then another local user (no aliases).
        for author in ("Boss <boss@b.example>", f"Amy <{self.amy.address}>"):
            r = self.send_file(self.ann, f"From: {author}\r\nTo: {self.bob.address}\r\n"
                               "Subject: Pay now\r\n\r\nwire the money\r\n", check=False)
            self.assertNotEqual(r.returncode, 0, r)
            self.assertIn("from_not_allowed", r.stderr)
        # SMTP submission: refused at DATA with a 5xx.
        s = self.smtp(self.ann)
        with self.assertRaises(smtplib.SMTPDataError) as refused:
            s.sendmail(self.ann.address, [self.bob.address],
                       f"From: Amy <{self.amy.address}>\r\nTo: {self.bob.address}\r\n"
                       "Subject: Pay now too\r\n\r\nwire it\r\n")
        self.assertGreaterEqual(refused.exception.smtp_code, 500)
        # Her own address goes through; only that one arrives.
        s.sendmail(self.ann.address, [self.bob.address],
                   f"From: Ann <{self.ann.address}>\r\nTo: {self.bob.address}\r\n"
                   "Subject: Honest\r\n\r\nhello\r\n")
        msgs = self.bob.wait_for_subject("Honest")
        self.assertEqual([m["summary"]["subject"] for m in msgs], ["Honest"])
        self.assertEqual(msgs[0]["author_check"], "pass")

    def test_authentication_results_in_imap_fetch_and_pop3_retr(self):
        self.a.start()
        self.b.start()
        self.b.gateway.start()
        sent = self.ann.send(self.bob.address, "Verified", "signed and aligned\n")
        self.bob.wait_for_subject("Verified")

        m = self.imap(self.bob)
        m.select("INBOX")
        typ, data = m.fetch("1", "(RFC822.SIZE BODY.PEEK[])")
        self.assertEqual(typ, "OK", data)
        meta, body = data[0]
        size = int(meta.decode().split("RFC822.SIZE ")[1].split()[0])
        first, rest = body.split(b"\r\n", 1)
        self.assertTrue(first.startswith(b"Authentication-Results: b.example; pullmail=pass "
                                         b"header.d=a.example"), first)
        self.assertIn(b"dmarc=pass", first)
        self.assertIn(b"header.from=a.example", first)
        # The size a client sees is that of what it is served; the bytes
        # after the field are the sender's, as sent.
        self.assertEqual(size, len(body))
        self.assertEqual(len(rest), int(sent["body_size"]))
        self.assertIn(b"Subject: Verified", rest)
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (AUTHENTICATION-RESULTS)])")
        self.assertEqual(typ, "OK", data)
        self.assertIn(b"dmarc=pass", data[0][1])

        p = self.pop3(self.bob)
        _, listing, _ = p.list()
        listed = int(listing[0].split()[1])
        _, lines, octets = p.retr(1)
        self.assertTrue(lines[0].startswith(b"Authentication-Results: b.example; "), lines[0])
        self.assertEqual(listed, len(body))
        self.assertEqual(b"\r\n".join(lines) + b"\r\n", body)

    def test_forged_from_by_a_rogue_signer_is_marked_in_the_listing(self):
        self.a.start()
        self.b.start()
        # a.example's key signs a notification whose From: is b.example's boss:
        # what a hostile domain (or a node that skipped the From: rule) sends.
        self.world.pullmail("debug", "notify", "--config", self.a.config,
                            "--to", self.bob.address, "--body",
                            "From: Boss <boss@b.example>\r\nSubject: Pay now\r\n\r\nx\r\n")
        msgs = self.bob.wait_for_subject("Pay now")
        self.assertEqual(msgs[0]["author_check"], "fail")
        self.assertEqual(msgs[0]["signing_domain"], "a.example")
        self.assertIn("dmarc=fail", msgs[0]["authentication_results"])
        self.assertIn("header.from=b.example", msgs[0]["authentication_results"])
        text = self.bob.run("list").stdout
        line = next(l for l in text.splitlines() if "Pay now" in l)
        self.assertIn("!Boss <boss@b.example>", line)
        self.assertIn("From: is NOT verified: signed by a.example", text)
        # An honest message has no mark.
        self.ann.send(self.bob.address, "Honest", "hi\n")
        self.bob.wait_for_subject("Honest")
        text = self.bob.run("list").stdout
        line = next(l for l in text.splitlines() if "Honest" in l)
        self.assertNotIn("!", line)

    def test_revocation_of_unknown_id_is_ok_and_a_replay_hides_nothing(self):
        self.a.start()
        self.b.start()
        r = self.world.pullmail("debug", "revoke", "--config", self.a.config,
                                "--to-domain", "b.example", "--message-id",
                                "never-sent@a.example")
        result = json.loads(r.stdout.splitlines()[0])
        self.assertEqual((result["code"], result["result_code"], result["hidden"]), (0, 0, 0))

        sent = self.ann.send(self.bob.address, "Oops", "take it back\n")
        self.bob.wait_for_subject("Oops")
        r = self.world.pullmail("debug", "revoke", "--config", self.a.config,
                                "--to-domain", "b.example", "--message-id", sent["message_id"],
                                "--times", "2")
        results = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual([x["code"] for x in results], [0, 0])
        self.assertEqual([x["hidden"] for x in results], [1, 0])
        self.assertEqual(self.bob.list(), [])

    def test_forty_wrong_passwords_then_slow_but_no_lockout(self):
        # Short penalties keep the test quick; the rule is the same (2 s and
        # 15 s by default, as Dovecot's).
        self.b.append_config("[auth]\nlogin_penalty_initial_ms = 20\n"
                             "login_penalty_max_ms = 160")
        self.a.start()
        self.b.start()
        self.b.gateway.start()
        delayed = "pullmail_login_delayed_total"
        before = self.b.recipient.counter(delayed)
        m = None
        for i in range(40):
            if m is None:
                m = self.imap()
            try:
                m.login(self.bob.address, "not-the-password")
                self.fail("a wrong password was accepted")
            except imaplib.IMAP4.error:
                pass
            except (imaplib.IMAP4.abort, OSError):
                m = None  # the gateway closes after a few failures: reconnect
            if i % 3 == 2:
                m = None
        waited = self.b.recipient.counter(delayed) - before
        # Every failure after the first waited at the node (per user).
        self.assertGreaterEqual(waited, 39)
        # The right password still works: slowly (it waited too), not refused.
        m = self.imap(self.bob)
        self.assertEqual(m.select("INBOX")[0], "OK")
        self.assertEqual(self.b.recipient.counter(delayed) - before, waited + 1)
        # And the success cleared the penalty.
        self.imap(self.bob)
        self.assertEqual(self.b.recipient.counter(delayed) - before, waited + 1)

    def test_same_idempotency_key_is_stored_and_delivered_once(self):
        self.a.start()
        self.b.start()
        text = (f"From: Ann <{self.ann.address}>\r\nTo: {self.bob.address}\r\n"
                "Subject: Once\r\n\r\nretry me\r\n")
        first = self.send_file(self.ann, text, "--idempotency-key", "k-42").json()
        again = self.send_file(self.ann, text, "--idempotency-key", "k-42").json()
        self.assertEqual(first["message_id"], again["message_id"])
        # The same key for another message is refused.
        other = self.send_file(self.ann, text.replace("retry me", "other"), "--idempotency-key",
                               "k-42", check=False)
        self.assertNotEqual(other.returncode, 0)
        self.assertIn("idempotency_key_reused", other.stderr)
        self.bob.wait_for_subject("Once")
        self.ann.send(self.bob.address, "After", "later\n")
        msgs = self.bob.wait_for_subject("After")
        self.assertEqual(sorted(m["summary"]["subject"] for m in msgs), ["After", "Once"])
        self.assertEqual(len(self.ann.sent()), 2)
        self.assertEqual(self.a.sender.counter("pullmail_submissions_retried_total"), 1)


if __name__ == "__main__":
    run_tests(globals())
