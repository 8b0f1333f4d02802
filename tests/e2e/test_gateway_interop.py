#!/usr/bin/env python3
"""Interop: real, unmodified mail clients against pullmail-gateway.

mbsync (isync) syncs an INBOX over IMAP with STARTTLS, fetchmail downloads
and deletes over POP3 with STLS, and swaks submits over SMTP with STARTTLS
and AUTH PLAIN. Each client verifies the gateway's certificate against the
world's CA. The point of pull mail is checked on the way: a body moves from
the sender's node only when a client actually downloads it.

Run: python3 tests/e2e/test_gateway_interop.py --bin-dir build
(the clients come from scripts/install-deps.sh: isync, fetchmail, swaks).
"""

import glob
import imaplib
import os
import poplib
import shutil
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import WorldTestCase, free_port, run_tests, wait_until  # noqa: E402

BIN_DIR = os.environ.get("PULLMAIL_BIN_DIR", "build")
SERVED = "pullmail_body_bytes_served_total"
CLIENT_TIMEOUT = 60


def listen_of(domain, key):
    with open(domain.config) as f:
        for line in f:
            if line.startswith(key + " ="):
                host, port = line.split('"')[1].rsplit(":", 1)
                return host, int(port)
    raise AssertionError(f"{key} not in {domain.config}")


class GatewayInterop(WorldTestCase):
    def setUp(self):
        for tool in ("mbsync", "fetchmail", "swaks"):
            if shutil.which(tool) is None:
                self.fail(f"{tool} is not installed: run scripts/install-deps.sh")
        super().setUp()
        self.a = self.world.init("a.example")
        self.b = self.world.init("b.example")
        self.ann = self.a.add_user("ann")
        self.bob = self.b.add_user("bob")
        self.a.start()
        self.b.start()
        self.b.edit_config("[gateway]", "[gateway]\n"
                           f"imaps_listen = \"127.0.0.1:{free_port()}\"\n"
                           f"pop3s_listen = \"127.0.0.1:{free_port()}\"")
        self.b.gateway.start()
        self.a.gateway.start()
        self.home = os.path.join(self.world.root, "home")
        os.makedirs(self.home)
        self.ca = os.path.join(self.world.root, "ca", "ca.pem")


    def run_client(self, argv, **kw):
        env = dict(os.environ, HOME=self.home)
        p = subprocess.run(argv, capture_output=True, text=True, env=env,
                           timeout=CLIENT_TIMEOUT, **kw)
        return p

    def send_to_bob(self, subject, body):
        self.ann.send(self.bob.address, subject, body)
        wait_until(lambda: any(m.get("summary", {}).get("subject") == subject
                               for m in self.bob.list()),
                   what=f"'{subject}' in bob's inbox")

    def test_mbsync_pulls_the_inbox_over_imap_starttls(self):
        body = "Hello Bob,\nsynced by mbsync over IMAP.\n.leading dot line\n"
        self.send_to_bob("For mbsync", body)
        self.assertEqual(self.a.sender.counter(SERVED), 0)
        _, port = self.b.gateway_address("imap")
        maildir = os.path.join(self.home, "Mail")
        os.makedirs(maildir)
        config = os.path.join(self.home, "mbsyncrc")
        # "localhost": mbsync checks the certificate's DNS names, not its
        # IP addresses; the node certificate names localhost too.
        with open(config, "w") as f:
            f.write(f"""IMAPAccount pm
Host localhost
Port {port}
User {self.bob.address}
Pass "{self.bob.password}"
SSLType STARTTLS
CertificateFile {self.ca}

IMAPStore pm-remote
Account pm

MaildirStore pm-local
Path {maildir}/
Inbox {maildir}/INBOX

Channel pm
Far :pm-remote:
Near :pm-local:
Patterns INBOX
Create Near
Sync Pull
SyncState *
""")
        p = self.run_client(["mbsync", "-c", config, "-a"])
        self.assertEqual(p.returncode, 0, f"mbsync failed:\n{p.stdout}\n{p.stderr}")
        files = glob.glob(os.path.join(maildir, "INBOX", "new", "*")) + \
            glob.glob(os.path.join(maildir, "INBOX", "cur", "*"))
        self.assertEqual(len(files), 1, f"maildir holds {files}\n{p.stdout}\n{p.stderr}")
        with open(files[0], "rb") as f:
            data = f.read().replace(b"\r\n", b"\n")
        self.assertIn(body.encode(), data)
        self.assertIn(b"Subject: For mbsync", data)
        # The body moved from a.example only because mbsync downloaded it.
        self.assertGreater(self.a.sender.counter(SERVED), 0)

        # A second sync with nothing new downloads nothing more.
        served = self.a.sender.counter(SERVED)
        p = self.run_client(["mbsync", "-c", config, "-a"])
        self.assertEqual(p.returncode, 0, f"mbsync failed:\n{p.stdout}\n{p.stderr}")
        self.assertEqual(self.a.sender.counter(SERVED), served)

    def test_fetchmail_downloads_and_deletes_over_pop3_stls(self):
        body = "Hello Bob,\nfetched by fetchmail over POP3.\n"
        self.send_to_bob("For fetchmail", body)
        self.assertEqual(self.a.sender.counter(SERVED), 0)
        host, port = self.b.gateway_address("pop3")
        out = os.path.join(self.home, "delivered.mbox")
        rc = os.path.join(self.home, "fetchmailrc")
        with open(rc, "w") as f:
            f.write(f"""set no syslog
poll {host} service {port} protocol POP3 uidl
  user "{self.bob.address}" there with password "{self.bob.password}" is "bob" here
  sslproto 'TLS1.2+' sslcertck sslcertfile "{self.ca}" sslcommonname "b.example"
  mda "/bin/sh -c 'cat >> {out}'"
""")
        os.chmod(rc, 0o600)
        p = self.run_client(["fetchmail", "-f", rc, "--nodetach", "--nosyslog",
                             "--pidfile", os.path.join(self.home, "fetchmail.pid")])
        self.assertEqual(p.returncode, 0, f"fetchmail failed:\n{p.stdout}\n{p.stderr}")
        with open(out, "rb") as f:
            data = f.read().replace(b"\r\n", b"\n")
        self.assertIn(body.encode(), data)
        self.assertGreater(self.a.sender.counter(SERVED), 0)
        # fetchmail deletes what it delivered (no "keep"): bob's INBOX is empty.
        self.assertEqual(self.bob.list(), [])
        # Nothing left: a second run finds no mail (fetchmail exits 1).
        p = self.run_client(["fetchmail", "-f", rc, "--nodetach", "--nosyslog",
                             "--pidfile", os.path.join(self.home, "fetchmail.pid")])
        self.assertEqual(p.returncode, 1, f"fetchmail:\n{p.stdout}\n{p.stderr}")

    def test_swaks_submits_over_starttls_with_auth(self):
        host, port = self.a.gateway_address("submission")
        body = "Hello Bob,\nsubmitted by swaks.\n..two dots\n"
        message = os.path.join(self.home, "msg.eml")
        with open(message, "w") as f:
            f.write(f"From: Ann <{self.ann.address}>\r\nTo: {self.bob.address}\r\n"
                    f"Subject: From swaks\r\n\r\n" + body.replace("\n", "\r\n"))
        p = self.run_client([
            "swaks", "--server", host, "--port", str(port),
            "--tls", "--tls-verify", "--tls-ca-path", self.ca, "--tls-sni", "a.example",
            "--auth", "PLAIN", "--auth-user", self.ann.address,
            "--auth-password", self.ann.password,
            "--from", self.ann.address, "--to", self.bob.address,
            "--data", f"@{message}", "--helo", "client.test"])
        self.assertEqual(p.returncode, 0, f"swaks failed:\n{p.stdout}\n{p.stderr}")
        self.assertIn("250 2.0.0", p.stdout)
        msgs = self.bob.wait_for_messages(1)
        self.assertEqual(msgs[0]["summary"]["subject"], "From swaks")
        read = self.bob.read(msgs[0]["uid"])
        self.assertIn("submitted by swaks.\n..two dots\n",
                      read.stdout.replace("\r\n", "\n"))

        # Wrong password: swaks reports the 535 and exits non-zero.
        p = self.run_client([
            "swaks", "--server", host, "--port", str(port),
            "--tls", "--tls-verify", "--tls-ca-path", self.ca, "--tls-sni", "a.example",
            "--auth", "PLAIN", "--auth-user", self.ann.address, "--auth-password", "wrong",
            "--from", self.ann.address, "--to", self.bob.address, "--helo", "client.test"])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("535", p.stdout + p.stderr)

    def test_implicit_tls_ports_serve_imap_and_pop3(self):
        """imaps_listen / pop3s_listen: TLS from the first byte (993/995 style)."""
        body = "Hello Bob,\nover implicit TLS.\n"
        self.send_to_bob("Implicit TLS", body)
        ctx = self.b.tls_context()

        host, port = listen_of(self.b, "imaps_listen")
        m = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=CLIENT_TIMEOUT)
        try:
            self.assertIn(b"IMAP4rev1", m.welcome)
            m.login(self.bob.address, self.bob.password)
            typ, data = m.select("INBOX")
            self.assertEqual((typ, data), ("OK", [b"1"]))
            typ, data = m.fetch("1", "(BODY.PEEK[])")
            self.assertEqual(typ, "OK")
            self.assertIn(body.encode(), data[0][1].replace(b"\r\n", b"\n"))
            m.logout()
        finally:
            try:
                m.shutdown()
            except OSError:
                pass

        host, port = listen_of(self.b, "pop3s_listen")
        p = poplib.POP3_SSL(host, port, context=ctx, timeout=CLIENT_TIMEOUT)
        try:
            p.user(self.bob.address)
            p.pass_(self.bob.password)
            count, _ = p.stat()
            self.assertEqual(count, 1)
            lines = p.retr(1)[1]
            self.assertIn(b"over implicit TLS.", lines)
            p.quit()
        finally:
            try:
                p.close()
            except OSError:
                pass

        # A plaintext client on the implicit-TLS port gets no greeting in the
        # clear: the gateway expects a TLS ClientHello and drops the rest.
        with socket.create_connection((host, port), timeout=5) as s:
            s.settimeout(2)
            s.sendall(b"USER bob\r\n")
            try:
                data = s.recv(100)
            except (socket.timeout, ConnectionResetError):
                data = b""
            self.assertFalse(data.startswith(b"+OK"), data)


if __name__ == "__main__":
    run_tests(globals())
