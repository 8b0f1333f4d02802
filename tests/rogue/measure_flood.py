#!/usr/bin/env python3
"""Memory of a recipient node under concurrent oversized Notify calls from a
rogue peer (issue 10 point 3; figures in SECURITY.md). Not a test: prints
the node's VmHWM/VmRSS before and after.

    python3 tests/rogue/measure_flood.py BUILD_DIR BYTES CALLS [QUOTA_MIB]
    e.g. python3 tests/rogue/measure_flood.py build 60000000 8
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from world import World  # noqa: E402


def memory(pid):
    with open(f"/proc/{pid}/status") as f:
        return " ".join(l.split(":")[0] + "=" + l.split(":")[1].strip()
                        for l in f if l.startswith(("VmHWM", "VmRSS")))


def main():
    bin_dir, size, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    w = World(bin_dir, "measure")
    try:
        b, c = w.init("b.example"), w.init("c.example")
        if len(sys.argv) > 4:
            c.append_config(f"[rpc]\nmemory_quota_mib = {sys.argv[4]}")
        c.recipient.start()
        time.sleep(1)
        print("before:", memory(c.recipient.pid))
        rogue = os.path.join(w.bin_dir, "tests", "rogue", "rogue_peer")
        t = time.time()
        r = subprocess.run([rogue, "flood", "--config", b.config, "--to-domain", "c.example",
                            "--bytes", str(size), "--calls", str(calls)],
                           capture_output=True, text=True, check=False)
        print("flood:", r.stdout.strip(), f"{time.time() - t:.1f}s")
        print("after: ", memory(c.recipient.pid))
    finally:
        w.close()


if __name__ == "__main__":
    main()
