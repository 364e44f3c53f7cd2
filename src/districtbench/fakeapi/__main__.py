"""Run the fake Urban API standalone: `python -m districtbench.fakeapi --port 8765`."""

from __future__ import annotations

import argparse
import threading

from districtbench import console
from districtbench.fakeapi import FakeUrbanApi, load_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m districtbench.fakeapi",
                                     description="Serve the fake Urban API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    args = parser.parse_args(argv)
    api = FakeUrbanApi(load_dataset(), page_size=args.page_size, latency=args.latency,
                       host=args.host, port=args.port)
    try:
        api.start()
    except OSError as exc:  # port taken, address not of this machine, no permission
        reason = exc.strerror or str(exc)
        console.error_line(f"cannot listen on {args.host}:{args.port}: {reason}; try --port 0")
        return 2
    console.info(f"Fake Urban API at {api.url}  (Ctrl-C to stop)")
    console.info(f"  try: {api.url}/school-districts/ccd/directory/2018/?fips=5")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        api.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
