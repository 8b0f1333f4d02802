#!/usr/bin/env python3
"""End-to-end tests of a hostile sender node answering a batched first read
(SenderService.FetchBodies, docs/PROTOCOL.md 8.1): the real recipient node
and gateway on loopback (world.py), an IMAP FETCH of several uncached bodies
through the gateway (one ReadSet, whose first uncached body hands the set to
the node's fetcher), and tests/rogue/rogue_peer's `liar` as the sender node
of b.example. Each body is checked against its own signed commitment, a bad
body rejects only itself, and the bodies the batch did not settle are
fetched alone (FetchBody):

- another message's bytes (same length): that body is refused, the batch
  goes on;
- too many bytes, or a piece of another body first (out of order): that body
  is refused and the call ends; the bodies after it are fetched alone;
- a body that never comes: the node cuts the call (its minimum rate) and
  the body after it is fetched alone;
- a node without FetchBodies (UNIMPLEMENTED) is asked one body at a time,
  and not offered a batch again for a while.

Run one:   python3 tests/e2e/test_hostile_fetch.py --bin-dir build HostileFetch.test_lying_batch_rejects_only_the_bad_bodies
Set PULLMAIL_E2E_KEEP=1 to keep a failed test's folder and logs.
"""

import hashlib
import imaplib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import WorldTestCase, run_tests, wait_until  # noqa: E402
from test_hostile import RoguePeer  # noqa: E402


def rogue_body(message_id):
    """What tests/rogue/rogue_peer liar commits to for `message_id`."""
    return (f"From: rogue@b.example\r\nSubject: {message_id}\r\n\r\n"
            f"body of {message_id}\r\n").encode()


class HostileFetch(WorldTestCase):

    def setUp(self):
        super().setUp()
        self.b = self.world.init("b.example")
        self.c = self.world.init("c.example")
        # `pullmail debug notify` sets a 24 h expiry, which the default
        # prefetch window (24 h) would fetch at once: only reads fetch here.
        self.c.edit_config("prefetch_before_expiry_hours = 24", "prefetch_before_expiry_hours = 1")
        # A body that never comes is cut after a second at 1,000 bytes/s.
        self.c.append_config("[recipient.fetch]\ngrace_seconds = 1\nmin_bytes_per_second = 1000\n")
        self.c.start()
        self.c.gateway.start()
        self.carol = self.c.add_user("carol")
        extra = ["--no-batch", "1"] if "older_node" in self._testMethodName else []
        self.rogue = RoguePeer(self.world, "liar", "--config", self.b.config, "--listen",
                               self.b.info["sender_listen"], *extra)
        wait_until(lambda: any(l.startswith("READY") for l in self.rogue.lines), 30,
                   what="the rogue sender to listen")

    def notify(self, ids):
        for mid in ids:
            body = rogue_body(mid)
            r = self.world.pullmail("debug", "notify", "--config", self.b.config, "--to",
                                    self.carol.address, "--message-id", mid,
                                    "--body-sha256-hex", hashlib.sha256(body).hexdigest(),
                                    "--body-size", len(body))
            self.assertEqual(r.json_lines()[0]["code"], 0, r)

    def imap(self):
        host, port = self.c.gateway_address("imap")
        m = imaplib.IMAP4(host, port, timeout=60)
        m.host = self.c.name
        self.assertEqual(m.starttls(ssl_context=self.c.tls_context())[0], "OK")
        self.assertEqual(m.login(self.carol.address, self.carol.password)[0], "OK")
        self.assertEqual(m.select("INBOX")[0], "OK")
        return m

    def cached(self):
        """message id -> body_cached, from the node's listing."""
        return {m["message_id"]: m["body_cached"] for m in self.carol.list()}

    def fetched(self, m, uids):
        """UID FETCH of `uids` (one ReadSet): the bodies that reached the
        client, by message id (the Subject), and the tagged status."""
        typ, data = m.uid("FETCH", ",".join(str(u) for u in uids), "(BODY.PEEK[])")
        parts = [p[1] for p in data if isinstance(p, tuple)]
        if typ != "OK":
            parts += [p[1] for p in m.untagged_responses.pop("FETCH", []) if isinstance(p, tuple)]
        got = {}
        for body in parts:
            subject = [l for l in body.split(b"\r\n") if l.startswith(b"Subject: ")][0]
            got[subject[9:].decode()] = body
        return typ, got

    def batches(self):
        return [l for l in self.rogue.lines if l.startswith("BATCH")]

    def alone(self):
        return sorted(l.split()[1] for l in self.rogue.lines if l.startswith("ALONE"))

    def test_another_messages_bytes_reject_only_that_body(self):
        ids = ["good-1", "good-2", "swap-3"]
        self.notify(ids)
        self.carol.wait_for_messages(len(ids))
        uid = {m["message_id"]: m["uid"] for m in self.carol.list()}
        typ, got = self.fetched(self.imap(), [uid[i] for i in ids])
        # The good bodies reached the client byte for byte from one call;
        # the swapped one is UNAVAILABLE to the reader and was never cached.
        self.assertEqual(typ, "NO")
        self.assertEqual(sorted(got), ["good-1", "good-2"], self.rogue.lines)
        for i in ("good-1", "good-2"):
            self.assertTrue(got[i].endswith(rogue_body(i)))
        self.assertEqual(self.batches(), ["BATCH good-1 good-2 swap-3"])
        # A read that reaches the swapped body only after its batch settled
        # it asks for it alone (and is refused again); no good body is asked
        # for twice.
        self.assertIn(self.alone(), ([], ["swap-3"]))
        self.assertEqual(self.cached(), {"good-1": True, "good-2": True, "swap-3": False})
        self.assertGreaterEqual(
            self.c.recipient.counter('pullmail_fetches_total{result="verify_failed"}'), 1)

    def test_too_many_bytes_or_out_of_order_end_the_call_and_the_rest_go_alone(self):
        ids = ["good-4", "long-5", "good-6", "good-7", "order-8", "good-9"]
        self.notify(ids)
        self.carol.wait_for_messages(len(ids))
        uid = {m["message_id"]: m["uid"] for m in self.carol.list()}
        m = self.imap()
        typ, got = self.fetched(m, [uid[i] for i in ids[:3]])
        self.assertEqual(typ, "NO")
        self.assertEqual(sorted(got), ["good-4"], self.rogue.lines)
        # long-5's overflow ended the call; good-6, which its read was
        # waiting for, was fetched alone.
        wait_until(lambda: self.cached()["good-6"], 30, what="good-6 to be fetched alone")
        typ, got = self.fetched(m, [uid[i] for i in ids[3:]])
        self.assertEqual(typ, "NO")
        self.assertEqual(sorted(got), ["good-7"], self.rogue.lines)
        wait_until(lambda: self.cached()["good-9"], 30, what="good-9 to be fetched alone")
        self.assertEqual(self.batches(), ["BATCH good-4 long-5 good-6", "BATCH good-7 order-8 good-9"])
        # A read that reached a refused body only after its batch had settled
        # it asks for it alone (and is refused again): the liars may appear.
        alone = self.alone()
        self.assertEqual([i for i in alone if i.startswith("good-")], ["good-6", "good-9"])
        self.assertEqual(self.cached(), {"good-4": True, "long-5": False, "good-6": True,
                                         "good-7": True, "order-8": False, "good-9": True})
        self.assertGreaterEqual(
            self.c.recipient.counter('pullmail_fetches_total{result="verify_failed"}'), 2)
        # What was fetched alone is served from the cache now.
        typ, got = self.fetched(m, [uid["good-6"], uid["good-9"]])
        self.assertEqual(typ, "OK")
        self.assertEqual(sorted(got), ["good-6", "good-9"])
        self.assertEqual(len(self.batches()), 2)

    def test_a_body_that_never_comes_is_cut_and_the_next_is_fetched_alone(self):
        ids = ["good-10", "hang-11", "good-12"]
        self.notify(ids)
        self.carol.wait_for_messages(len(ids))
        uid = {m["message_id"]: m["uid"] for m in self.carol.list()}
        typ, got = self.fetched(self.imap(), [uid[i] for i in ids])
        self.assertEqual(typ, "NO")  # hang-11 is UNAVAILABLE (too_slow or deadline)
        self.assertEqual(sorted(got), ["good-10"])
        wait_until(lambda: self.cached()["good-12"], 30, what="good-12 to be fetched alone")
        self.assertEqual(self.batches(), ["BATCH good-10 hang-11 good-12"])
        self.assertEqual(self.alone(), ["good-12"])
        self.assertEqual(self.cached(), {"good-10": True, "hang-11": False, "good-12": True})
        self.assertEqual(self.c.recipient.counter('pullmail_fetches_total{result="ok"}'), 2)

    def test_an_older_node_without_fetchbodies_is_asked_one_body_at_a_time(self):
        ids = ["good-13", "good-14", "good-15", "good-16"]
        self.notify(ids)
        self.carol.wait_for_messages(len(ids))
        uid = {m["message_id"]: m["uid"] for m in self.carol.list()}
        m = self.imap()
        typ, got = self.fetched(m, [uid[i] for i in ids[:2]])
        self.assertEqual((typ, sorted(got)), ("OK", ["good-13", "good-14"]))
        self.assertEqual(self.alone(), ["good-13", "good-14"])
        # Remembered: the next set is not offered as a batch at all.
        typ, got = self.fetched(m, [uid[i] for i in ids[2:]])
        self.assertEqual((typ, sorted(got)), ("OK", ["good-15", "good-16"]))
        self.assertEqual([l for l in self.rogue.lines if l.startswith("UNIMPLEMENTED")],
                         ["UNIMPLEMENTED good-13 good-14"])
        self.assertEqual(self.alone(), ids)


if __name__ == "__main__":
    run_tests(globals())
