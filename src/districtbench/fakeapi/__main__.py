"""Run the fake Urban API standalone: `python -m districtbench.fakeapi --port 8765`.

`--texas-portal ../shared/data/real` also serves the fake Texas portal (portal.py) from the
real TEA files of that folder, at `<host:port>/resource/tapr-districts.json`."""

from __future__ import annotations

import argparse
import threading

from districtbench import console
from pathlib import Path

from districtbench.fakeapi import FakeUrbanApi, load_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m districtbench.fakeapi",
                                     description="Serve the fake Urban API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--texas-portal", metavar="REAL_DATA_DIR", type=Path,
                        help="also serve the fake Texas portal from this shared/data/real folder")
    args = parser.parse_args(argv)
    portal = None
    if args.texas_portal is not None:
        from districtbench.fakeapi.portal import texas_tapr_portal

        try:
            portal = texas_tapr_portal(args.texas_portal)
        except OSError as exc:
            console.error_line(f"cannot read the TEA files under {args.texas_portal}: {exc.strerror or exc}")
            return 2
    api = FakeUrbanApi(load_dataset(), page_size=args.page_size, latency=args.latency,
                       host=args.host, port=args.port, portal=portal)
    try:
        api.start()
    except OSError as exc:  # port taken, address not of this machine, no permission
        reason = exc.strerror or str(exc)
        console.error_line(f"cannot listen on {args.host}:{args.port}: {reason}; try --port 0")
        return 2
    console.info(f"Fake Urban API at {api.url}  (Ctrl-C to stop)")
    console.info(f"  try: {api.url}/school-districts/ccd/directory/2018/?fips=5")
    if portal is not None:
        console.info(f"Fake Texas portal: DISTRICTBENCH_TEXAS_PORTAL_URL={api.portal_url}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        api.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
