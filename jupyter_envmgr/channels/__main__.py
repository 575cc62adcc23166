"""`python -m jupyter_envmgr.channels`: build (or reuse) the local channels and print them.

`--demo` chooses the demo's channel instead (conda-forge when it answers, else the offline demo
channel, built here; `--channel` or $ENVMGR_DEMO_CHANNEL decides): prints it on stdout and the
reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .factory import build_test_channels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--print-main", action="store_true", help="print only the main URL")
    parser.add_argument("--demo", action="store_true", help="choose the demo's channel")
    parser.add_argument(
        "--channel",
        help="with --demo: auto (default), conda-forge, local, or a channel name or URL",
    )
    args = parser.parse_args()
    code = 0
    if args.demo:
        from .demo import choose_channel

        try:
            choice = choose_channel(args.channel)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            code = 1
        else:
            print(choice.why, file=sys.stderr)
            print(choice.channel)
    else:
        chans = build_test_channels()
        if args.print_main:
            print(chans.main_url)
        else:
            print(json.dumps({"main": chans.main_url, "extra": chans.extra_url}, indent=2))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # a process that used rattler can crash while the interpreter finalizes


if __name__ == "__main__":
    main()
