#!/usr/bin/env python3
"""End-to-end tests of spam suppression, peer reports and revocation.

Real node processes on loopback (world.py), driven by the real `pullmail`
command, checked through the nodes' /metrics and, where a node exposes a
fact nowhere else, by reading its SQLite database read-only:

- ten users at one domain get one spam message; two early readers report
  it and the unread copies go to Junk without another body byte moving;
  the sender's node counts the abuse reports against the submitting user;
- a trusted peer's signed report counts at another domain, while an
  untrusted peer's, a forged one and a replayed one do not;
- a revoked message disappears from the inboxes of those who had not read
  it, stays with its reader, and its fetch is refused as `revoked`.

Run one:   python3 tests/e2e/test_spam.py --bin-dir build Spam.test_revoked_message_hidden_and_fetch_refused
ctest registers each test method separately (tests/e2e/CMakeLists.txt).
Set PULLMAIL_E2E_KEEP=1 to keep a failed test's folder and logs.
"""

import base64
import os
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import WorldTestCase, run_tests, wait_until  # noqa: E402

BIN_DIR = os.environ.get("PULLMAIL_BIN_DIR", "build")

SERVED = "pullmail_body_bytes_served_total"
FETCHED = "pullmail_body_bytes_fetched_total"
SUPPRESSED = "pullmail_copies_suppressed_total"
ABUSE_SPAM = 'pullmail_abuse_reports_total{verdict="spam"}'
PEER_ACCEPTED = "pullmail_peer_reports_accepted_total"


def rejected(reason):
    return f'pullmail_peer_reports_rejected_total{{reason="{reason}"}}'


def data_dir(domain):
    # `pullmail init` writes data_dir = "data" beside node.toml.
    return os.path.join(os.path.dirname(domain.config), "data")


def query(domain, db, sql, *params):
    """One read-only query on a node's SQLite database (WAL: safe while it runs)."""
    path = os.path.join(data_dir(domain), db)
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def sha256_hex(message_info):
    # proto3 JSON carries bytes as base64.
    return base64.b64decode(message_info["body_sha256"]).hex()


class Spam(WorldTestCase):

    # -- helpers ---------------------------------------------------------

    def with_message(self, messages, message_id):
        return [m for m in messages if m["message_id"] == message_id]

    def copy_of(self, user, message_id, folder="INBOX", junk=False):
        found = self.with_message(user.list(folder, junk=junk), message_id)
        self.assertEqual(len(found), 1, f"{user.address}: expected one copy of {message_id} in "
                                        f"{'Junk' if junk else folder}, got {found}")
        return found[0]

    def assert_not_listed(self, user, message_id, folder="INBOX", junk=False):
        self.assertEqual(self.with_message(user.list(folder, junk=junk), message_id), [],
                         f"{user.address} still lists {message_id} in {'Junk' if junk else folder}")

    def wait_for_message(self, user, message_id, timeout=30):
        return wait_until(lambda: (self.with_message(user.list(), message_id) or [None])[0],
                          timeout, what=f"{message_id} in {user.address}'s INBOX")

    def share_report(self, reporter, to, m, *extra):
        """`pullmail debug share-report` as domain `reporter` to domain `to`'s node."""
        return self.world.pullmail(
            "debug", "share-report", "--config", reporter.config, "--to-domain", to.name,
            "--message-id", m["message_id"], "--message-signing-domain", m["signing_domain"],
            "--body-sha256-hex", sha256_hex(m), *extra, check=False)

    # ------------------------------------------------------------------

    def test_abuse_report_only_from_a_notified_domain(self):
        """ReportAbuse counts against the submitter only when the reporter got the mail."""
        a = self.world.init("a.example")
        b = self.world.init("b.example")
        c = self.world.init("c.example")
        ann = a.add_user("ann")
        bob = b.add_user("bob")
        for d in (a, b, c):
            d.start()
        sent = ann.send([bob.address], "Offer", "Buy now.\n")
        m = self.wait_for_message(bob, sent["message_id"])
        # c.example was never notified of this message: refused, not counted.
        r = self.share_report(c, a, m, "--as-abuse")
        self.assertEqual(r.returncode, 2, r)
        res = r.json_lines()[0]
        self.assertEqual(res["code_name"], "PERMISSION_DENIED", res)
        self.assertIn("not_a_recipient", res["message"])
        self.assertEqual(
            a.sender.counter('pullmail_abuse_reports_rejected_total{reason="not_a_recipient"}'), 1)
        self.assertEqual(a.sender.counter('pullmail_abuse_reports_total{verdict="spam"}'), 0)
        # b.example was: counted.
        r = self.share_report(b, a, m, "--as-abuse")
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(a.sender.counter('pullmail_abuse_reports_total{verdict="spam"}'), 1)

    def test_ten_users_early_reports_suppress_the_rest(self):
        """Two reports (k=2) put the unread copies in Junk; one body fetch for the whole node."""
        a = self.world.init("a.example")
        b = self.world.init("b.example")
        b.edit_config("spam_threshold_k = 3.0", "spam_threshold_k = 2.0")
        spammer = a.add_user("spammer")
        users = [b.add_user(f"user{i}") for i in range(10)]
        a.start()
        b.start()

        body = "Cheap watches! Best prices! Click here: http://watches.invalid/\n" * 64
        sent = spammer.send([u.address for u in users], "Cheap watches", body)
        self.assertEqual([(q["domain"], q["recipients"]) for q in sent["queued"]],
                         [("b.example", 10)])
        mid = sent["message_id"]
        copies = {u.address: self.wait_for_message(u, mid) for u in users}
        size = int(sent["body_size"])
        for c in copies.values():
            self.assertEqual(c["state"], "shown")
            self.assertEqual(int(c["sent_size"]), size)
            self.assertFalse(c["body_cached"])
        self.assertEqual(b.recipient.counter(FETCHED), 0, "a listing moved a body")
        self.assertEqual(a.sender.counter(SERVED), 0)

        first, second, keeper = users[0], users[1], users[2]
        unread = users[3:]

        # The first reader pulls the body; every later read is b.example's cache.
        r = first.read_json(copies[first.address]["uid"])
        self.assertFalse(r["from_cache"])
        # What a read serves: the node's Authentication-Results: field, then
        # the message as sent.
        self.assertEqual(r["bytes"], int(copies[first.address]["body_size"]))
        self.assertGreater(r["bytes"], size)
        self.assertIn("Cheap watches!", r["body"])
        self.assertEqual(b.recipient.counter(FETCHED), size)
        self.assertTrue(keeper.read_json(copies[keeper.address]["uid"])["from_cache"])
        self.assertEqual(b.recipient.counter(FETCHED), size, "the cache is per node")

        one = first.run("report", copies[first.address]["uid"], "spam", "--json").json()
        self.assertEqual(one.get("suppressed", 0), 0, f"one report is below k=2: {one}")
        self.assertIn("below the threshold", one["explanation"])
        for u in unread:
            self.assertEqual(self.copy_of(u, mid)["state"], "shown",
                             f"{u.address}'s copy left the inbox after one report")

        self.assertTrue(second.read_json(copies[second.address]["uid"])["from_cache"])
        fetched_before = b.recipient.counter(FETCHED)
        two = second.run("report", copies[second.address]["uid"], "spam", "--json").json()
        self.assertEqual(two["suppressed"], len(unread), two)
        self.assertIn("threshold reached", two["explanation"])

        for u in unread:
            self.assert_not_listed(u, mid)
            j = self.copy_of(u, mid, junk=True)
            self.assertEqual(j["state"], "suppressed")
            self.assertNotIn("\\Seen", j["flags"])
            # The reason names the rule and the counts behind it.
            self.assertTrue(j["reason"].startswith("body_hash_threshold:"), j["reason"])
            self.assertIn("2 net spam reports on this body", j["reason"])
            self.assertIn("threshold 2", j["reason"])
        text = unread[0].run("list", "--junk").stdout
        self.assertIn("Cheap watches", text)
        self.assertIn("body_hash_threshold", text)

        # The reporters' own copies went to Junk by their own verdict; a
        # reader who did not report keeps the message.
        for u in (first, second):
            self.assert_not_listed(u, mid)
            self.assertIn("you reported it as spam", self.copy_of(u, mid, junk=True)["reason"])
        kept = self.copy_of(keeper, mid)
        self.assertEqual(kept["state"], "shown")
        self.assertIn("\\Seen", kept["flags"])
        self.assert_not_listed(keeper, mid, junk=True)

        # No body moved for the suppression; one fetch served all three readers.
        self.assertEqual(b.recipient.counter(FETCHED), fetched_before)
        self.assertEqual(b.recipient.counter(FETCHED), size)
        self.assertEqual(a.sender.counter(SERVED), size)
        self.assertEqual(a.sender.counter('pullmail_fetch_requests_total{result="ok"}'), 1)
        self.assertEqual(b.recipient.counter(SUPPRESSED), len(unread))
        self.assertEqual(b.recipient.counter('pullmail_reports_total{verdict="spam"}'), 2)

        # Each report went to a.example's sender node as an abuse report,
        # counted against the user who submitted the message.
        wait_until(lambda: a.sender.counter(ABUSE_SPAM) == 2, 20,
                   what="a.example's sender node to count 2 abuse reports")
        # b.example counts a sent report once a.example's answer is back.
        wait_until(lambda: b.recipient.counter(
            'pullmail_abuse_reports_sent_total{result="ok"}') == 2, 10,
            what="b.example to count 2 abuse reports sent")
        per_sender = dict(query(a, "sender.db",
                                "SELECT sender, COUNT(*) FROM abuse_reports WHERE verdict = 1 "
                                "GROUP BY sender"))
        self.assertEqual(per_sender, {"spammer@a.example": 2})

    def test_report_committed_then_kill9_still_counts_after_restart(self):
        """A report's record and its policy count commit together: a node
        killed (SIGKILL) right after that commit, before anything else, counts
        the report after its restart, so the next report reaches k=2 exactly
        as without the crash. (Before, the count went to policy.state after
        the record: a crash in between lost it for good, and the reporter
        could not report again, "counted once".)"""
        a = self.world.init("a.example")
        b = self.world.init("b.example")
        b.edit_config("spam_threshold_k = 3.0", "spam_threshold_k = 2.0")
        spammer = a.add_user("spammer")
        users = [b.add_user(f"user{i}") for i in range(4)]
        a.start()
        b.start()
        sent = spammer.send([u.address for u in users], "Crash sale",
                            "Everything must go: http://crash.invalid/\n" * 20)
        mid = sent["message_id"]
        copies = {u.address: self.wait_for_message(u, mid) for u in users}
        first, second, unread = users[0], users[1], users[2:]

        # The first report: the node dies at the crash point, right after the
        # report's transaction commits (recipient-node/crash_point.h).
        b.recipient.stop()
        b.recipient.start(env={"PULLMAIL_CRASH_POINT": "report_committed"})
        r = first.run("report", copies[first.address]["uid"], "spam", "--json", check=False)
        self.assertNotEqual(r.returncode, 0, f"the node answered instead of dying: {r}")
        self.assertEqual(b.recipient.proc.wait(timeout=30), -9,
                         "the recipient node did not die by SIGKILL at the crash point")
        self.assertIn("PULLMAIL_CRASH_POINT=report_committed reached", b.recipient.log_tail(40))
        self.assertEqual(query(b, "recipient.db", "SELECT COUNT(*) FROM user_reports"), [(1,)],
                         "the report's record was committed before the kill")

        b.recipient.start()
        # The record survived: reporting again counts nothing more ...
        again = first.run("report", copies[first.address]["uid"], "spam", "--json").json()
        self.assertIn("already reported", again["explanation"])
        self.assertEqual(again.get("suppressed", 0), 0, again)
        for u in unread:
            self.assertEqual(self.copy_of(u, mid)["state"], "shown")
        # ... and the count survived with it: the second reader's report is
        # the second on this body, which reaches k=2.
        two = second.run("report", copies[second.address]["uid"], "spam", "--json").json()
        self.assertIn("2 net spam reports on this body", two["explanation"])
        self.assertIn("threshold reached", two["explanation"])
        self.assertEqual(two["suppressed"], len(unread), two)
        for u in unread:
            self.assert_not_listed(u, mid)
            self.assertEqual(self.copy_of(u, mid, junk=True)["state"], "suppressed")
        # The reporter whose answer the crash ate got their copy moved when
        # they reported again.
        self.assert_not_listed(first, mid)
        self.assertIn("you reported it as spam", self.copy_of(first, mid, junk=True)["reason"])

    def test_suppressing_report_then_kill9_moves_unread_copies_after_restart(self):
        """A report that reaches the threshold commits, and the node is
        killed (SIGKILL) before it moves the unread copies to Junk. After the
        restart the maintenance pass finds shown, unread copies of a body the
        policy holds suppressed and moves them (core's
        SuppressionRepairMoves); before, they stayed in their INBOXes for good."""
        a = self.world.init("a.example")
        b = self.world.init("b.example")
        b.edit_config("spam_threshold_k = 3.0", "spam_threshold_k = 1.0")
        spammer = a.add_user("spammer")
        users = [b.add_user(f"user{i}") for i in range(3)]
        a.start()
        b.start()
        sent = spammer.send([u.address for u in users], "Crash sale two",
                            "Nothing must stay: http://crash.invalid/\n" * 20)
        mid = sent["message_id"]
        copies = {u.address: self.wait_for_message(u, mid) for u in users}
        reporter, unread = users[0], users[1:]

        b.recipient.stop()
        b.recipient.start(env={"PULLMAIL_CRASH_POINT": "report_committed"})
        r = reporter.run("report", copies[reporter.address]["uid"], "spam", "--json", check=False)
        self.assertNotEqual(r.returncode, 0, f"the node answered instead of dying: {r}")
        self.assertEqual(b.recipient.proc.wait(timeout=30), -9,
                         "the recipient node did not die by SIGKILL at the crash point")
        self.assertIn("PULLMAIL_CRASH_POINT=report_committed reached", b.recipient.log_tail(40))

        b.recipient.start()
        for u in unread:
            wait_until(lambda u=u: not self.with_message(u.list(), mid), 30,
                       what=f"{u.address}'s unread copy to leave INBOX after the restart")
            moved = self.copy_of(u, mid, junk=True)
            self.assertEqual(moved["state"], "suppressed")
            self.assertIn("body_hash_threshold", moved["reason"])

    def test_policy_state_file_of_an_older_node_is_imported_once(self):
        """A node upgraded from the version that kept the policy's counts in
        data_dir/policy.state imports that file into its store at the first
        start (then renames it policy.state.migrated): the counts it held
        still count."""
        a = self.world.init("a.example")
        b = self.world.init("b.example")
        b.edit_config("spam_threshold_k = 3.0", "spam_threshold_k = 2.0")
        spammer = a.add_user("spammer")
        users = [b.add_user(f"user{i}") for i in range(3)]
        a.start()
        b.start()
        sent = spammer.send([u.address for u in users], "Old count",
                            "Counted before the upgrade: http://old.invalid/\n" * 20)
        mid = sent["message_id"]
        copies = {u.address: self.wait_for_message(u, mid) for u in users}
        body = sha256_hex(copies[users[0].address])

        # What the older node wrote after one spam report on this body.
        b.recipient.stop()
        old = os.path.join(data_dir(b), "policy.state")
        with open(old, "w") as f:
            f.write(f"B {body} 1 0 1 0 0 {int(time.time() * 1000)}\n")
        b.recipient.start()
        self.assertFalse(os.path.exists(old), "policy.state is still there")
        self.assertTrue(os.path.exists(old + ".migrated"))
        self.assertIn("imported into the store", b.recipient.log_tail(40))

        two = users[0].run("report", copies[users[0].address]["uid"], "spam", "--json").json()
        self.assertIn("2 net spam reports on this body", two["explanation"])
        self.assertEqual(two["suppressed"], 2, two)

        # Imported once: a policy.state that turns up again is not merged
        # into the store's counts (which are the truth now).
        b.recipient.stop()
        with open(old, "w") as f:
            f.write(f"B {body} 0 50 0 50 0 {int(time.time() * 1000)}\n")
        b.recipient.start()
        self.assertIn("not imported", b.recipient.log_tail(40))
        junked = self.copy_of(users[1], mid, junk=True)
        three = users[1].run("report", junked["uid"], "spam", "--folder", "Junk", "--json").json()
        self.assertIn("3 net spam reports on this body", three["explanation"])

    def test_trusted_peer_report_counts_untrusted_forged_and_replayed_do_not(self):
        """c.example trusts b.example (weight 2, k=2) and e.example (weight 1), not d.example."""
        a = self.world.init("a.example")
        b = self.world.init("b.example")
        c = self.world.init("c.example")
        d = self.world.init("d.example")  # in the directory, not a trusted peer of c
        e = self.world.init("e.example")  # a trusted peer of c with weight 1
        c.edit_config("spam_threshold_k = 3.0", "spam_threshold_k = 2.0")
        c.append_config('[recipient.policy.peer_weights]\n"b.example" = 2.0\n"e.example" = 1.0')
        # A node shares its users' reports with the peers it lists.
        b.append_config('[recipient.policy.peer_weights]\n"c.example" = 1.0')
        spammer = a.add_user("spammer")
        bea, bo = b.add_user("bea"), b.add_user("bo")
        cs = [c.add_user(n) for n in ("cy", "cal", "cam")]
        for dom in (a, b, c):  # d.example and e.example need no running node
            dom.start()

        body = "Your parcel is waiting. Pay the customs fee at http://parcel.invalid/\n" * 40
        sent = spammer.send([bea.address, bo.address] + [u.address for u in cs], "Parcel", body)
        mid = sent["message_id"]
        size = int(sent["body_size"])
        m = self.wait_for_message(bea, mid)
        for u in cs:
            self.wait_for_message(u, mid)
        self.wait_for_message(bo, mid)

        def c_still_shows(why):
            for u in cs:
                self.assertEqual(self.copy_of(u, mid)["state"], "shown", f"after {why}")
            self.assertEqual(c.recipient.counter(SUPPRESSED), 0, f"after {why}")

        # Replay: e.example's report (weight 1 < k) sent twice counts once;
        # counted twice it would reach k=2.
        r = self.share_report(e, c, m, "--times", "2")
        self.assertEqual(r.returncode, 2, r)
        first, again = r.json_lines()
        self.assertEqual(first["code_name"], "OK", first)
        self.assertIn("from peer e.example", first["reason"])
        self.assertIn("below the threshold", first["reason"])
        self.assertEqual(again["code_name"], "ALREADY_EXISTS", again)
        self.assertIn("replay", again["message"])
        self.assertEqual(c.recipient.counter(PEER_ACCEPTED), 1)
        self.assertEqual(c.recipient.counter(rejected("replay")), 1)
        c_still_shows("a replayed peer report")

        # Untrusted: d.example signs correctly, but c does not list it.
        r = self.share_report(d, c, m)
        self.assertEqual(r.returncode, 2, r)
        res = r.json_lines()[0]
        self.assertEqual(res["code_name"], "PERMISSION_DENIED", res)
        self.assertIn("untrusted_peer", res["message"])
        self.assertEqual(c.recipient.counter(rejected("untrusted_peer")), 1)
        c_still_shows("an untrusted peer's report")

        # Forged: claims to be b.example (weight 2, enough on its own) but is
        # signed with a key the directory does not list for it.
        r = self.share_report(b, c, m, "--random-key")
        self.assertEqual(r.returncode, 2, r)
        res = r.json_lines()[0]
        self.assertEqual(res["code_name"], "UNAUTHENTICATED", res)
        self.assertEqual(c.recipient.counter(rejected("bad_signature")), 1)
        r = self.share_report(b, c, m, "--random-key", "--key-id", "k9")
        self.assertEqual(r.returncode, 2, r)
        self.assertEqual(r.json_lines()[0]["code_name"], "UNAUTHENTICATED", r)
        self.assertEqual(c.recipient.counter(rejected("unknown_key")), 1)
        self.assertEqual(c.recipient.counter(PEER_ACCEPTED), 1)
        c_still_shows("forged peer reports")

        # The real thing: bea at b.example reads and reports; b.example signs
        # the report and shares it with c.example, where it counts 2.
        bea.read_json(m["uid"])
        out = bea.run("report", m["uid"], "spam", "--json").json()
        self.assertEqual(out.get("suppressed", 0), 0, "one report is below b.example's k=3")
        for u in cs:
            wait_until(lambda: not self.with_message(u.list(), mid), 20, interval=0.2,
                       what=f"b.example's shared report to take the spam out of {u.address}'s INBOX")
        for u in cs:
            j = self.copy_of(u, mid, junk=True)
            self.assertEqual(j["state"], "suppressed")
            self.assertTrue(j["reason"].startswith("body_hash_threshold:"), j["reason"])
            self.assertIn("from peer b.example", j["reason"])
            self.assertIn("3 net spam reports", j["reason"])  # e's 1 + b's 2; nothing else
        self.assertEqual(c.recipient.counter(PEER_ACCEPTED), 2)
        self.assertEqual(c.recipient.counter(SUPPRESSED), len(cs))
        # b.example counts the shared report once c.example's answer is back.
        wait_until(lambda: b.recipient.counter(
            'pullmail_peer_reports_sent_total{result="ok"}') == 1, 10,
            what="b.example to count its report to c.example as sent")
        # c.example never fetched the body; only bea's read moved it, once.
        self.assertEqual(c.recipient.counter(FETCHED), 0)
        self.assertEqual(a.sender.counter(SERVED), size)
        # At b.example one report is below its own k=3: bo still sees it.
        self.assertEqual(self.copy_of(bo, mid)["state"], "shown")

    def test_revoked_message_hidden_and_fetch_refused(self):
        a = self.world.init("a.example")
        b = self.world.init("b.example")
        ann = a.add_user("ann")
        bob, cy, dan = (b.add_user(n) for n in ("bob", "cy", "dan"))
        a.start()
        b.start()

        body = "The figures attached are the wrong ones; please ignore.\n" * 10
        sent = ann.send([bob.address, cy.address, dan.address], "Q3 figures", body)
        mid = sent["message_id"]
        size = int(sent["body_size"])
        copies = {u.address: self.wait_for_message(u, mid) for u in (bob, cy, dan)}

        first = bob.read_json(copies[bob.address]["uid"])
        self.assertFalse(first["from_cache"])
        wait_until(lambda: a.sender.counter(SERVED) == size, 10, what="bob's fetch to be served")

        # The token b.example holds for this message, as its node received it.
        [(token,)] = query(b, "recipient.db",
                           "SELECT fetch_token FROM notifications WHERE message_id = ?", mid)

        rev = ann.run("revoke", mid, "--reason", "wrong figures", "--json").json()
        self.assertEqual(rev["domains_notified"], 1, rev)
        self.assertTrue(rev["already_fetched"], rev)

        for u in (cy, dan):
            wait_until(lambda: not self.with_message(u.list(), mid), 10,
                       what=f"the revoked message to leave {u.address}'s INBOX")
            self.assert_not_listed(u, mid, junk=True)
            r = u.read(copies[u.address]["uid"], check=False)
            self.assertEqual(r.returncode, 2, r)
            self.assertIn("NOT_FOUND", r.stderr)
            self.assertEqual(r.stdout, "")
        self.assertEqual(b.recipient.counter("pullmail_revocations_total"), 1)
        # A hidden copy stays hidden: a report on its old UID finds nothing
        # (rather than moving it to Junk, where it would be listed again).
        r = cy.run("report", copies[cy.address]["uid"], "spam", check=False)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("NOT_FOUND", r.stderr)
        self.assert_not_listed(cy, mid, junk=True)
        self.assertEqual(b.recipient.counter('pullmail_reports_total{verdict="spam"}'), 0)

        # The reader keeps it, and it still reads (from b.example's cache).
        kept = self.copy_of(bob, mid)
        self.assertIn("\\Seen", kept["flags"])
        again = bob.read_json(kept["uid"])
        self.assertTrue(again["from_cache"])
        self.assertIn("wrong ones", again["body"])

        # The original token no longer fetches anything (PROTOCOL.md section 8:
        # a valid token on a revoked message is FAILED_PRECONDITION, revoked).
        r = self.world.pullmail("debug", "fetch", "--config", b.config, "--from-domain", "a.example",
                                "--message-id", mid, "--token-hex", token.hex(), check=False)
        self.assertEqual(r.returncode, 2, r)
        res = r.json()
        self.assertEqual(res["code_name"], "FAILED_PRECONDITION", res)
        self.assertIn("revoked", res["message"])
        self.assertEqual(res["bytes"], 0)
        self.assertEqual(a.sender.counter('pullmail_fetch_requests_total{result="revoked"}'), 1)
        self.assertEqual(a.sender.counter(SERVED), size)
        self.assertEqual(b.recipient.counter(FETCHED), size)

        [s] = [s for s in ann.sent() if s["message_id"] == mid]
        self.assertTrue(s["revoked"], s)
        self.assertEqual([d["state"] for d in s["deliveries"]], ["revoked"])


if __name__ == "__main__":
    run_tests(globals())
