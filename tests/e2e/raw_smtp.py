"""A line-level SMTP client over a real socket for the gateway's e2e tests:
the exchanges smtplib hides or would never send (pipelined groups in one
write, bare LF line ends, message bytes exactly as given)."""

import base64
import socket

TIMEOUT = 30  # seconds, for every socket operation


def plain(user, password):
    """An AUTH PLAIN initial response (RFC 4616) for user / password."""
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


class RawSmtp:
    def __init__(self, domain, listener="submission"):
        """Connects to `domain`'s gateway listener ('submission' or 'smtp')."""
        self.domain = domain
        host, port = domain.gateway_address(listener)
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed; unread: {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def reply(self):
        """One whole reply (all its continuation lines) -> (code, [texts])."""
        lines = []
        while True:
            line = self.line()
            lines.append(line[4:])
            if line[3:4] != "-":
                return int(line[:3]), lines

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def starttls_and_login(self, user):
        """Greeting, EHLO, STARTTLS (trusting the world's CA), EHLO, AUTH PLAIN."""
        code, _ = self.reply()
        assert code == 220, code
        assert self.cmd("EHLO raw.test")[0] == 250
        assert self.cmd("STARTTLS")[0] == 220
        assert not self.buf
        self.sock = self.domain.tls_context().wrap_socket(self.sock,
                                                          server_hostname=self.domain.name)
        code, caps = self.cmd("EHLO raw.test")
        assert code == 250 and "PIPELINING" in caps, caps
        code, text = self.cmd(f"AUTH PLAIN {plain(user.address, user.password)}")
        assert code == 235, (code, text)
