#!/usr/bin/env python3
"""The directory in DNS, end to end: real nodes that find each other only
through a real authoritative DNS server (Knot, started by the test on a free
loopback port) serving what `pullmail dns-records` prints.

Covers: a two-domain federation over DNS alone; key rotation (the new key
signs, the old one keeps verifying what it signed); revocation (a key taken
out of DNS stops verifying, also for notifications still queued: unknown_key);
TTL expiry (a changed record is seen without a restart); a DNS server that
does not answer (directory_unavailable, retried, then delivered).

Run one:  python3 tests/e2e/test_dns.py --bin-dir build Dns.test_rotation_new_key_signs_old_key_still_verifies
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dns_server import Blackhole, KnotServer  # noqa: E402
from world import DNS_TTL, World, WorldTestCase, free_port, run_tests, wait_until  # noqa: E402

BIN_DIR = os.environ.get("PULLMAIL_BIN_DIR", "build")

RETRY_FAST = """[sender.retry]
initial_seconds = 0.1
multiplier = 2.0
max_seconds = 1
jitter = 0.1
"""

REJECTED = 'pullmail_notifications_rejected_total{reason="%s"}'


class Dns(WorldTestCase):
    def setUp(self):
        super().setUp()
        # This suite always runs on DNS, whatever PULLMAIL_E2E_DIRECTORY says.
        self.world.close()
        bin_dir = getattr(sys.modules[type(self).__module__], "BIN_DIR", "build")
        self.world = World(bin_dir, self._testMethodName, dns=True)

    def two_domains(self, start=True, retry_fast=True):
        a = self.world.init("a.example")
        b = self.world.init("b.example")
        ann = a.add_user("ann")
        bob = b.add_user("bob")
        if retry_fast:
            a.append_config(RETRY_FAST)
        if start:
            a.start()
            b.start()
        return a, b, ann, bob

    def delivery_state(self, user, message_id, domain):
        for s in user.sent():
            if s["message_id"] == message_id:
                for d in s["deliveries"]:
                    if d["domain"] == domain:
                        return d["state"]
        return None

    def served_keys(self, domain):
        """The key ids the DNS server lists in _pullmail.DOMAIN's k= tag."""
        rcode, texts = self.world.dns.txt(f"_pullmail.{domain}")
        self.assertEqual(rcode, 0)
        self.assertEqual(len(texts), 1, texts)
        tags = dict(t.strip().split("=", 1) for t in texts[0].split(";") if t.strip())
        return tags.get("k", "").split(",")

    # ------------------------------------------------------------------

    def test_federation_resolves_only_through_dns(self):
        a, b, ann, bob = self.two_domains(start=False)
        # No directory file anywhere: the nodes have only DNS.
        os.remove(os.path.join(self.world.root, "directory.toml"))
        for d in (a, b):
            with open(d.config) as f:
                text = f.read()
            self.assertNotIn("directory =", text)
            self.assertIn("[dns]", text)
        # What the server answers is what `pullmail dns-records` printed.
        records = a.dns_records()
        self.assertIn("_pullmail.a.example.", records)
        self.assertIn("k1._pmkey.a.example.", records)
        rcode, texts = self.world.dns.txt("_pullmail.a.example")
        self.assertEqual(rcode, 0)
        self.assertEqual(texts, [f"v=pm1; r={a.info['recipient_listen']}; "
                                 f"s={a.info['sender_listen']}; k=k1"])
        rcode, texts = self.world.dns.txt("k1._pmkey.a.example")
        self.assertEqual(texts, [f"v=pm1; k=ed25519; p={a.info['public_key']}"])
        a.start()
        b.start()
        sent = ann.send(bob.address, "Over DNS", "found through _pullmail.b.example\n")
        m = bob.wait_for_subject("Over DNS")[0]
        self.assertEqual(m["message_id"], sent["message_id"])
        # Reading fetches the body from a.example's sender node, found in DNS.
        self.assertIn("found through _pullmail.b.example", bob.read(m["uid"]).stdout)
        bob.send(ann.address, "Back over DNS", "and the other way\n")
        ann.wait_for_subject("Back over DNS")

    def test_rotation_new_key_signs_old_key_still_verifies(self):
        a, b, ann, bob = self.two_domains()
        b.recipient.stop()
        # Queued while b.example is down: signed with k1, sent as-is later.
        queued = ann.send(bob.address, "Signed with k1", "queued before the rotation\n")

        rotated = self.world.pullmail("key", "rotate", "--config", a.config, "--json").json()
        self.assertEqual(rotated["key_id"], "k2")
        self.assertEqual(rotated["previous_key_id"], "k1")
        keys = {k["key_id"]: k["state"] for k in
                self.world.pullmail("key", "list", "--config", a.config, "--json").json()}
        self.assertEqual(keys, {"k2": "signing", "k1": "published"})
        a.publish()
        self.assertEqual(self.served_keys("a.example"), ["k2", "k1"])
        rcode, texts = self.world.dns.txt("k2._pmkey.a.example")
        self.assertEqual(texts, [f"v=pm1; k=ed25519; p={rotated['public_key']}"])
        # The nodes sign with the newest key after a restart.
        a.sender.stop()
        a.recipient.stop()
        a.start()
        b.recipient.start()
        fresh = ann.send(bob.address, "Signed with k2", "after the rotation\n")
        bob.wait_for_subject("Signed with k1")
        bob.wait_for_subject("Signed with k2")
        self.assertEqual(b.recipient.counter(REJECTED % "unknown_key"), 0)

        # Withdraw k1: what a.example signs now still verifies, so it is
        # signed with k2 (the only key left in DNS).
        self.world.pullmail("key", "revoke", "k1", "--config", a.config)
        a.publish()
        self.assertEqual(self.served_keys("a.example"), ["k2"])
        rcode, _ = self.world.dns.txt("k1._pmkey.a.example")
        self.assertEqual(rcode, 3)  # NXDOMAIN
        later = ann.send(bob.address, "Still k2", "after k1 is gone\n")
        bob.wait_for_subject("Still k2", timeout=30)
        wait_until(lambda: self.delivery_state(ann, later["message_id"], "b.example") == "delivered",
                   30, interval=0.2, what="the k2 notification delivered")
        for m in (queued, fresh):
            self.assertEqual(self.delivery_state(ann, m["message_id"], "b.example"), "delivered")

    def test_revoked_key_rejects_queued_notifications_unknown_key(self):
        a, b, ann, bob = self.two_domains()
        b.recipient.stop()
        queued = ann.send(bob.address, "Signed with a stolen key", "queued, signed with k1\n")
        # k1 is compromised: rotate, then withdraw it at once.
        self.world.pullmail("key", "rotate", "--config", a.config)
        self.world.pullmail("key", "revoke", "k1", "--config", a.config)
        a.publish()
        self.assertEqual(self.served_keys("a.example"), ["k2"])
        # a.example's sender keeps running: its queue still holds the k1
        # notification, which it sends as signed when b.example comes back.
        b.recipient.start()
        wait_until(lambda: b.recipient.counter(REJECTED % "unknown_key") >= 1, 60, interval=0.2,
                   what="b.example to reject the k1 notification with unknown_key")
        # A permanent rejection: the sender bounces it instead of retrying.
        wait_until(lambda: self.delivery_state(ann, queued["message_id"], "b.example") == "bounced",
                   60, interval=0.2, what="the k1 notification bounced")
        self.assertEqual([m for m in bob.list() if m["message_id"] == queued["message_id"]], [])

    def test_changed_record_is_seen_when_its_ttl_expires(self):
        a, b, ann, bob = self.two_domains()
        ann.send(bob.address, "Before the move", "to the old endpoint\n")
        bob.wait_for_subject("Before the move")
        # b.example's recipient node moves to another port; only DNS says so.
        old = b.info["recipient_listen"]
        new = f"127.0.0.1:{free_port()}"
        b.recipient.stop()
        b.edit_config(f'listen = "{old}"', f'listen = "{new}"')
        b.info["recipient_listen"] = new
        b.recipient.start()
        b.publish()
        rcode, texts = self.world.dns.txt("_pullmail.b.example")
        self.assertIn(f"r={new};", texts[0])
        # a.example's nodes were not restarted: once the cached answer's TTL
        # (DNS_TTL seconds) has passed they resolve b.example again.
        sent = ann.send(bob.address, "After the move", "to the new endpoint\n")
        bob.wait_for_subject("After the move", timeout=60)
        self.assertEqual(self.delivery_state(ann, sent["message_id"], "b.example"), "delivered")

    def test_dns_server_not_answering_is_directory_unavailable_then_retry_succeeds(self):
        dead_port = free_port()
        hole = Blackhole(dead_port)
        self.addCleanup(hole.close)
        a = self.world.init("a.example")
        b = self.world.init("b.example")
        ann = a.add_user("ann")
        bob = b.add_user("bob")
        a.append_config(RETRY_FAST)
        # b.example's nodes ask a server that never answers.
        self.world.use_dns_directory(b, servers=f"127.0.0.1:{dead_port}", timeout_ms=500)
        a.start()
        b.start()  # starts although it cannot check its own key in DNS
        sent = ann.send(bob.address, "While DNS is down", "b.example cannot look up a.example\n")
        wait_until(lambda: b.recipient.counter(REJECTED % "directory_unavailable") >= 2, 60,
                   interval=0.2, what="b.example to refuse with directory_unavailable (and a retry)")
        # Retryable, never a verdict: not bounced, not accepted, not unknown.
        self.assertEqual(self.delivery_state(ann, sent["message_id"], "b.example"), "queued")
        self.assertEqual(bob.list(), [])
        self.assertEqual(b.recipient.counter(REJECTED % "unknown_domain"), 0)
        self.assertEqual(b.recipient.counter(REJECTED % "unknown_key"), 0)
        # The server comes back (a second Knot with the same zone, on that port).
        hole.close()
        second = KnotServer(os.path.join(self.world.root, "dns2"), dead_port)
        second.records = dict(self.world.dns.records)
        self.addCleanup(second.stop)
        second.start()
        bob.wait_for_subject("While DNS is down", timeout=60)
        wait_until(lambda: self.delivery_state(ann, sent["message_id"], "b.example") == "delivered",
                   30, interval=0.2, what="the notification delivered after the retry")


if __name__ == "__main__":
    run_tests(globals())
