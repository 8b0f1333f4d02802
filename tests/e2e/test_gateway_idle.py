#!/usr/bin/env python3
"""End-to-end tests of IMAP IDLE (RFC 2177) through pullmail-gateway, and of
the recipient node's MailboxService.Watch stream behind it.

A raw IMAP session idles on a folder while another session (imaplib) or the
`pullmail` CLI changes the mailbox; the idling client must see each change,
and the node's /metrics say which Watch events it sent
(pullmail_watch_events_total{kind=...}) and how many Watch streams were
opened (pullmail_watch_streams_opened_total):
  - a new message and two expunges reach the idling client, each sent as the
    event kind it is (an expunge after an earlier event is still "expunge");
  - a change to another folder sends the idling session no event at all;
  - after the recipient node restarts, the gateway opens the Watch stream
    again and the idling client sees the next message through it.

Run one:  python3 tests/e2e/test_gateway_idle.py --bin-dir build GatewayIdle.test_other_folder_wakes_nobody
ctest registers each test method as e2e_gateway_idle_<name>.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import run_tests, wait_until  # noqa: E402
import test_gateway_imap as gi  # noqa: E402  (RawImap only: its tests stay there)

BIN_DIR = os.environ.get("PULLMAIL_BIN_DIR", "build")

EVENTS = 'pullmail_watch_events_total{kind="%s"}'
OPENED = "pullmail_watch_streams_opened_total"
KINDS = ("exists", "expunge", "flags")


def message(subject):
    return f"From: bob@b.example\r\nSubject: {subject}\r\n\r\n{subject}\r\n".encode()


class GatewayIdle(gi.GatewayCase):
    # -------------------------------------------------------------- helpers

    def login(self):
        return self.tls_login(self.bob)

    def idle_on(self, folder):
        """A raw session idling on `folder`: (session, EXISTS at SELECT)."""
        r = gi.RawImap(self.b.gateway_address("imap"), self.b.tls_context(), self.b.name)
        self.sessions.append(r)
        r.send(f'l1 LOGIN {self.bob.address} "{self.bob.password}"\r\n'.encode())
        self.assertTrue(r.until_tagged(b"l1")[-1].startswith(b"l1 OK"))
        r.send(f"s SELECT {folder}\r\n".encode())
        lines = r.until_tagged(b"s")
        self.assertTrue(lines[-1].startswith(b"s OK"), lines)
        exists = [int(x.split()[1]) for x in lines if x.endswith(b" EXISTS")][0]
        r.send(b"i IDLE\r\n")
        self.assertTrue(r.line().startswith(b"+ "))
        return r, exists

    def until(self, r, predicate):
        """IDLE lines up to the first that `predicate` accepts (bounded by
        the socket timeout)."""
        seen = []
        while True:
            line = r.line()
            seen.append(line)
            if predicate(line):
                return seen

    def done(self, r):
        r.send(b"DONE\r\n")
        self.assertEqual(r.until_tagged(b"i")[-1], b"i OK IDLE terminated")

    def events(self):
        metrics = self.b.recipient.metrics()
        return {k: metrics.get(EVENTS % k, 0.0) for k in KINDS}

    def ok(self, result):
        typ, data = result
        self.assertEqual(typ, "OK", data)
        return data

    # ---------------------------------------------------------------- tests

    def test_idle_sees_expunges_flags_and_new_mail_as_their_kinds(self):
        # Changes come from imaplib without a selected folder (APPEND) and
        # from the CLI: no Watch stream but the idling session's.
        m = self.login()
        for i in range(3):
            self.ok(m.append("INBOX", None, None, message(f"m{i}")))
        r, exists = self.idle_on("INBOX")
        self.assertEqual(exists, 3)
        wait_until(lambda: self.b.recipient.counter(OPENED) >= 1, what="the Watch stream")
        before = self.events()
        # An expunge (\Deleted, then UID EXPUNGE).
        self.bob.run("delete", "1")
        self.until(r, lambda line: line == b"* 1 EXPUNGE")
        # A flag change, then a second expunge: still reported as one.
        self.bob.run("flag", "2", "+\\Flagged")
        self.until(r, lambda line: line.startswith(b"* 1 FETCH") and b"\\Flagged" in line)
        self.bob.run("delete", "2")
        self.until(r, lambda line: line == b"* 1 EXPUNGE")
        # New mail from another domain.
        self.ann.send(self.bob.address, "fresh", "new\n")
        self.until(r, lambda line: line == b"* 2 EXISTS")
        self.done(r)
        after = self.events()
        sent = {k: after[k] - before[k] for k in KINDS}
        self.assertEqual(sent["expunge"], 2, sent)
        self.assertEqual(sent["exists"], 1, sent)
        self.assertGreaterEqual(sent["flags"], 1, sent)

    def test_other_folder_wakes_nobody(self):
        m = self.login()  # never selects: it has no Watch stream
        self.ok(m.create("Other"))
        self.ok(m.append("INBOX", None, None, message("in inbox")))
        r, exists = self.idle_on("INBOX")
        self.assertEqual(exists, 1)
        wait_until(lambda: self.b.recipient.counter(OPENED) >= 1, what="the Watch stream")
        before = self.events()
        # Changes to another folder: new messages, a flag change, an expunge.
        for i in range(2):
            self.ok(m.append("Other", None, None, message(f"other {i}")))
        self.bob.run("flag", "1", "+\\Flagged", "--folder", "Other")
        self.bob.run("delete", "2", "--folder", "Other")
        # Then one to the idling session's folder: the only event it gets.
        self.ok(m.append("INBOX", None, None, message("second")))
        seen = self.until(r, lambda line: line == b"* 2 EXISTS")
        self.done(r)
        sent = {k: self.events()[k] - before[k] for k in KINDS}
        self.assertEqual(sent, {"exists": 1, "expunge": 0, "flags": 0}, seen)

    def test_idle_survives_a_recipient_node_restart(self):
        r, exists = self.idle_on("INBOX")
        self.assertEqual(exists, 0)
        wait_until(lambda: self.b.recipient.counter(OPENED) >= 1, what="the Watch stream")
        self.b.recipient.stop()
        self.b.recipient.start()
        # The gateway opens the stream again on the new process (its
        # counters start from zero), with a bounded back-off.
        wait_until(lambda: self.b.recipient.counter(OPENED) >= 1, timeout=60,
                   what="the Watch stream re-opened after the restart")
        self.ann.send(self.bob.address, "after restart", "still there\n")
        self.until(r, lambda line: line == b"* 1 EXISTS")
        self.done(r)
        # Announced through the re-opened stream.
        self.assertEqual(self.events()["exists"], 1)


if __name__ == "__main__":
    run_tests(globals())
