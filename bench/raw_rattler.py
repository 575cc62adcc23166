"""The floor: solve and install with py-rattler alone, in one process, nothing else.

    python bench/raw_rattler.py CHANNEL_URL PREFIX PKGS_DIR SPEC...

What `envmgr create -p PREFIX -c CHANNEL_URL --override-channels SPEC... -y` does, minus
everything that is ours (journal, record archive, history, lock, kernelspec sync): the same
channel, the same package cache (repodata cached in PKGS_DIR/cache, as envmgr does), the same
platforms and detected virtual packages.
"""

import asyncio
import os
import sys

import rattler


async def create(channel: str, prefix: str, pkgs: str, specs: list[str]) -> None:
    gateway = rattler.Gateway(cache_dir=os.path.join(pkgs, "cache"))
    records = await rattler.solve(
        [rattler.Channel(channel)],
        specs,
        gateway=gateway,
        platforms=[rattler.Subdir.current(), rattler.Subdir("noarch")],
        virtual_packages=rattler.VirtualPackage.detect(),
    )
    await rattler.install(records, prefix, cache_dir=pkgs, show_progress=False)


if __name__ == "__main__":
    channel, prefix, pkgs, *specs = sys.argv[1:]
    asyncio.run(create(channel, prefix, pkgs, specs))
    sys.stdout.flush()
    # As envmgr does: a process that used rattler can crash while the interpreter finalizes.
    os._exit(0)
