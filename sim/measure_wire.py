#!/usr/bin/env python3
"""Measures what real pullmail processes and a real SMTP session put on the
wire on loopback, and regenerates the framing constants the simulator uses
(docs/SIMULATION.md, "Wire sizes, measured").

    python3 sim/measure_wire.py --bin-dir build            # measure, print
    python3 sim/measure_wire.py --bin-dir build --write    # ... and rewrite the constants

Needs the binaries pullmail, pullmail-sender, pullmail-recipient and
pullmail-gateway in --bin-dir (cmake --build build --target pullmail
pullmail-sender pullmail-recipient pullmail-gateway). Nothing leaves
127.0.0.1.

How. A two-domain federation from `pullmail init` (tests/e2e/world.py) is
started twice: once with `--plaintext` gRPC and once with TLS, as deployed.
In each, a counting TCP relay sits between a.example's sender node and
b.example's recipient node (notifications) and between b.example's
recipient node and a.example's sender node (fetches): the directory names
the relays' ports instead of the nodes'. The relays see every byte of TCP
payload each way (what tcpdump would show above TCP; TCP/IP headers are
modelled in neither world). ann@a sends two messages to bob@b and bob reads
both, so each exchange happens once on a new connection (first contact) and
once on a warm one. In the plaintext run the HTTP/2 frames are parsed, so
the gRPC messages' own bytes are known exactly and everything else is
framing; the TLS run adds the handshake and record overhead.

The SMTP side talks to b.example's gateway (SMTP in, STARTTLS) with
Python's ssl over memory BIOs, so the bytes of the TLS handshake (both
flights and the session tickets) are counted apart from the encrypted
dialogue.

Derived constants (what --write rewrites):
  sim/wire.h      kCallOverhead: bytes of a warm gRPC call beyond its
                  messages' length prefixes and DATA frame headers
                  (HEADERS, trailers, WINDOW_UPDATE, PING), the mean of the
                  warm notify and fetch calls
  sim/wire.h      kHttp2NewConnection: first contact on a gRPC channel
                  beyond the same call on a warm connection, plaintext run
                  (HTTP/2 preface, SETTINGS, first full headers), mean of
                  notify and fetch
  sim/wire.h      kGrpcNewConnectionTls: what TLS adds to first contact
                  (the handshake; TLS run less plaintext run)
  sim/wire.h      kGrpcCallTls: TLS record overhead of a warm call (TLS
                  bytes less plaintext bytes), mean of notify and fetch
  sim/scenario.h  tls_handshake_bytes: the TLS bytes of one SMTP STARTTLS
                  session that carry no SMTP (handshake and tickets)
Also printed: the SMTP session's TLS record overhead per record (the
model's kTlsRecordOverhead, 22 bytes for TLS 1.3 with an AEAD).
"""

import argparse
import os
import re
import socket
import ssl
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from world import World, free_port, wait_until  # noqa: E402

BODY_BYTES = 10000  # body text of each test message (the RFC 5322 message is a little larger)


# ---------------------------------------------------------------- the relay

class Relay:
    """Listens on a free loopback port and forwards each connection to
    `target` ("host:port"), keeping every chunk each way."""

    def __init__(self, target):
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", free_port()))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.conns = []  # per connection: {"up": bytearray, "down": bytearray}
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            s = socket.create_connection(self.target)
            rec = {"up": bytearray(), "down": bytearray()}
            with self.lock:
                self.conns.append(rec)
            threading.Thread(target=self._pump, args=(c, s, rec, "up"), daemon=True).start()
            threading.Thread(target=self._pump, args=(s, c, rec, "down"), daemon=True).start()

    def _pump(self, src, dst, rec, key):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self.lock:
                    rec[key] += data
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def snapshot(self):
        """(connections, [(len up, len down) per connection])."""
        with self.lock:
            return [(len(r["up"]), len(r["down"])) for r in self.conns]

    def streams(self):
        with self.lock:
            return [(bytes(r["up"]), bytes(r["down"])) for r in self.conns]

    def close(self):
        self.closed = True
        self.sock.close()


def settle(relays, quiet=0.7, timeout=30):
    """Waits until no relay has moved a byte for `quiet` seconds."""
    last, since, end = None, time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < end:
        now = [r.snapshot() for r in relays]
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.05)


# ------------------------------------------------------------ HTTP/2 parsing

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FRAME_NAMES = {0: "DATA", 1: "HEADERS", 3: "RST_STREAM", 4: "SETTINGS", 6: "PING",
               7: "GOAWAY", 8: "WINDOW_UPDATE", 9: "CONTINUATION"}


def frames(stream, start, end):
    """The HTTP/2 frames that begin in stream[start:end] (a connection's
    bytes one way): (offset, type, flags, stream id, payload)."""
    out, i = [], 0
    if stream.startswith(PREFACE):
        i = len(PREFACE)
    while i + 9 <= len(stream):
        length = int.from_bytes(stream[i:i + 3], "big")
        ftype, flags = stream[i + 3], stream[i + 4]
        sid = int.from_bytes(stream[i + 5:i + 9], "big") & 0x7FFFFFFF
        if start <= i < end:
            out.append((i, ftype, flags, sid, stream[i + 9:i + 9 + length]))
        i += 9 + length
    return out


def grpc_messages(fs):
    """Lengths of the gRPC messages carried by DATA frames, per stream."""
    data = {}
    for _, ftype, _, sid, payload in fs:
        if ftype == 0:
            data.setdefault(sid, bytearray()).extend(payload)
    lengths = []
    for sid in sorted(data):
        buf, i = data[sid], 0
        while i + 5 <= len(buf):
            n = int.from_bytes(buf[i + 1:i + 5], "big")
            lengths.append(n)
            i += 5 + n
    return lengths


def model_message_bytes(n):
    """sim/wire.cc GrpcMessageBytes: 5-byte prefix + a 9-byte DATA frame
    header per 16 KiB."""
    return 5 + n + 9 * max(1, -(-(5 + n) // 16384))


def analyse_plain(relay, before, after):
    """Bytes of one exchange on one relay between two snapshots, with its
    frames parsed: total, gRPC messages, framing beyond the model's."""
    streams = relay.streams()
    total, msgs, kinds = 0, [], {}
    for c, (up, down) in enumerate(streams):
        b = before[c] if c < len(before) else (0, 0)
        a = after[c]
        total += (a[0] - b[0]) + (a[1] - b[1])
        for s, lo, hi in ((up, b[0], a[0]), (down, b[1], a[1])):
            fs = frames(s, lo, hi)
            msgs += grpc_messages(fs)
            for _, ftype, _, _, payload in fs:
                k = FRAME_NAMES.get(ftype, str(ftype))
                kinds[k] = kinds.get(k, 0) + 9 + len(payload)
            if lo == 0 and s.startswith(PREFACE):
                kinds["preface"] = kinds.get("preface", 0) + len(PREFACE)
    model = sum(model_message_bytes(n) for n in msgs)
    return {"total": total, "messages": msgs, "payload": sum(msgs),
            "beyond_model_messages": total - model, "frames": kinds,
            "connections": len(after) - len(before)}


def delta(before, after):
    total = 0
    for c, a in enumerate(after):
        b = before[c] if c < len(before) else (0, 0)
        total += (a[0] - b[0]) + (a[1] - b[1])
    return total


# ------------------------------------------------------------ the federation

def federation_run(bin_dir, plaintext):
    """One federation: returns per exchange (notify/fetch, first/warm) the
    plaintext analysis or the TLS byte counts."""
    world = World(bin_dir, name="wire-plain" if plaintext else "wire-tls", dns=False)
    extra = ["--plaintext"] if plaintext else []
    try:
        a = world.init("a.example", *extra)
        b = world.init("b.example", *extra)
        ann = a.add_user("ann")
        bob = b.add_user("bob")
        # Point the directory at two relays: notifications a -> b, fetches b -> a.
        notify = Relay(b.info["recipient_listen"])
        fetch = Relay(a.info["sender_listen"])
        path = os.path.join(world.root, "directory.toml")
        with open(path) as f:
            text = f.read()
        for old, relay in ((b.info["recipient_listen"], notify), (a.info["sender_listen"], fetch)):
            assert old in text, (old, path)
            text = text.replace(old, f"127.0.0.1:{relay.port}")
        with open(path, "w") as f:
            f.write(text)
        a.start()
        b.start()
        relays = [notify, fetch]
        body = ("x" * 71 + "\n") * (BODY_BYTES // 72)
        result = {}
        snaps = {}

        def step(name, relay, action):
            settle(relays)
            before = relay.snapshot()
            action()
            settle(relays)
            after = relay.snapshot()
            snaps[name] = (relay, before, after)

        step("notify_first", notify, lambda: (ann.send(bob.address, "one", body),
                                              bob.wait_for_messages(1)))
        step("notify_warm", notify, lambda: (ann.send(bob.address, "two", body),
                                             bob.wait_for_messages(2)))
        uids = sorted(m["uid"] for m in bob.list())
        step("fetch_first", fetch, lambda: bob.read(uids[0]))
        step("fetch_warm", fetch, lambda: bob.read(uids[1]))
        for name, (relay, before, after) in snaps.items():
            result[name] = analyse_plain(relay, before, after) if plaintext else {
                "total": delta(before, after), "connections": len(after) - len(before)}
        notify.close()
        fetch.close()
        return result
    finally:
        world.close()


# ------------------------------------------------------------------- SMTP

class CountingTls:
    """A TLS client over memory BIOs on a plain socket: counts the raw
    bytes of the handshake and, after it, classifies each inbound record as
    application data or not (session tickets)."""

    def __init__(self, sock, context, hostname):
        self.sock = sock
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = context.wrap_bio(self.inc, self.out, server_hostname=hostname)
        self.hs_out = self.hs_in = 0
        self.app_in = self.app_out = 0       # plaintext bytes
        self.rec_in = self.rec_out = 0       # raw bytes of application records
        self.records_out = self.records_in = 0  # application-data records
        self.other_in = 0                    # raw bytes of post-handshake non-data records
        self.pending = b""

    def _flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)
        return len(data)

    def handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                self.hs_out += self._flush()
                return
            except ssl.SSLWantReadError:
                self.hs_out += self._flush()
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("closed during handshake")
                # Feed whole records only, so that nothing after the
                # server's last handshake flight is counted as handshake.
                self.pending += data
                while len(self.pending) >= 5:
                    n = 5 + int.from_bytes(self.pending[3:5], "big")
                    if len(self.pending) < n:
                        break
                    self.inc.write(self.pending[:n])
                    self.hs_in += n
                    self.pending = self.pending[n:]

    def send(self, text):
        self.obj.write(text)
        self.app_out += len(text)
        n = self._flush()
        self.rec_out += n
        self.records_out += 1

    def _record(self):
        while len(self.pending) < 5 or len(self.pending) < 5 + int.from_bytes(self.pending[3:5], "big"):
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.pending += data
        n = 5 + int.from_bytes(self.pending[3:5], "big")
        rec, self.pending = self.pending[:n], self.pending[n:]
        return rec

    def read_reply(self):
        """One SMTP reply (possibly multi-line), record by record."""
        text = b""
        while not re.search(rb"(^|\r\n)\d{3} [^\r\n]*\r\n$", text):
            rec = self._record()
            self.inc.write(rec)
            try:
                data = self.obj.read(65536)
            except ssl.SSLWantReadError:
                data = b""
            if data:
                self.records_in += 1
                self.rec_in += len(rec)
                self.app_in += len(data)
                text += data
            else:
                self.other_in += len(rec)
        return text


def smtp_run(bin_dir):
    world = World(bin_dir, name="wire-smtp", dns=False)
    try:
        a = world.init("a.example")
        b = world.init("b.example")
        b.add_user("bob")
        a.start()
        b.start()
        b.gateway.start()
        host, port = b.gateway_address("smtp")
        sock = socket.create_connection((host, port), timeout=30)
        plain = {"out": 0, "in": 0}
        buf = b""

        def reply():
            nonlocal buf
            while not re.search(rb"(^|\r\n)\d{3} [^\r\n]*\r\n$", buf):
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("closed")
                buf += data
            text, buf = buf, b""
            plain["in"] += len(text)
            return text

        def cmd(line):
            sock.sendall(line)
            plain["out"] += len(line)
            return reply()

        reply()  # banner
        ehlo = cmd(b"EHLO mx.legacy.example\r\n")
        assert b"STARTTLS" in ehlo, ehlo
        assert cmd(b"STARTTLS\r\n").startswith(b"220")
        tls = CountingTls(sock, b.tls_context(), b.name)
        tls.handshake()
        message = (b"From: <carol@legacy.example>\r\nTo: <bob@b.example>\r\nSubject: wire\r\n"
                   b"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <w1@legacy.example>\r\n\r\n"
                   + (b"x" * 70 + b"\r\n") * (BODY_BYTES // 72) + b".\r\n")
        replies = []
        for line in (b"EHLO mx.legacy.example\r\n", b"MAIL FROM:<carol@legacy.example>\r\n",
                     b"RCPT TO:<bob@b.example>\r\n", b"DATA\r\n", message, b"QUIT\r\n"):
            tls.send(line)
            replies.append(tls.read_reply())
        assert replies[4].startswith(b"250"), replies
        sock.close()
        return {
            "plain_before_tls": plain["out"] + plain["in"],
            "handshake_client": tls.hs_out,
            "handshake_server": tls.hs_in,
            "tickets": tls.other_in,
            "app_plaintext": tls.app_in + tls.app_out,
            "app_records_raw": tls.rec_in + tls.rec_out,
            "records": tls.records_out + tls.records_in,
            "certificate": len(tls.obj.getpeercert(binary_form=True) or b""),
            "version": tls.obj.version(),
            "cipher": tls.obj.cipher()[0],
        }
    finally:
        world.close()


# ------------------------------------------------------------------ output

def rewrite(path, pattern, value):
    with open(path) as f:
        text = f.read()
    new, n = re.subn(pattern, lambda m: m.group(1) + str(value) + m.group(2), text, count=1)
    if n != 1:
        raise SystemExit(f"{path}: pattern {pattern!r} not found")
    with open(path, "w") as f:
        f.write(new)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin-dir", default="build")
    ap.add_argument("--write", action="store_true",
                    help="rewrite kCallOverhead, kHttp2NewConnection, kGrpcNewConnectionTls, "
                         "kGrpcCallTls (sim/wire.h) "
                         "and tls_handshake_bytes (sim/scenario.h)")
    ap.add_argument("--runs", type=int, default=5,
                    help="federations to measure (each constant is the mean over them; "
                         "WINDOW_UPDATE, PING and HPACK vary from run to run)")
    args = ap.parse_args()

    keys = ("call_overhead", "first_plain", "first_tls", "first_tls_extra", "tls_warm")
    per_run = {k: [] for k in keys}
    for run in range(args.runs):
        plain = federation_run(args.bin_dir, plaintext=True)
        tls = federation_run(args.bin_dir, plaintext=False)
        print(f"run {run + 1} of {args.runs}: gRPC between real nodes on loopback "
              f"(bytes of TCP payload, both directions):")
        print(f"{'exchange':14} {'conns':>5} {'plaintext':>9} {'TLS':>7} {'gRPC msgs':>9} "
              f"{'payload':>8} {'beyond model msgs':>17}  frames (plaintext)")
        for name in ("notify_first", "notify_warm", "fetch_first", "fetch_warm"):
            p, t = plain[name], tls[name]
            fr = ", ".join(f"{k} {v}" for k, v in sorted(p["frames"].items()))
            print(f"{name:14} {p['connections']:>5} {p['total']:>9} {t['total']:>7} "
                  f"{len(p['messages']):>9} {p['payload']:>8} {p['beyond_model_messages']:>17}  {fr}")
        per_run["call_overhead"].append((plain["notify_warm"]["beyond_model_messages"] +
                                         plain["fetch_warm"]["beyond_model_messages"]) / 2)
        per_run["first_plain"].append((plain["notify_first"]["total"] - plain["notify_warm"]["total"] +
                                       plain["fetch_first"]["total"] - plain["fetch_warm"]["total"]) / 2)
        per_run["first_tls"].append((tls["notify_first"]["total"] - tls["notify_warm"]["total"] +
                                     tls["fetch_first"]["total"] - tls["fetch_warm"]["total"]) / 2)
        per_run["first_tls_extra"].append(per_run["first_tls"][-1] - per_run["first_plain"][-1])
        per_run["tls_warm"].append((tls["notify_warm"]["total"] - plain["notify_warm"]["total"] +
                                    tls["fetch_warm"]["total"] - plain["fetch_warm"]["total"]) / 2)
    smtp = smtp_run(args.bin_dir)

    def summary(k):
        v = per_run[k]
        return sum(v) / len(v), min(v), max(v)

    call_overhead = round(summary("call_overhead")[0])
    first_plain = summary("first_plain")[0]
    first_tls_extra = summary("first_tls_extra")[0]
    tls_warm = summary("tls_warm")[0]
    print()
    print(f"Means over {args.runs} runs (min-max):")
    for k, label in (("call_overhead", "kCallOverhead (warm call beyond its messages' prefixes and "
                                       "DATA frame headers, mean of notify and fetch)"),
                     ("first_plain", "kHttp2NewConnection: first contact on a channel, plaintext "
                                     "(HTTP/2 preface, SETTINGS, ...)"),
                     ("first_tls", "first contact on a channel, TLS (+ TLS handshake)"),
                     ("first_tls_extra", "kGrpcNewConnectionTls: what TLS adds to first contact"),
                     ("tls_warm", "kGrpcCallTls: TLS record overhead of a warm call (TLS - plaintext)")):
        mean, lo, hi = summary(k)
        print(f"  {label}: {mean:.0f} ({lo:.0f}-{hi:.0f})")
    print()
    hs = smtp["handshake_client"] + smtp["handshake_server"] + smtp["tickets"]
    print(f"SMTP STARTTLS session through pullmail-gateway ({smtp['version']}, {smtp['cipher']}):")
    print(f"  plaintext before TLS (banner, EHLO, STARTTLS and replies): {smtp['plain_before_tls']}")
    print(f"  TLS handshake: client {smtp['handshake_client']}, server {smtp['handshake_server']}, "
          f"session tickets {smtp['tickets']}; tls_handshake_bytes = {hs}")
    print(f"  (the server's certificate is {smtp['certificate']} bytes of DER from the federation's own CA; "
          f"a public CA's chain is larger by its size)")
    print(f"  dialogue and message: {smtp['app_plaintext']} bytes of SMTP in "
          f"{smtp['app_records_raw']} bytes of TLS records "
          f"({smtp['app_records_raw'] - smtp['app_plaintext']} of record overhead; "
          f"{smtp['records']} records, "
          f"{(smtp['app_records_raw'] - smtp['app_plaintext']) / smtp['records']:.1f} per record)")
    if args.write:
        wire_h = os.path.join(ROOT, "sim", "wire.h")
        rewrite(wire_h, r"(inline constexpr uint64_t kCallOverhead = )\d+(;)", call_overhead)
        rewrite(wire_h, r"(inline constexpr uint64_t kHttp2NewConnection = )\d+(;)", round(first_plain))
        rewrite(wire_h, r"(inline constexpr uint64_t kGrpcNewConnectionTls = )\d+(;)",
                round(first_tls_extra))
        rewrite(wire_h, r"(inline constexpr uint64_t kGrpcCallTls = )\d+(;)", round(tls_warm))
        rewrite(os.path.join(ROOT, "sim", "scenario.h"),
                r"(double tls_handshake_bytes = )\d+(;)", hs)
        print("\nwrote kCallOverhead, kHttp2NewConnection, kGrpcNewConnectionTls, kGrpcCallTls "
              "to sim/wire.h and "
              "tls_handshake_bytes to sim/scenario.h")


if __name__ == "__main__":
    main()
