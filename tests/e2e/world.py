"""A throw-away pullmail federation on loopback for end-to-end tests.

A World is a temporary folder with domains made by `pullmail init` (real
keys, real TLS certificates from one test CA, a shared directory.toml) and
the real node programs started as child processes. Clients are the real
`pullmail` command. Every wait is a poll with a deadline; every process a
World starts is killed by PID when the World closes, also when a test fails.

Nothing here is a mock: if a node misbehaves, the test that uses it fails.
"""

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

# Generous bounds: the machine has 2 cores shared with builds.
READY_TIMEOUT = 30.0
DEFAULT_TIMEOUT = 30.0
STOP_GRACE = 10.0

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # Runs in the child between fork and exec: if the test runner dies, so
    # does the node, so that nothing outlives a crashed test.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _claim_port(port):
    """Claims `port` among all pickers on this machine, as `pullmail init`
    does (cli/init.cc ClaimPort): one file per port, made exclusively; a
    claim older than 30 minutes is stale."""
    folder = os.path.join(os.environ.get("TMPDIR") or "/tmp", "pullmail-ports")
    try:
        os.makedirs(folder, mode=0o1777, exist_ok=True)
    except OSError:
        return False
    path = os.path.join(folder, str(port))
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        return True
    except FileExistsError:
        try:
            if time.time() - os.stat(path).st_mtime < 30 * 60:
                return False
            os.utime(path)
            return True
        except OSError:
            return False
    except OSError:
        return False


def free_port():
    """A free port on 127.0.0.1 below the ephemeral range and claimed as
    `pullmail init` claims its ports: neither an outgoing connection nor a
    concurrent test can take it before it is bound."""
    import random
    low, high = 10000, 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            high = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    for _ in range(500):
        port = random.randrange(low, high)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if _claim_port(port):
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GiveUp(AssertionError):
    """Raised by a wait_until predicate when waiting longer cannot help (a
    process it waits for has exited); wait_until lets it through at once."""


def wait_until(predicate, timeout=DEFAULT_TIMEOUT, interval=0.05, what="condition"):
    """Polls predicate() until it returns a truthy value; returns that value.

    Raises AssertionError naming `what` (and the last value or exception)
    when `timeout` seconds pass first, or the predicate's GiveUp at once.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except GiveUp:
            raise
        except Exception as e:  # pylint: disable=broad-except
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def parse_metrics(text):
    """Prometheus text format -> {series: float} (series keeps its labels)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        try:
            out[series.strip()] = float(value)
        except ValueError:
            pass
    return out


class CommandResult:
    def __init__(self, args, returncode, stdout, stderr):
        self.args, self.returncode, self.stdout, self.stderr = args, returncode, stdout, stderr

    def json(self):
        return json.loads(self.stdout)

    def json_lines(self):
        return [json.loads(l) for l in self.stdout.splitlines() if l.strip()]

    def __repr__(self):
        return (f"$ {' '.join(self.args)}\n-> exit {self.returncode}\n"
                f"stdout: {self.stdout[-2000:]}\nstderr: {self.stderr[-2000:]}")


class Node:
    """One node process (kind 'sender' or 'recipient') of a domain."""

    def __init__(self, world, domain, kind):
        self.world, self.domain, self.kind = world, domain, kind
        folder = "gateway" if kind == "gateway" else f"{kind}-node"
        self.binary = os.path.join(world.bin_dir, folder, f"pullmail-{kind}")
        self.out_path = os.path.join(world.root, "logs", f"{domain.name}-{kind}.out")
        self.log_path = os.path.join(world.root, "logs", f"{domain.name}-{kind}.log")
        self.proc = None
        self.starts = 0
        # Extra command-line flags for every start (e.g. --clock_speed).
        self.args = []

    @property
    def listen(self):
        if self.kind == "gateway":
            return self.domain.info["imap_listen"]
        return self.domain.info[f"{self.kind}_listen"]

    @property
    def metrics_listen(self):
        return self.domain.info[f"{self.kind}_metrics_listen"]

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, wait=True, env=None):
        """`env`: extra environment variables for this start only (e.g.
        PULLMAIL_CRASH_POINT, recipient-node/crash_point.h)."""
        assert not self.running(), f"{self} already running"
        offset = os.path.getsize(self.out_path) if os.path.exists(self.out_path) else 0
        with open(self.out_path, "ab") as out, open(self.log_path, "ab") as err:
            self.proc = subprocess.Popen(
                [self.binary, "--config", self.domain.config] + list(self.args),
                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env=dict(os.environ, **(env or {})),
                preexec_fn=_die_with_parent)
        self.starts += 1
        self.world.processes.append(self.proc)
        if wait:
            self.wait_ready(offset)
        return self

    def wait_ready(self, offset=0, timeout=READY_TIMEOUT):
        def ready():
            if self.proc.poll() is not None:
                raise GiveUp(f"{self} exited with {self.proc.returncode} before READY")
            with open(self.out_path, "rb") as f:
                f.seek(offset)
                for line in f.read().decode(errors="replace").splitlines():
                    if line.startswith("READY "):
                        return line[len("READY "):].strip()
            return None
        try:
            return wait_until(ready, timeout, interval=0.02, what=f"READY from {self}")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.log_tail()}") from None

    def stop(self, grace=STOP_GRACE):
        """SIGTERM, wait up to `grace`, then SIGKILL. Returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self} ignored SIGTERM for {grace}s; killed")

    def kill9(self):
        """The crash case: SIGKILL and reap, at once."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def metrics(self):
        with urllib.request.urlopen(f"http://{self.metrics_listen}/metrics", timeout=5) as r:
            return parse_metrics(r.read().decode())

    def counter(self, series):
        return self.metrics().get(series, 0.0)

    def log_tail(self, lines=15):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode(errors="replace").splitlines()
        except OSError:
            return f"(no log at {self.log_path})"
        return "\n".join(f"    {l}" for l in text[-lines:])

    def __str__(self):
        return f"{self.domain.name} {self.kind} node" + (f" (pid {self.pid})" if self.proc else "")


class User:
    def __init__(self, domain, address, password):
        self.domain, self.address, self.password = domain, address, password

    def run(self, *args, **kw):
        """Runs `pullmail ARGS --config .. --user .. ` with the password in the env."""
        return self.domain.world.pullmail(
            *args, "--config", self.domain.config, "--user", self.address,
            env={"PULLMAIL_PASSWORD": self.password}, **kw)

    def send(self, to, subject, body, **kw):
        tos = [to] if isinstance(to, str) else list(to)
        args = ["send", "--json", "--subject", subject, "--body", body]
        for t in tos:
            args += ["--to", t]
        return self.run(*args, **kw).json()

    def list(self, folder="INBOX", junk=False):
        args = ["list", "--json"] + (["--junk"] if junk else ["--folder", folder])
        return self.run(*args).json().get("messages", [])

    def read(self, uid, folder="INBOX", check=True, peek=False):
        args = ["read", str(uid), "--folder", folder] + (["--peek"] if peek else [])
        return self.run(*args, check=check)

    def read_json(self, uid, folder="INBOX"):
        return self.run("read", str(uid), "--folder", folder, "--json").json()

    def sent(self):
        """SubmitService.ListSent through `pullmail status --json`."""
        st = self.run("status", "--json", check=False).json()
        return st.get("sent", {}).get("messages", [])

    def wait_for_messages(self, count, folder="INBOX", timeout=DEFAULT_TIMEOUT):
        return wait_until(lambda: (lambda m: m if len(m) >= count else None)(self.list(folder)),
                          timeout, what=f"{count} message(s) in {self.address}'s {folder}")


    def wait_for_subject(self, subject, folder="INBOX", timeout=DEFAULT_TIMEOUT):
        def found():
            msgs = self.list(folder)
            return msgs if any(m["summary"]["subject"] == subject for m in msgs) else None
        return wait_until(found, timeout, what=f"'{subject}' in {self.address}'s {folder}")


class Domain:
    def __init__(self, world, name, info):
        self.world, self.name, self.info = world, name, info
        self.config = info["config"]
        self.sender = Node(world, self, "sender")
        self.recipient = Node(world, self, "recipient")
        # pullmail-gateway (IMAP, POP3, submission); not started by start().
        self.gateway = Node(world, self, "gateway")

    def add_user(self, local, password=None):
        password = password or f"pw-{local}-{os.getpid()}"
        address = f"{local}@{self.name}"
        self.world.pullmail("user", "add", "--config", self.config, address,
                            env={"PULLMAIL_PASSWORD": password})
        return User(self, address, password)

    def start(self):
        self.sender.start(wait=False)
        self.recipient.start(wait=False)
        self.sender.wait_ready()
        self.recipient.wait_ready()
        return self

    def gateway_address(self, protocol):
        """(host, port) of the gateway's 'imap', 'pop3' or 'submission' listener."""
        host, port = self.info[f"{protocol}_listen"].rsplit(":", 1)
        return host, int(port)

    def tls_context(self):
        """A client TLS context that trusts the world's CA (the gateway's
        certificate names the domain: pass server_hostname=domain.name)."""
        import ssl
        return ssl.create_default_context(cafile=os.path.join(self.world.root, "ca", "ca.pem"))

    def edit_config(self, old, new):
        """Replaces text in node.toml (for test-only settings)."""
        with open(self.config) as f:
            text = f.read()
        assert old in text, f"{old!r} not in {self.config}"
        with open(self.config, "w") as f:
            f.write(text.replace(old, new, 1))

    def dns_records(self, ttl=None):
        """What `pullmail dns-records` prints for this domain."""
        return self.world.pullmail("dns-records", "--config", self.config,
                                   "--ttl", str(DNS_TTL if ttl is None else ttl)).stdout

    def publish(self):
        """Loads this domain's `pullmail dns-records` into the World's DNS zone."""
        self.world.dns_server().publish(self.name, self.dns_records())

    def append_config(self, text):
        with open(self.config, "a") as f:
            f.write("\n" + text + "\n")


# The TTL of the records a DNS-directory World publishes (seconds): short, so
# that a test sees a change it publishes within a few seconds.
DNS_TTL = 2


class World:
    """`dns`: resolve domains through a real DNS server (Knot, started on a
    free port) instead of the shared directory.toml: each domain's node.toml
    loses its `directory` line and gets a [dns] section, and what `pullmail
    dns-records` prints for it is loaded into the zone. None = the
    environment's PULLMAIL_E2E_DIRECTORY=dns (how ctest runs the federation's
    e2e tests a second time on DNS)."""

    def __init__(self, bin_dir, name="world", dns=None):
        self.bin_dir = os.path.abspath(bin_dir)
        self.pullmail_bin = os.path.join(self.bin_dir, "cli", "pullmail")
        self.root = tempfile.mkdtemp(prefix=f"pullmail-e2e-{name}-")
        os.makedirs(os.path.join(self.root, "logs"))
        self.processes = []
        self.domains = {}
        self.commands = []
        if dns is None:
            dns = os.environ.get("PULLMAIL_E2E_DIRECTORY") == "dns"
        self.use_dns = dns
        self.dns = None  # the KnotServer, started by the first init()

    def dns_server(self):
        if self.dns is None:
            from dns_server import KnotServer
            self.dns = KnotServer(os.path.join(self.root, "dns"), free_port()).start()
        return self.dns

    def use_dns_directory(self, domain, servers=None, timeout_ms=2000):
        """Makes `domain`'s nodes look every domain up in DNS only."""
        servers = servers or self.dns_server().servers
        with open(domain.config) as f:
            lines = f.read().splitlines()
        kept, in_dns = [], False
        for l in lines:
            if l.startswith("["):
                in_dns = l.startswith("[dns]")
            if not in_dns and not l.startswith("directory ="):
                kept.append(l)
        lines = kept
        lines += ["", "[dns]  # the directory is DNS only (tests/e2e/world.py)", "enabled = true",
                  f'servers = "{servers}"', f"timeout_ms = {timeout_ms}",
                  f"max_ttl_seconds = {DNS_TTL}", "negative_ttl_seconds = 1"]
        with open(domain.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def pullmail(self, *args, check=True, env=None, timeout=120, stdin=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        argv = [self.pullmail_bin] + [str(a) for a in args]
        p = subprocess.run(argv, capture_output=True, text=True, env=full_env,
                           timeout=timeout, input=stdin)
        result = CommandResult(argv, p.returncode, p.stdout, p.stderr)
        self.commands.append(result)
        if check and p.returncode != 0:
            raise AssertionError(f"command failed:\n{result!r}")
        return result

    def init(self, name, *extra):
        info = self.pullmail("init", "--root", self.root, "--domain", name, "--json", *extra).json()
        d = Domain(self, name, info)
        self.domains[name] = d
        if self.use_dns:
            self.use_dns_directory(d)
            d.publish()
        return d

    def nodes(self):
        for d in self.domains.values():
            yield d.sender
            yield d.recipient
            if d.gateway.starts:
                yield d.gateway

    def close(self, keep=False):
        for p in self.processes:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.dns is not None:
            self.dns.stop()
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def diagnostics(self):
        parts = [f"world files in {self.root}"]
        for n in self.nodes():
            parts.append(f"--- {n} log tail:\n{n.log_tail()}")
        if self.dns is not None:
            parts.append(f"--- knotd log tail:\n{self.dns.log_tail()}")
        if self.commands:
            parts.append(f"--- last command:\n{self.commands[-1]!r}")
        return "\n".join(parts)


class WorldTestCase(unittest.TestCase):
    """A test with its own World (self.world) in a fresh folder, closed after
    the test, pass or fail; a failure prints the nodes' log tails (and
    PULLMAIL_E2E_KEEP=1 keeps the folder). The build folder is the calling
    test module's BIN_DIR, which run_tests() sets from --bin-dir."""

    maxDiff = None

    def setUp(self):
        bin_dir = getattr(sys.modules[type(self).__module__], "BIN_DIR", "build")
        self.world = World(bin_dir, self._testMethodName)
        self.addCleanup(self._close_world)

    def _close_world(self):
        outcome = getattr(self, "_outcome", None)
        failed = outcome is not None and not getattr(outcome, "success", True)
        if failed:
            sys.stderr.write("\n" + self.world.diagnostics() + "\n")
        self.world.close(keep=failed and bool(os.environ.get("PULLMAIL_E2E_KEEP")))


def run_tests(test_globals):
    """The e2e test files' command line: [--bin-dir DIR] [unittest arguments].

    Sets BIN_DIR in the calling test module, checks the programs are built,
    and runs unittest.
    """
    import unittest
    argv = [sys.argv[0]]
    args = sys.argv[1:]
    i = 0
    while i < len(args):
        if args[i] == "--bin-dir" and i + 1 < len(args):
            test_globals["BIN_DIR"] = args[i + 1]
            i += 2
        elif args[i].startswith("--bin-dir="):
            test_globals["BIN_DIR"] = args[i].split("=", 1)[1]
            i += 1
        else:
            argv.append(args[i])
            i += 1
    bin_dir = test_globals["BIN_DIR"]
    for prog in ("cli/pullmail", "sender-node/pullmail-sender", "recipient-node/pullmail-recipient"):
        path = os.path.join(bin_dir, prog)
        if not os.access(path, os.X_OK):
            sys.stderr.write(f"missing {path}: build it first (cmake --build {bin_dir})\n")
            sys.exit(2)
    unittest.main(argv=argv, verbosity=2)
