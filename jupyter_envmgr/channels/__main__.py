"""`python -m jupyter_envmgr.channels`: build (or reuse) the local channels and print them."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .factory import build_test_channels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--print-main", action="store_true", help="print only the main URL")
    args = parser.parse_args()
    chans = build_test_channels()
    if args.print_main:
        print(chans.main_url)
    else:
        print(json.dumps({"main": chans.main_url, "extra": chans.extra_url}, indent=2))
    sys.stdout.flush()
    os._exit(0)  # a process that used rattler can crash while the interpreter finalizes


if __name__ == "__main__":
    main()
