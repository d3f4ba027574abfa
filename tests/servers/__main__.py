"""``python -m tests.servers openai|gemini [--latency S] [--port P]``: serve until killed.

Prints ``URL <base_url>`` on the first line of stdout once listening (what a client's
``base_url`` should be), then serves answers forever.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from tests.servers import SERVERS


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("kind", choices=sorted(SERVERS))
    p.add_argument("--latency", type=float, default=0.1, help="seconds before each answer")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--quota-rpm", type=float, help="enforce this many requests a minute (429 beyond)")
    p.add_argument("--quota-burst", type=float, default=1.0, help="seconds of quota the server lets through at once")
    args = p.parse_args()
    server = SERVERS[args.kind](latency_s=args.latency, port=args.port, keep_bodies=False, quota_rpm=args.quota_rpm,
                                quota_burst_s=args.quota_burst).start()
    print(f"URL {server.url}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    # SIGUSR1 prints the counters (a benchmark reads what the server answered and refused)
    signal.signal(signal.SIGUSR1, lambda *_: print(f"COUNTS answered={server.answered} refused={server.refused} "
                                                    f"calls={server.calls}", flush=True))
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    server.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
