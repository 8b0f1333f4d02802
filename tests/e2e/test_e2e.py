#!/usr/bin/env python3
"""End-to-end tests of pullmail: real node processes, real TLS, loopback.

Each test builds its own federation with `pullmail init` in a temporary
folder (world.py), starts the node programs, drives them with the real
`pullmail` command, reads their /metrics, and kills everything it started
(by PID) when it ends, pass or fail.

Run one:   python3 tests/e2e/test_e2e.py --bin-dir build E2E.test_send_list_read_cached
Run all:   python3 tests/e2e/test_e2e.py --bin-dir build
ctest registers each test method separately (tests/e2e/CMakeLists.txt).
Set PULLMAIL_E2E_KEEP=1 to keep a failed test's folder and logs.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import WorldTestCase, run_tests, wait_until  # noqa: E402

BIN_DIR = os.environ.get("PULLMAIL_BIN_DIR", "build")

SERVED = "pullmail_body_bytes_served_total"
FETCHED = "pullmail_body_bytes_fetched_total"


class E2E(WorldTestCase):
    def two_domains(self, start=True):
        a = self.world.init("a.example")
        b = self.world.init("b.example")
        ann = a.add_user("ann")
        bob = b.add_user("bob")
        if start:
            a.start()
            b.start()
        return a, b, ann, bob

    def only(self, messages, subject):
        found = [m for m in messages if m.get("summary", {}).get("subject") == subject]
        self.assertEqual(len(found), 1, f"expected one '{subject}' in {messages}")
        return found[0]

    # ------------------------------------------------------------------

    def test_send_list_read_cached(self):
        """send -> notify -> list (no body moved) -> read (fetch) -> re-read (cache)."""
        a, b, ann, bob = self.two_domains()
        body = "Hello Bob,\nthis body stays at a.example until you read it.\n"
        sent = ann.send(bob.address, "Lunch?", body)
        self.assertEqual([q["domain"] for q in sent["queued"]], ["b.example"])

        m = self.only(bob.wait_for_messages(1), "Lunch?")
        # Bytes moved between nodes: the message as sent. A read serves the
        # node's Authentication-Results: field on top (body_size counts it).
        size = int(m["sent_size"])
        self.assertEqual(m["message_id"], sent["message_id"])
        self.assertEqual(m["envelope_sender"], "ann@a.example")
        self.assertFalse(m["body_cached"])
        self.assertNotIn("\\Seen", m["flags"])
        # Listing moved the notification only.
        self.assertGreater(b.recipient.counter("pullmail_notification_bytes_received_total"), 0)
        self.assertEqual(b.recipient.counter("pullmail_notifications_accepted_total"), 1)
        self.assertEqual(a.sender.counter(SERVED), 0)
        self.assertEqual(b.recipient.counter(FETCHED), 0)

        first = bob.read_json(m["uid"])
        self.assertFalse(first["from_cache"])
        self.assertEqual(first["bytes"], int(m["body_size"]))
        self.assertTrue(first["body"].startswith("Authentication-Results: b.example; "))
        self.assertIn("this body stays at a.example", first["body"])
        wait_until(lambda: a.sender.counter(SERVED) == size, 10,
                   what=f"a.example to have served exactly {size} body bytes")
        self.assertEqual(b.recipient.counter(FETCHED), size)
        self.assertEqual(a.sender.counter('pullmail_fetch_requests_total{result="ok"}'), 1)

        # The second read is the cache's; nothing more leaves a.example.
        second = bob.read(m["uid"])
        self.assertIn("from cache", second.stderr)
        self.assertIn("this body stays at a.example", second.stdout)
        self.assertGreaterEqual(b.recipient.counter("pullmail_cache_hits_total"), 1)
        self.assertEqual(a.sender.counter(SERVED), size)
        self.assertEqual(b.recipient.counter(FETCHED), size)
        again = self.only(bob.list(), "Lunch?")
        self.assertTrue(again["body_cached"])
        self.assertIn("\\Seen", again["flags"])

        # Both nodes of both domains stop cleanly on SIGTERM.
        for node in self.world.nodes():
            self.assertEqual(node.stop(), 0, f"{node} exit status on SIGTERM")

    def test_first_read_text_output_says_fetched(self):
        a, b, ann, bob = self.two_domains()
        ann.send(bob.address, "Text", "plain words\n")
        m = bob.wait_for_messages(1)[0]
        r = bob.read(m["uid"])
        self.assertIn("plain words", r.stdout)
        self.assertIn("fetched from sender node a.example", r.stderr)
        listing = bob.run("list")
        self.assertIn("Text", listing.stdout)
        self.assertIn("1 message", listing.stdout)

    def test_same_notification_twice_is_stored_once(self):
        a, b, ann, bob = self.two_domains()
        r = self.world.pullmail("debug", "notify", "--config", a.config, "--to", bob.address,
                                "--times", "2")
        first, second = r.json_lines()
        self.assertEqual(first["code"], 0, first)
        self.assertFalse(first["duplicate"])
        self.assertEqual(second["code"], 0, second)
        self.assertTrue(second["duplicate"], "the second delivery must be acknowledged as a duplicate")
        self.assertEqual(first["message_id"], second["message_id"])
        messages = [m for m in bob.list() if m["message_id"] == first["message_id"]]
        self.assertEqual(len(messages), 1, "the same notification must be stored once")
        self.assertEqual(b.recipient.counter("pullmail_notifications_accepted_total"), 1)
        self.assertEqual(b.recipient.counter("pullmail_notifications_duplicate_total"), 1)

    def test_notification_signed_with_unlisted_key_is_rejected(self):
        a, b, ann, bob = self.two_domains()
        # A key id the directory does not list for a.example.
        r = self.world.pullmail("debug", "notify", "--config", a.config, "--to", bob.address,
                                "--random-key", "--key-id", "k9", check=False)
        self.assertEqual(r.returncode, 2, r)
        res = r.json_lines()[0]
        self.assertEqual(res["code"], 16, res)  # UNAUTHENTICATED
        self.assertEqual(res["reason"], "unknown_key", res)
        # The listed key id, but not the listed key.
        r = self.world.pullmail("debug", "notify", "--config", a.config, "--to", bob.address,
                                "--random-key", check=False)
        self.assertEqual(r.returncode, 2, r)
        res = r.json_lines()[0]
        self.assertEqual(res["code"], 16, res)
        self.assertEqual(res["reason"], "bad_signature", res)

        self.assertEqual(bob.list(), [])
        self.assertEqual(b.recipient.counter('pullmail_notifications_rejected_total{reason="unknown_key"}'), 1)
        self.assertEqual(b.recipient.counter('pullmail_notifications_rejected_total{reason="bad_signature"}'), 1)
        self.assertEqual(b.recipient.counter("pullmail_notifications_accepted_total"), 0)

    def test_bridged_sender_at_a_pullmail_domain_is_refused_in_any_spelling(self):
        # Issue 10 point 5: a.example's node, signing with its real key as a
        # rogue gateway would (raw, no signer checks), claims a bridged
        # sender at b.example, a pullmail domain. SECURITY.md: NormalizeDomain.
        a, b, ann, bob = self.two_domains()
        for sender in ("boss@b.example", "boss@b.example.", "Boss@B.EXAMPLE."):
            r = self.world.pullmail("debug", "notify", "--config", a.config, "--to", bob.address,
                                    "--from", sender, "--bridged", "--raw", check=False)
            self.assertEqual(r.returncode, 2, r)
            res = r.json_lines()[0]
            self.assertEqual(res["reason"], "sender_outside_domain", (sender, res))
        self.assertEqual(bob.list(), [])
        # A sender at a domain no directory lists stays bridgeable.
        r = self.world.pullmail("debug", "notify", "--config", a.config, "--to", bob.address,
                                "--from", "boss@legacy.example.", "--bridged", "--raw")
        self.assertEqual(r.json_lines()[0]["code"], 0, r)
        self.assertEqual(len(bob.wait_for_messages(1)), 1)

    def test_fetch_with_wrong_token_is_denied_and_sends_no_body(self):
        a, b, ann, bob = self.two_domains()
        sent = ann.send(bob.address, "Secret", "not for you\n" * 100)
        m = bob.wait_for_messages(1)[0]
        r = self.world.pullmail("debug", "fetch", "--config", b.config, "--from-domain", "a.example",
                                "--message-id", sent["message_id"], "--token-hex", "00" * 32,
                                check=False)
        self.assertEqual(r.returncode, 2, r)
        res = r.json()
        self.assertEqual(res["code_name"], "PERMISSION_DENIED", res)
        self.assertEqual(res["bytes"], 0)
        self.assertEqual(res["chunks"], 0)
        self.assertEqual(a.sender.counter(SERVED), 0)
        self.assertEqual(a.sender.counter('pullmail_fetch_requests_total{result="denied"}'), 1)

        # An id the sender never issued: the token is checked first, so the
        # answer is the wrong token's (nothing tells which ids exist), also
        # without a byte.
        r = self.world.pullmail("debug", "fetch", "--config", b.config, "--from-domain", "a.example",
                                "--message-id", "nosuchmessage@a.example", "--token-hex", "00" * 32,
                                check=False)
        self.assertEqual(r.json()["code_name"], "PERMISSION_DENIED", r)
        self.assertEqual(r.json()["message"], res["message"], r)
        self.assertEqual(a.sender.counter(SERVED), 0)

        # The real reader, with the real token, still gets it.
        ok = bob.read_json(m["uid"])
        self.assertEqual(ok["bytes"], int(m["body_size"]))

    def test_sender_down_during_read_is_unavailable_then_read_succeeds(self):
        a, b, ann, bob = self.two_domains()
        ann.send(bob.address, "While you were out", "the sender node will be down\n")
        m = bob.wait_for_messages(1)[0]
        a.sender.kill9()

        r = bob.read(m["uid"], check=False)
        self.assertEqual(r.returncode, 3, r)
        self.assertIn("UNAVAILABLE", r.stderr)
        self.assertEqual(r.stdout, "", "a failed read must print no body")
        self.assertGreaterEqual(
            b.recipient.counter('pullmail_fetches_total{result="unavailable"}'), 1)
        self.assertEqual(b.recipient.counter(FETCHED), 0)
        # The message is still unread and listed.
        still = self.only(bob.list(), "While you were out")
        self.assertNotIn("\\Seen", still["flags"])
        self.assertFalse(still["body_cached"])

        a.sender.start()
        r = wait_until(lambda: (lambda x: x if x.returncode == 0 else None)(
            bob.read(m["uid"], check=False)), 20, interval=0.2,
            what="a successful read after the sender node restarted")
        self.assertIn("the sender node will be down", r.stdout)
        self.assertIn("fetched from sender node a.example", r.stderr)

    def test_recipient_killed_right_after_ack_keeps_message(self):
        a, b, ann, bob = self.two_domains()
        ann.send(bob.address, "Durable", "acknowledged means stored\n")
        # The counter is bumped once the notification is committed, just
        # before the acknowledgement goes out: kill -9 as soon as it moves.
        wait_until(lambda: b.recipient.counter("pullmail_notifications_accepted_total") >= 1, 20,
                   interval=0.005, what="the recipient node to accept the notification")
        b.recipient.kill9()
        b.recipient.start()
        messages = bob.list()
        self.only(messages, "Durable")
        self.assertEqual(len(messages), 1, messages)
        body = bob.read_json(messages[0]["uid"])
        self.assertIn("acknowledged means stored", body["body"])
        # The sender, even if it missed the ack and retried, recorded delivery.
        wait_until(lambda: all(d["state"] in ("delivered", "fetched")
                               for s in ann.sent() for d in s["deliveries"]), 30,
                   what="the delivery to be recorded as done at a.example")
        self.assertEqual(len(bob.list()), 1)

    def test_sender_killed_with_queued_notifications_delivers_after_restart(self):
        a, b, ann, bob = self.two_domains(start=False)
        # Retry quickly, so that the test does not wait on a production backoff.
        a.append_config(RETRY_FAST)
        a.start()  # b.example's recipient node stays down: notifications queue
        subjects = [f"queued {i}" for i in range(3)]
        for s in subjects:
            ann.send(bob.address, s, f"body of {s}\n")

        def all_tried_and_queued():
            sent = ann.sent()
            if len(sent) != 3:
                return None
            ds = [d for s in sent for d in s["deliveries"]]
            return all(d["state"] == "queued" and d["attempts"] >= 1 for d in ds) and ds
        wait_until(all_tried_and_queued, 30, interval=0.1,
                   what="3 notifications queued after a failed attempt")
        a.sender.kill9()

        b.recipient.start()
        a.sender.start()
        messages = bob.wait_for_messages(3, timeout=60)
        self.assertEqual(sorted(m["summary"]["subject"] for m in messages), subjects)
        self.assertEqual(b.recipient.counter("pullmail_notifications_accepted_total"), 3)

    def test_queued_notifications_go_batch_signed_and_each_stands_alone(self):
        """What is due for one domain goes under one batch signature (PROTOCOL.md 4.1);
        each notification is still stored, read and revoked on its own."""
        a, b, ann, bob = self.two_domains(start=False)
        a.append_config(RETRY_FAST)
        a.start()  # b.example is down: the four queue, then go out together
        subjects = [f"batched {i}" for i in range(4)]
        sent = {s: ann.send(bob.address, s, f"body of {s}\n")["message_id"] for s in subjects}
        wait_until(lambda: len(ann.sent()) == 4 and all(
            d["attempts"] >= 1 for s in ann.sent() for d in s["deliveries"]), 30, interval=0.1,
            what="4 notifications tried once")
        # Stopped while they wait, restarted once every retry time (at most
        # 1 s with RETRY_FAST) has passed: all four are due in one pass.
        a.sender.kill9()
        b.start()
        time.sleep(2)
        a.sender.start()
        messages = bob.wait_for_messages(4, timeout=60)
        self.assertEqual(sorted(m["summary"]["subject"] for m in messages), subjects)
        self.assertEqual(b.recipient.counter("pullmail_notifications_accepted_total"), 4)
        self.assertEqual(b.recipient.counter("pullmail_notifications_batch_signed_total"), 4)
        self.assertGreaterEqual(a.sender.counter("pullmail_notification_signatures_total"), 1)
        # One of them read: its body is fetched with its own token.
        first = self.only(messages, "batched 1")
        self.assertIn("body of batched 1", bob.read_json(first["uid"])["body"])
        # Another revoked (once a.example has recorded the deliveries): only
        # that one leaves the inbox.
        wait_until(lambda: all(d["state"] in ("delivered", "fetched")
                               for s in ann.sent() for d in s["deliveries"]), 30,
                   what="the deliveries to be recorded as done at a.example")
        rev = ann.run("revoke", sent["batched 2"], "--json").json()
        self.assertEqual(rev["domains_notified"], 1, rev)
        wait_until(lambda: sorted(m["summary"]["subject"] for m in bob.list()) ==
                   ["batched 0", "batched 1", "batched 3"], 10,
                   what="the revoked one to leave bob's inbox, and only it")

    def test_unreachable_recipient_expires_and_sender_gets_bounce(self):
        a, b, ann, bob = self.two_domains(start=False)
        # c.example is in the directory but its nodes never run: its
        # recipient endpoint never answers.
        self.world.init("c.example")
        a.edit_config("retention_hours = 720", "retention_hours = 720\nretention_seconds = 4")
        a.append_config(RETRY_FAST)
        a.start()
        sent = ann.send("carol@c.example", "Into the void", "nobody will ever fetch this\n")
        # The delivery is retried, then bounced when the message expires.
        wait_until(lambda: any(d["state"] == "bounced" for s in ann.sent()
                               if s["message_id"] == sent["message_id"]
                               for d in s["deliveries"]), 60, interval=0.2,
                   what="the delivery to c.example to be bounced")
        self.assertGreaterEqual(a.sender.counter("pullmail_bounces_total"), 1)
        # The bounce reaches ann's own inbox, from the mailer-daemon.
        bounce = wait_until(lambda: [m for m in ann.list()
                                     if "mailer-daemon@a.example" in (m["envelope_sender"] +
                                                                     m["summary"]["from"])],
                            30, interval=0.2, what="a bounce in ann's inbox")[0]
        text = ann.read_json(bounce["uid"])["body"]
        self.assertIn("c.example", text)
        self.assertIn("carol@c.example", text)

    def test_spam_reports_suppress_unread_copies(self):
        """Two readers' reports suppress the copies nobody has read; their bodies never move."""
        a = self.world.init("a.example")
        b = self.world.init("b.example")
        # Two reports suppress a body (init writes k = 3 and no hold-back).
        b.edit_config("spam_threshold_k = 3.0", "spam_threshold_k = 2.0")
        ann = a.add_user("ann")
        readers = [b.add_user(n) for n in ("bob", "cy", "dan", "eve")]
        a.start()
        b.start()
        body = "You have won a prize! Send your bank details.\n" * 20
        ann.send([u.address for u in readers], "PRIZE", body)
        copies = {u.address: u.wait_for_messages(1)[0] for u in readers}
        size = int(copies["bob@b.example"]["sent_size"])

        bob, cy, dan, eve = readers
        bob.read_json(copies[bob.address]["uid"])
        first = bob.run("report", copies[bob.address]["uid"], "spam", "--json").json()
        self.assertEqual(first.get("suppressed", 0), 0, "one report is below k=2")
        self.only(dan.list(), "PRIZE")  # still shown
        cy.read_json(copies[cy.address]["uid"])  # from b.example's cache
        second = cy.run("report", copies[cy.address]["uid"], "spam", "--json").json()
        self.assertEqual(second["suppressed"], 2, second)  # dan's and eve's unread copies

        for u in (dan, eve):
            self.assertEqual(u.list(), [], f"{u.address} still sees the spam")
            j = self.only(u.list(junk=True), "PRIZE")
            self.assertEqual(j["state"], "suppressed")
            self.assertTrue(j["reason"], "a suppressed copy says why")
        # One fetch for the whole domain; the suppressed copies moved no body.
        self.assertEqual(a.sender.counter(SERVED), size)
        self.assertEqual(b.recipient.counter(FETCHED), size)
        self.assertEqual(b.recipient.counter("pullmail_copies_suppressed_total"), 2)

    def test_report_exports_arf_for_classic_operators(self):
        """`report --arf` writes an RFC 5965 feedback report about the message."""
        a, b, ann, bob = self.two_domains()
        ann.send([bob.address], "Cheap watches", "Buy now.\n")
        uid = self.only(bob.wait_for_subject("Cheap watches"), "Cheap watches")["uid"]
        r = bob.run("report", uid, "spam", "--arf", "-")
        self.assertEqual(r.returncode, 0, r)
        arf = r.stdout
        for needle in ("multipart/report", "report-type=feedback-report",
                       "message/feedback-report", "Feedback-Type: abuse", "Version: 1",
                       "Original-Mail-From: <ann@a.example>", "Reported-Domain: a.example",
                       "text/rfc822-headers", "Cheap watches"):
            self.assertIn(needle, arf, needle)
        # The report itself was made: the copy is in Junk now.
        self.only(bob.list(junk=True), "Cheap watches")

    def test_cli_mailbox_commands(self):
        a, b, ann, bob = self.two_domains()
        for s in ("one", "two", "three"):
            ann.send(bob.address, s, f"message {s}\n")
        msgs = bob.wait_for_messages(3)
        uid = {m["summary"]["subject"]: m["uid"] for m in msgs}

        flags = bob.run("flag", uid["one"], "+\\Flagged", "+$Important", "--json").json()
        self.assertIn("\\Flagged", flags["messages"][0]["flags"])
        self.assertIn("$Important", flags["messages"][0]["flags"])
        flags = bob.run("flag", uid["one"], "-\\Flagged", "--json").json()
        self.assertNotIn("\\Flagged", flags["messages"][0]["flags"])

        bob.run("move", uid["one"], "--to", "Archive")
        archived = bob.list("Archive")
        self.assertEqual([m["summary"]["subject"] for m in archived], ["one"])
        self.assertNotIn("one", [m["summary"]["subject"] for m in bob.list()])
        bob.run("delete", archived[0]["uid"], "--folder", "Archive")
        self.assertEqual(bob.list("Archive"), [])

        # Usage errors exit 1; a refusal by the server exits 2.
        self.assertEqual(bob.run("flag", uid["two"], "Flagged", check=False).returncode, 1)
        self.assertEqual(bob.run("read", "999999", check=False).returncode, 2)
        for cmd in (["flag", "999999", "+\\Seen"], ["move", "999999", "--to", "Archive"],
                    ["delete", "999999"]):
            r = bob.run(*cmd, check=False)
            self.assertEqual(r.returncode, 2, r)
            self.assertIn("NOT_FOUND", r.stderr)
        wrong = self.world.pullmail("list", "--config", b.config, "--user", bob.address,
                                    "--password", "wrong", check=False)
        self.assertEqual(wrong.returncode, 2, wrong)
        self.assertIn("UNAUTHENTICATED", wrong.stderr)

        # A spam report moves the reader's own copy to Junk, with the reason;
        # not-spam on it brings it back.
        bob.run("report", uid["two"], "spam", "--json")
        self.assertNotIn("two", [m["summary"]["subject"] for m in bob.list()])
        junk = self.only(bob.list(junk=True), "two")
        self.assertEqual(junk["state"], "suppressed")
        self.assertIn("reported it as spam", junk["reason"])
        self.assertIn("reported it as spam", bob.run("list", "--junk").stdout)
        bob.run("report", junk["uid"], "not-spam", "--folder", "Junk")
        self.only(bob.list(), "two")
        self.assertEqual(bob.list(junk=True), [])

        status = ann.run("status", "--json").json()
        self.assertTrue(status["sender"]["up"] and status["recipient"]["up"], status)
        self.assertEqual(status["sender"]["counters"]["pullmail_submissions_total"], 3)
        self.assertEqual(len(status["sent"]["messages"]), 3)
        text = ann.run("status").stdout
        self.assertIn("sender node", text)
        self.assertIn("up", text)

        # Revoke an unread message: bob can no longer read it.
        sent = ann.send(bob.address, "oops", "sent by mistake\n")
        m = self.only(bob.wait_for_subject("oops"), "oops")
        ann.run("revoke", sent["message_id"])

        def revoked():
            r = bob.read(m["uid"], check=False, peek=True)
            listed = [x for x in bob.list() if x["message_id"] == sent["message_id"]]
            return r.returncode == 2 or not listed or listed[0]["state"] == "revoked"
        wait_until(revoked, 20, interval=0.2, what="the revoked message to become unreadable")
        self.assertEqual(a.sender.counter(SERVED), 0)

        # Down nodes make `status` exit 3.
        a.sender.kill9()
        self.assertEqual(ann.run("status", check=False).returncode, 3)


# [sender.retry] for tests: the first retry after ~100 ms, never more than 1 s
# apart. Key names: core/logic/outbox.h (ParseRetryPolicy).
RETRY_FAST = """[sender.retry]
initial_seconds = 0.1
multiplier = 2.0
max_seconds = 1
jitter = 0.1
"""


if __name__ == "__main__":
    run_tests(globals())
