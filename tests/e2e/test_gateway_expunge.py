#!/usr/bin/env python3
"""End to end: EXPUNGEd mail gives its space back (core/logic/body_retention.h).

A real federation (world.py) with b.example's gateway; clients speak IMAP
over STARTTLS with Python's imaplib. What the recipient node keeps is read
from its SQLite database (read-only, WAL: safe while it runs): the cached
bodies (cached_bodies, cached_body_chunks) and the notification rows. The
node's maintenance pass (every few seconds) frees what no entry needs; the
tests wait for it with a bounded wait, never a sleep of a guessed length.

Run one:  python3 tests/e2e/test_gateway_expunge.py --bin-dir build \
              GatewayExpunge.test_appended_then_expunged_mail_gives_its_space_back
ctest registers each test method as e2e_gateway_expunge_<name>.
"""

import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import run_tests, wait_until  # noqa: E402
import test_gateway_imap as gi  # noqa: E402  (GatewayCase: its tests stay there)

BIN_DIR = os.environ.get("PULLMAIL_BIN_DIR", "build")

SERVED = "pullmail_body_bytes_served_total"
FETCHED = "pullmail_body_bytes_fetched_total"
EXAMINED = "pullmail_release_rows_examined_total"
BYTES_DROPPED = "pullmail_release_body_bytes_dropped_total"
PASS_WAIT = 60  # seconds: the maintenance pass runs every 2 s


def query(domain, sql, *params):
    """One read-only query on the domain's recipient database."""
    # `pullmail init` writes data_dir = "data" beside node.toml.
    path = os.path.join(os.path.dirname(domain.config), "data", "recipient.db")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def held(domain):
    """(cached bodies, their bytes in chunk rows, notification rows)."""
    [(bodies,)] = query(domain, "SELECT COUNT(*) FROM cached_bodies")
    [(chunk_bytes,)] = query(domain, "SELECT COALESCE(SUM(length(data)), 0) FROM cached_body_chunks")
    [(rows,)] = query(domain, "SELECT COUNT(*) FROM notifications")
    return bodies, chunk_bytes, rows


class GatewayExpunge(gi.GatewayCase):
    B_USERS = ("carol",)

    def login(self, user):
        return self.tls_login(user)

    def ok(self, result):
        typ, data = result
        self.assertEqual(typ, "OK", data)
        return data

    def expunge_all(self, m, folder="INBOX"):
        self.ok(m.select(folder))
        self.ok(m.store("1:*", "+FLAGS", r"(\Deleted)"))
        self.ok(m.expunge())

    def message(self, i, size):
        line = f"line {i:05d} of a message stored and then expunged\r\n"
        body = line * (size // len(line) + 1)
        return (f"From: Bob <{self.bob.address}>\r\nTo: {self.ann.address}\r\n"
                f"Subject: draft {i}\r\nDate: Thu, 07 Mar 2024 08:15:02 +0000\r\n"
                f"Message-ID: <draft.{i}@b.example>\r\n\r\n{body}").encode()

    # ---------------------------------------------------------------- tests

    def test_appended_then_expunged_mail_gives_its_space_back(self):
        before = held(self.b)
        count, size = 40, 64 * 1024
        m = self.login(self.bob)
        self.ok(m.create("Drafts"))
        for i in range(count):
            self.ok(m.append("Drafts", None, None, self.message(i, size)))
        bodies, chunk_bytes, rows = held(self.b)
        self.assertEqual(bodies, before[0] + count)
        self.assertGreaterEqual(chunk_bytes, before[1] + count * size)
        self.assertEqual(rows, before[2] + count)

        self.expunge_all(m, "Drafts")
        # The next pass frees every body and every row but the newest (SQLite
        # would give its id out again; it goes once a newer row exists).
        wait_until(lambda: held(self.b)[:2] == before[:2], PASS_WAIT,
                   what=f"b.example's cached bodies back to {before[:2]} (now {held(self.b)})")
        self.assertLessEqual(held(self.b)[2], before[2] + 1)
        self.assertGreaterEqual(self.b.recipient.counter(BYTES_DROPPED), count * size)
        # One more message, kept: now every expunged row is gone as well.
        kept = self.message(count, 100)
        self.ok(m.append("Drafts", None, None, kept))
        wait_until(lambda: held(self.b)[0::2] == (before[0] + 1, before[2] + 1), PASS_WAIT,
                   what=f"one body and one row left (now {held(self.b)})")
        # The kept copy reads back exactly.
        self.ok(m.select("Drafts"))
        data = self.ok(m.fetch("1", "(BODY.PEEK[])"))
        self.assertEqual(data[0][1], kept)

    def test_a_shared_body_expunged_by_one_user_stays_for_the_other(self):
        # The same bytes sent twice from a.example, once to bob and once to
        # carol: two notifications, one cached body at b.example (the key is
        # the hash and the signing domain).
        path = os.path.join(self.world.root, "shared.eml")
        text = ("From: Ann <ann@a.example>\r\nTo: list@b.example\r\nSubject: shared\r\n"
                "Message-ID: <shared@a.example>\r\n\r\n" + "the same bytes for both\r\n" * 2000)
        with open(path, "w", newline="") as f:
            f.write(text)
        self.ann.run("send", "--json", "--file", path, "--to", self.bob.address)
        self.ann.run("send", "--json", "--file", path, "--to", self.carol.address)
        [to_bob] = self.bob.wait_for_messages(1)
        [to_carol] = self.carol.wait_for_messages(1)
        self.assertEqual(to_bob["body_sha256"], to_carol["body_sha256"])
        self.assertNotEqual(to_bob["message_id"], to_carol["message_id"])
        before = held(self.b)

        bob = self.login(self.bob)
        self.ok(bob.select("INBOX"))
        bob_bytes = self.ok(bob.fetch("1", "(BODY[])"))[0][1]
        fetched = self.b.recipient.counter(FETCHED)
        self.assertEqual(fetched, int(to_bob["sent_size"]))
        self.assertEqual(held(self.b)[0], before[0] + 1)

        # Bob expunges his copy; wait for a pass to have looked at its row.
        examined = self.b.recipient.counter(EXAMINED)
        self.expunge_all(bob)
        wait_until(lambda: self.b.recipient.counter(EXAMINED) > examined, PASS_WAIT,
                   what="a release pass over bob's expunged row")
        self.assertEqual(held(self.b)[0], before[0] + 1)  # the body stayed

        # Carol reads the same bytes from the cache: nothing fetched again.
        carol = self.login(self.carol)
        self.ok(carol.select("INBOX"))
        carol_bytes = self.ok(carol.fetch("1", "(BODY[])"))[0][1]
        self.assertEqual(carol_bytes, bob_bytes)
        self.assertEqual(self.b.recipient.counter(FETCHED), fetched)

        # Carol expunges hers: the body goes. The rows stay until their
        # expiry (a re-delivery must stay a duplicate).
        self.expunge_all(carol)
        wait_until(lambda: held(self.b)[0] == before[0], PASS_WAIT,
                   what=f"the shared body freed (now {held(self.b)})")
        self.assertEqual(held(self.b)[2], before[2])
        [(left,)] = query(self.b, "SELECT COUNT(*) FROM notifications WHERE message_id IN (?, ?)",
                          to_bob["message_id"], to_carol["message_id"])
        self.assertEqual(left, 2)


if __name__ == "__main__":
    run_tests(globals())
