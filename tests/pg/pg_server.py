#!/usr/bin/env python3
"""Starts and stops a private PostgreSQL 15 server for the tests.

    pg_server.py start STATE_DIR   initdb + pg_ctl start on a free loopback port;
                                   writes STATE_DIR/url (a libpq URL) and
                                   STATE_DIR/datadir. If Debian's PostgreSQL
                                   binaries are absent, writes STATE_DIR/skip
                                   with the reason instead and exits 0.
    pg_server.py stop STATE_DIR    pg_ctl stop -m immediate (the data is thrown away),
                                   removes the data folder.

ctest runs these as the FIXTURES_SETUP/FIXTURES_CLEANUP of the tests that need
PostgreSQL (fixture "pg_server"), so one server serves the whole run; each test
works in its own schema or database. initdb refuses to run as root: as root,
the data folder is owned by and the server runs as the `postgres` user that
Debian's package creates. The server listens on 127.0.0.1 only, with a Unix
socket in its data folder, trust authentication for the role `pm`.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from world import free_port  # noqa: E402  (claimed ports, shared with the e2e tests)

BIN = os.environ.get("PULLMAIL_PG_BIN", "/usr/lib/postgresql/15/bin")


def as_server_user(cmd):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


def start(state):
    os.makedirs(state, exist_ok=True)
    for name in ("url", "skip", "datadir"):
        try:
            os.unlink(os.path.join(state, name))
        except FileNotFoundError:
            pass
    if not (os.access(os.path.join(BIN, "initdb"), os.X_OK)
            and os.access(os.path.join(BIN, "pg_ctl"), os.X_OK)):
        with open(os.path.join(state, "skip"), "w") as f:
            f.write(f"PostgreSQL binaries not found in {BIN} "
                    "(scripts/install-deps.sh installs the 'postgresql' package)\n")
        print("pg_server: PostgreSQL absent; tests that need it will skip")
        return 0
    data = tempfile.mkdtemp(prefix="pullmail-pg-")
    os.chmod(data, 0o700)
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    with open(os.path.join(state, "datadir"), "w") as f:
        f.write(data + "\n")
    db = os.path.join(data, "db")
    subprocess.run(as_server_user([os.path.join(BIN, "initdb"), "-D", db, "-A", "trust",
                                   "-U", "pm", "-E", "UTF8", "--locale=C", "--no-sync"]),
                   check=True, stdout=subprocess.DEVNULL)
    for attempt in range(5):
        port = free_port()
        opts = (f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c max_connections=300 "
                "-c shared_buffers=64MB")
        r = subprocess.run(as_server_user([os.path.join(BIN, "pg_ctl"), "-D", db, "-o", opts,
                                           "-l", os.path.join(data, "log"), "-w", "-t", "60",
                                           "start"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode == 0:
            break
        time.sleep(0.2)
    else:
        log = open(os.path.join(data, "log")).read()[-2000:]
        print(f"pg_server: cannot start PostgreSQL:\n{r.stderr}\n{log}", file=sys.stderr)
        return 1
    url = f"postgresql://pm@127.0.0.1:{port}/postgres"
    with open(os.path.join(state, "url"), "w") as f:
        f.write(url + "\n")
    print(f"pg_server: {url} (data in {data})")
    return 0


def stop(state):
    try:
        data = open(os.path.join(state, "datadir")).read().strip()
    except FileNotFoundError:
        return 0
    db = os.path.join(data, "db")
    if os.path.isdir(db):
        subprocess.run(as_server_user([os.path.join(BIN, "pg_ctl"), "-D", db, "-m", "immediate",
                                       "-w", "-t", "60", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.rmtree(data, ignore_errors=True)
    for name in ("url", "datadir"):
        try:
            os.unlink(os.path.join(state, name))
        except FileNotFoundError:
            pass
    print("pg_server: stopped")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(start(sys.argv[2]) if sys.argv[1] == "start" else stop(sys.argv[2]))
