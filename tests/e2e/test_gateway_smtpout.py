#!/usr/bin/env python3
"""End-to-end tests of pullmail-gateway's SMTP out: a pullmail user sends to
a classic (legacy) mail domain through her own domain's gateway.

Each test builds a.example (a pullmail domain: sender and recipient nodes
and its gateway) and lists legacy.example in the directory as a legacy
domain. The "legacy MTA" is a small SMTP sink written here (socketserver in
a thread) that records each envelope and message and can be told to answer
450 or 550 to RCPT or DATA; a.example's gateway uses it as its smarthost.
ann@a.example sends with the `pullmail` CLI: the sender node notifies the
gateway's relay (relay_listen), which fetches the body and relays it by SMTP.

Run one:  python3 tests/e2e/test_gateway_smtpout.py --bin-dir build GatewaySmtpout.test_message_reaches_the_legacy_mta
ctest registers each test method as e2e_gateway_smtpout_<name>.
"""

import os
import re
import socketserver
import ssl
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import WorldTestCase, run_tests, wait_until  # noqa: E402

BIN_DIR = os.environ.get("PULLMAIL_BIN_DIR", "build")

CAROL = "carol@legacy.example"
TIMEOUT = 30

# [sender.retry] for tests (core/logic/outbox.h): first retry after ~100 ms.
RETRY_FAST = """[sender.retry]
initial_seconds = 0.1
multiplier = 2.0
max_seconds = 1
jitter = 0.1
"""


class SmtpSink:
    """A minimal SMTP server (RFC 5321) on 127.0.0.1: answers 220/250/354/250,
    records (mail_from, rcpts, data) for each accepted message with the
    dot-stuffing undone, and answers the scripted replies queued in
    rcpt_replies / data_replies (one per command, then 250 again). With
    tls_context set it offers STARTTLS (RFC 3207) and records in tls_used
    whether each accepted message came over TLS."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tls_context = None
        self.tls_broken = False  # offer STARTTLS, then break the handshake
        self.tls_used = []
        self.messages = []
        self.rcpt_commands = []
        self.rcpt_replies = []
        self.data_replies = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = TIMEOUT

            def reply(self, text):
                self.wfile.write(text.encode() + b"\r\n")
                self.wfile.flush()

            def handle(self):
                self.reply("220 mx.legacy.example ESMTP sink")
                mail_from, rcpts = None, []
                tls = False
                while True:
                    line = self.rfile.readline(4096)
                    if not line:
                        return
                    cmd = line.decode("ascii", "replace").rstrip("\r\n")
                    verb = cmd[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        offer = sink.tls_context or sink.tls_broken
                        starttls = "250-STARTTLS\r\n" if offer and not tls else ""
                        self.reply("250-mx.legacy.example\r\n" + starttls +
                                   "250-SIZE 10000000\r\n250 8BITMIME")
                    elif cmd.upper() == "STARTTLS" and sink.tls_broken:
                        self.reply("220 2.0.0 ready to start TLS")
                        self.wfile.write(b"this is not a TLS record\r\n" * 4)
                        self.wfile.flush()
                        return
                    elif cmd.upper() == "STARTTLS" and sink.tls_context and not tls:
                        self.reply("220 2.0.0 ready to start TLS")
                        self.request = sink.tls_context.wrap_socket(self.request, server_side=True)
                        self.rfile = self.request.makefile("rb")
                        self.wfile = self.request.makefile("wb")
                        tls = True
                        mail_from, rcpts = None, []
                    elif verb == "MAIL":
                        mail_from = cmd[cmd.index("<") + 1:cmd.index(">")]
                        rcpts = []
                        self.reply("250 2.1.0 ok")
                    elif verb == "RCPT":
                        rcpt = cmd[cmd.index("<") + 1:cmd.index(">")]
                        with sink.lock:
                            sink.rcpt_commands.append(rcpt)
                            r = sink.rcpt_replies.pop(0) if sink.rcpt_replies else "250 2.1.5 ok"
                        if r.startswith("2"):
                            rcpts.append(rcpt)
                        self.reply(r)
                    elif verb == "DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        data = b""
                        while True:
                            l = self.rfile.readline(1 << 20)
                            if not l:
                                return
                            if l == b".\r\n":
                                break
                            if l.startswith(b"."):
                                l = l[1:]  # RFC 5321 4.5.2: undo dot-stuffing
                            data += l
                        with sink.lock:
                            r = sink.data_replies.pop(0) if sink.data_replies else "250 2.0.0 queued"
                            if r.startswith("2"):
                                sink.messages.append((mail_from, list(rcpts), data))
                                sink.tls_used.append(tls)
                        self.reply(r)
                    elif verb == "RSET":
                        mail_from, rcpts = None, []
                        self.reply("250 2.0.0 ok")
                    elif verb == "QUIT":
                        self.reply("221 2.0.0 bye")
                        return
                    else:
                        self.reply("502 5.5.2 not implemented")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self):
        with self.lock:
            return list(self.messages), list(self.rcpt_commands)


class GatewaySmtpout(WorldTestCase):
    def setUp(self):
        super().setUp()
        self.sink = SmtpSink()
        self.addCleanup(self.sink.close)


    def federation(self, smarthost=True, retry_fast=False, relay=True):
        a = self.world.init("a.example")
        with open(os.path.join(self.world.root, "directory.toml"), "a") as f:
            f.write('\n[domains."legacy.example"]\nlegacy = true\n')
        if smarthost:
            a.edit_config('relay_listen = "',
                          f'smarthost = "127.0.0.1:{self.sink.port}"\nrelay_listen = "')
        if retry_fast:
            a.append_config(RETRY_FAST)
        if not relay:
            a.edit_config('relay_listen = "', '# relay_listen = "')
        ann = a.add_user("ann")
        a.start()
        if relay:
            a.gateway.start()
        return a, ann

    def delivery(self, ann, message_id):
        for s in ann.sent():
            if s["message_id"] == message_id:
                for d in s["deliveries"]:
                    if d["domain"] == "legacy.example":
                        return d
        return None

    def wait_state(self, ann, message_id, state):
        return wait_until(lambda: (lambda d: d if d and d["state"] == state else None)(
            self.delivery(ann, message_id)), 60, interval=0.2,
            what=f"the delivery to legacy.example to be {state}")

    def wait_bounce(self, ann):
        return wait_until(lambda: [m for m in ann.list()
                                   if "mailer-daemon@a.example" in (m["envelope_sender"] +
                                                                   m["summary"]["from"])],
                          TIMEOUT, interval=0.2, what="a bounce in ann's inbox")[0]

    def test_message_reaches_the_legacy_mta(self):
        a, ann = self.federation()
        body = "first line\n.a line that starts with a dot\n..two dots\n.\nlast line\n"
        sent = ann.send(CAROL, "To the old world", body)
        msgs = wait_until(lambda: self.sink.snapshot()[0], TIMEOUT, interval=0.1,
                          what="the message at the sink")
        self.assertEqual(len(msgs), 1)
        mail_from, rcpts, data = msgs[0]
        self.assertEqual(mail_from, "ann@a.example")
        self.assertEqual(rcpts, [CAROL])
        # The exact message the sender node kept: headers, then the body with
        # CRLF line ends and every dot line intact after un-stuffing.
        headers, _, got_body = data.partition(b"\r\n\r\n")
        self.assertIn(b"Subject: To the old world\r\n", headers + b"\r\n")
        self.assertRegex(headers.decode(), r"(?mi)^To: .*carol@legacy\.example")
        self.assertEqual(got_body, body.replace("\n", "\r\n").encode())
        d = self.wait_state(ann, sent["message_id"], "delivered")
        self.assertEqual(d["attempts"], 1)
        # The body left the sender node once: fetched by the relay.
        self.assertEqual(a.sender.counter("pullmail_body_bytes_served_total"), len(data))
        self.assertEqual(self.sink.tls_used, [False])  # the sink offered no STARTTLS
        # SIGTERM stops the relay with the listeners.
        self.assertEqual(a.gateway.stop(), 0)

    def test_starttls_is_used_when_the_legacy_mta_offers_it(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # Any certificate will do: SMTP out's STARTTLS verifies nothing.
        a_dir = os.path.join(self.world.root, "a.example")
        self.sink.tls_context = ctx
        a, ann = self.federation()
        ctx.load_cert_chain(os.path.join(a_dir, "tls", "node.pem"),
                            os.path.join(a_dir, "tls", "node.key"))
        sent = ann.send(CAROL, "Over TLS", "secret\n")
        self.wait_state(ann, sent["message_id"], "delivered")
        msgs, _ = self.sink.snapshot()
        self.assertEqual(len(msgs), 1)
        self.assertTrue(msgs[0][2].endswith(b"\r\n\r\nsecret\r\n"))
        self.assertEqual(self.sink.tls_used, [True])

    def test_a_broken_starttls_falls_back_to_plaintext(self):
        self.sink.tls_broken = True
        a, ann = self.federation()
        sent = ann.send(CAROL, "Plain after all", "hello\n")
        d = self.wait_state(ann, sent["message_id"], "delivered")
        self.assertEqual(d["attempts"], 1)  # within one attempt, on a new connection
        self.assertEqual(self.sink.tls_used, [False])
        self.assertEqual(len(self.sink.snapshot()[0]), 1)
        self.assertIn("retrying without TLS", a.gateway.log_tail(200))

    def test_some_recipients_refused_the_others_get_it_and_no_bounce(self):
        a, ann = self.federation(retry_fast=True)
        self.sink.rcpt_replies.append("550 5.1.1 <carol@legacy.example>: no such user")
        sent = ann.send([CAROL, "dave@legacy.example"], "Half", "hello both\n")
        d = self.wait_state(ann, sent["message_id"], "delivered")
        self.assertEqual(d["attempts"], 1)
        msgs, rcpts = self.sink.snapshot()
        self.assertEqual(rcpts, [CAROL, "dave@legacy.example"])
        self.assertEqual([(m[0], m[1]) for m in msgs], [("ann@a.example", ["dave@legacy.example"])])
        # The documented limit: the refused recipient is only logged.
        wait_until(lambda: "refused <carol@legacy.example>" in a.gateway.log_tail(200), 10,
                   what="the partial refusal in the gateway log")

    def test_more_messages_than_one_relay_stream_carries_all_arrive_once(self):
        a, ann = self.federation(retry_fast=True)
        # The relay is down while they are queued (each attempt fails and is
        # retried), so that many are due together when it comes back.
        a.gateway.stop()
        subjects = [f"Batch {i}" for i in range(7)]
        for subj in subjects:
            ann.send(CAROL, subj, f"body of {subj}\n")
        a.gateway.start()
        msgs = wait_until(lambda: (lambda m: m if len(m) >= 7 else None)(self.sink.snapshot()[0]),
                          60, interval=0.2, what="7 messages at the sink")
        got = sorted(re.search(rb"Subject: (Batch \d)", m[2]).group(1).decode() for m in msgs)
        self.assertEqual(got, subjects)
        wait_until(lambda: all(d["state"] == "delivered" for s in ann.sent()
                               for d in s["deliveries"]), TIMEOUT, interval=0.2,
                   what="every delivery delivered")

    def test_550_bounces_to_the_sender_without_retries(self):
        a, ann = self.federation(retry_fast=True)
        self.sink.rcpt_replies.append("550 5.1.1 <carol@legacy.example>: no such user")
        sent = ann.send(CAROL, "Nobody home", "hello\n")
        d = self.wait_state(ann, sent["message_id"], "bounced")
        self.assertEqual(d["attempts"], 1)
        self.assertIn("550 5.1.1", d["last_error"])
        bounce = self.wait_bounce(ann)
        text = ann.read_json(bounce["uid"])["body"]
        self.assertIn("carol@legacy.example", text)
        self.assertIn("no such user", text)
        msgs, rcpts = self.sink.snapshot()
        self.assertEqual(msgs, [])
        self.assertEqual(rcpts, [CAROL])  # tried once, never again

    def test_550_to_data_bounces(self):
        a, ann = self.federation(retry_fast=True)
        self.sink.data_replies.append("554 5.7.1 message refused as spam")
        sent = ann.send(CAROL, "Refused", "hello\n")
        d = self.wait_state(ann, sent["message_id"], "bounced")
        self.assertIn("554 5.7.1", d["last_error"])
        self.assertIn("refused as spam", ann.read_json(self.wait_bounce(ann)["uid"])["body"])

    def test_450_then_250_is_delivered_after_a_retry(self):
        a, ann = self.federation(retry_fast=True)
        self.sink.rcpt_replies.append("450 4.2.1 mailbox busy, try later")
        sent = ann.send(CAROL, "Second time lucky", "hello again\n")
        d = self.wait_state(ann, sent["message_id"], "delivered")
        self.assertEqual(d["attempts"], 2)
        msgs, rcpts = self.sink.snapshot()
        self.assertEqual(len(msgs), 1)  # no duplicate from the deferred attempt
        self.assertEqual(rcpts, [CAROL, CAROL])
        self.assertEqual(msgs[0][1], [CAROL])
        self.assertEqual([m for m in ann.list()
                          if "mailer-daemon" in m["summary"]["from"]], [])

    def test_without_smarthost_mail_to_a_legacy_domain_bounces(self):
        a, ann = self.federation(smarthost=False)
        sent = ann.send(CAROL, "No way out", "hello\n")
        d = self.wait_state(ann, sent["message_id"], "bounced")
        self.assertIn("smtp_not_configured", d["last_error"])
        self.wait_bounce(ann)
        self.assertEqual(self.sink.snapshot(), ([], []))

    def test_without_relay_listen_the_sender_node_bounces_at_once(self):
        a, ann = self.federation(relay=False)
        sent = ann.send(CAROL, "No relay", "hello\n")
        d = self.wait_state(ann, sent["message_id"], "bounced")
        self.assertEqual(d["attempts"], 1)
        self.assertIn("no SMTP relay configured for legacy domain legacy.example", d["last_error"])
        self.assertIn("legacy.example", ann.read_json(self.wait_bounce(ann)["uid"])["body"])


if __name__ == "__main__":
    run_tests(globals())
