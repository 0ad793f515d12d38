"""Memory of an idle connection in ``ecslite serve``: RSS before and after opening N silent
connections (per-source cap lifted, head timeout long), divided by N.

    .venv/bin/python -m bench.conn_memory [--n 5000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import free_port, rss_mb, wait_port


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ecslite-connmem-"))
    port = free_port()
    env = {**os.environ, "ECSLITE_LOG_LEVEL": "warning", "ECSLITE_HTTP_HEAD_TIMEOUT": "600",
           "ECSLITE_MAX_CONNECTIONS_PER_SOURCE": "100000"}
    cmd = [sys.executable, "-m", "ecslite", "serve", "--demo", "--port", str(port),
           "--data-dir", str(tmp / "data")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    socks: list[socket.socket] = []
    try:
        wait_port(port, timeout=60, proc=proc)
        time.sleep(2)
        before = rss_mb(proc.pid)
        for i in range(args.n):
            socks.append(socket.create_connection(("127.0.0.1", port), source_address=(f"127.0.3.{i % 200 + 1}", 0)))
        time.sleep(3)
        after = rss_mb(proc.pid)
        print(f"{args.n} idle connections: RSS {before:.0f} -> {after:.0f} MiB, "
              f"{(after - before) * 1024 / args.n:.1f} KiB per connection")
    finally:
        for s in socks:
            s.close()
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
