"""Figure 7: memory the server adds while it solves the largest problem of problems.json.

In a fresh process with the server's modules imported (jupyter_server, our extension's service
and the engine), as a running server has them: the resident set size is read, the peak is reset
(/proc/self/clear_refs), then the engine plans a create of the problem with the most packages
in its solution (`operations.run`, dry run: prepare, solve, plan, as a dry-run request does),
from the problem's real repodata channel. Reported: the peak added (target < 80 MB) and what
stays resident afterwards (the gateway keeps the channel's repodata in memory for the next
solve).

    python bench/memory.py
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SKIP, Row, below, clean_environ, fmt_bytes

LIMIT_BYTES = 80 * 1024 * 1024


def _status() -> dict[str, int]:
    text = Path("/proc/self/status").read_text()
    return {
        key: int(re.search(rf"{key}:\s+(\d+)", text).group(1)) * 1024  # type: ignore[union-attr]
        for key in ("VmRSS", "VmHWM")
    }


def child(data: str, work: str) -> dict[str, Any]:
    """Runs in the measured process."""
    import jupyter_server.serverapp  # noqa: F401  (what a server process has loaded)

    from bench.solve import reference_virtual_packages, use_virtual_packages
    from jupyter_envmgr.engine import operations
    from jupyter_envmgr.engine.settings import load_settings
    from jupyter_envmgr.server import service  # noqa: F401

    problems = json.loads((Path(data) / "problems.json").read_text())
    problem = max(problems, key=lambda p: p["records"] or 0)
    settings = load_settings(
        env={"HOME": work, "MAMBA_ROOT_PREFIX": f"{work}/root", "CONDA_PKGS_DIRS": f"{work}/pkgs"}
    )
    use_virtual_packages(reference_virtual_packages())
    request = operations.Request(
        kind="create",
        prefix=f"{work}/root/envs/planned",
        specs=problem["specs"],
        channels=[(Path(data) / problem["channel"]).as_uri()],
        override_channels=True,
        dry_run=True,
    )
    before = _status()["VmRSS"]
    Path("/proc/self/clear_refs").write_text("5")  # the peak starts from here
    outcome = asyncio.run(operations.run(settings, request))
    after = _status()
    return {
        "problem": problem,
        "planned": len(outcome.plan.to_link),
        "rss_before": before,
        "peak_added": after["VmHWM"] - before,
        "retained": after["VmRSS"] - before,
    }


def figure(work: Path, quick: bool) -> list[Row]:
    from bench.solve import data_dir

    data = data_dir()
    if data is None:
        return [Row("7", "server memory while solving", "-", result=SKIP, note="no problems")]
    work.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(data), str(work)],
        capture_output=True,
        text=True,
        env=clean_environ(),
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"the memory child failed: {proc.stderr[-2000:]}")
    got = json.loads(lines[-1])
    problem = got["problem"]
    return [
        Row(
            "7",
            f"server memory added solving {problem['channel']}: "
            f"{' '.join(problem['specs'])[:40]} ({got['planned']} packages)",
            f"peak +{fmt_bytes(got['peak_added'])}, kept +{fmt_bytes(got['retained'])}",
            "",
            None,
            f"< {fmt_bytes(LIMIT_BYTES)}",
            below(got["peak_added"], LIMIT_BYTES),
            f"resident before the solve {fmt_bytes(got['rss_before'])}",
            got,
        )
    ]


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3])))
        sys.stdout.flush()
        os._exit(0)
    from bench.common import print_table

    with tempfile.TemporaryDirectory(prefix="envmgr-bench-memory-") as tmp:
        print_table(figure(Path(tmp), False))
    sys.stdout.flush()
    os._exit(0)
