"""A real authoritative DNS server (Knot DNS, Debian's `knot`) for e2e tests.

KnotServer serves one zone, "example.", from a folder of its own on a free
loopback port; the test publishes what `pullmail dns-records` prints for each
domain with publish(), and every change is reloaded (knotc zone-reload) and
waited for until the server answers with the new serial. A tiny DNS client
(query_txt) lets tests see what the server serves. Blackhole is a UDP port
that receives queries and never answers (a DNS server that does not reply).

The server is stopped by PID when the test ends (stop(), also called by the
World that owns it).
"""

import os
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import time

KNOTD = "/usr/sbin/knotd"
KNOTC = "/usr/sbin/knotc"

ZONE = "example."


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def _skip_name(msg, pos):
    while True:
        n = msg[pos]
        if n == 0:
            return pos + 1
        if n & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + n


def query(server, name, qtype, timeout=1.0):
    """One UDP query; returns (rcode, [(type, ttl, rdata bytes)]) of the answer section."""
    host, port = server
    qid = random.randrange(65536)
    packet = struct.pack(">HHHHHH", qid, 0x0000, 1, 0, 0, 0) + _encode_name(name) + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, (host, port))
        msg, _ = s.recvfrom(65535)
    rid, flags, qd, an, _, _ = struct.unpack(">HHHHHH", msg[:12])
    if rid != qid:
        raise AssertionError("DNS response id mismatch")
    pos = 12
    for _ in range(qd):
        pos = _skip_name(msg, pos) + 4
    answers = []
    for _ in range(an):
        pos = _skip_name(msg, pos)
        rtype, _, ttl, rdlen = struct.unpack(">HHIH", msg[pos:pos + 10])
        pos += 10
        answers.append((rtype, ttl, msg[pos:pos + rdlen]))
        pos += rdlen
    return flags & 0xF, answers


def query_txt(server, name):
    """(rcode, [text of each TXT record, strings concatenated])."""
    rcode, answers = query(server, name, 16)
    texts = []
    for rtype, _, rdata in answers:
        if rtype != 16:
            continue
        i, text = 0, b""
        while i < len(rdata):
            n = rdata[i]
            text += rdata[i + 1:i + 1 + n]
            i += 1 + n
        texts.append(text.decode())
    return rcode, texts


def soa_serial(server):
    rcode, answers = query(server, ZONE, 6)
    for rtype, _, rdata in answers:
        if rtype == 6:
            pos = _skip_name(rdata, 0)
            pos = _skip_name(rdata, pos)
            return struct.unpack(">I", rdata[pos:pos + 4])[0]
    return None


class KnotServer:
    """knotd serving the zone "example." on 127.0.0.1:`port`."""

    def __init__(self, folder, port, negative_ttl=2):
        self.folder, self.port = folder, port
        self.negative_ttl = negative_ttl
        self.records = {}  # domain -> zone lines from `pullmail dns-records`
        self.extra = []    # hand-written lines (tests)
        self.serial = int(time.time()) % 1000000000
        self.proc = None
        os.makedirs(folder, exist_ok=True)
        self.conf = os.path.join(folder, "knot.conf")
        self.zone_file = os.path.join(folder, "example.zone")
        self.log_path = os.path.join(folder, "knotd.log")
        # A unix socket path has at most 107 bytes: the control socket lives
        # in a short folder of its own, removed by stop().
        self.sock_dir = tempfile.mkdtemp(prefix="pmknot-")
        self.sock = os.path.join(self.sock_dir, "knot.sock")

    @property
    def address(self):
        return ("127.0.0.1", self.port)

    @property
    def servers(self):
        """The value of node.toml's [dns] servers."""
        return f"127.0.0.1:{self.port}"

    def _write_config(self):
        with open(self.conf, "w") as f:
            f.write(f"""server:
    rundir: "{self.folder}"
    listen: 127.0.0.1@{self.port}
    pidfile: "{self.folder}/knot.pid"
database:
    storage: "{self.folder}/db"
control:
    listen: "{self.sock}"
log:
  - target: stderr
    any: info
template:
  - id: default
    storage: "{self.folder}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
  - domain: {ZONE}
    file: "{self.zone_file}"
""")

    def _write_zone(self):
        self.serial += 1
        lines = [
            f"$ORIGIN {ZONE}",
            "$TTL 60",
            f"@ 60 IN SOA ns.{ZONE} hostmaster.{ZONE} {self.serial} 60 60 600 {self.negative_ttl}",
            f"@ 60 IN NS ns.{ZONE}",
            "ns 60 IN A 127.0.0.1",
        ]
        for domain in sorted(self.records):
            lines += [l for l in self.records[domain].splitlines() if l and not l.startswith(";")]
        lines += self.extra
        tmp = self.zone_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, self.zone_file)

    def start(self, timeout=20.0):
        self._write_config()
        self._write_zone()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([KNOTD, "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log)
        log.close()
        self._wait_serial(timeout)
        return self

    def _wait_serial(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"knotd exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                last = soa_serial(self.address)
                if last == self.serial:
                    return
            except (OSError, AssertionError, IndexError, struct.error) as e:
                last = e
            time.sleep(0.05)
        raise AssertionError(f"knotd did not serve serial {self.serial} (last: {last!r}):\n{self.log_tail()}")

    def reload(self):
        """Writes the zone with a new serial and waits until knotd serves it."""
        self._write_zone()
        if self.proc is None:
            return
        subprocess.run([KNOTC, "-c", self.conf, "-s", self.sock,
                        "zone-reload", ZONE], check=True, capture_output=True, timeout=20)
        self._wait_serial()

    def publish(self, domain, zone_lines):
        """Sets `domain`'s records to `zone_lines` (dns-records output) and reloads."""
        self.records[domain] = zone_lines
        self.reload()

    def txt(self, name):
        return query_txt(self.address, name)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.sock_dir, ignore_errors=True)

    def log_tail(self, lines=15):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no knotd log)"


class Blackhole:
    """A UDP socket on a loopback port that takes queries and never answers."""

    def __init__(self, port):
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
