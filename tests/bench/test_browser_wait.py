"""The browser figure of the wait from Create to a running cell (`python -m bench --quick --only
10`) runs end to end: a real JupyterLab, Debian's chromium, a create from the sidebar, a notebook
on the new env's kernel and its output, with the floor beside it in the same run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")


def test_quick_browser_figure_writes_the_flow_its_steps_and_the_floor(tmp_path):
    if not CHROMIUM.exists():
        why = f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "10", "--json", str(out)]
        + ["--work", str(tmp_path / "work")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    # Quick mode reports a missed timing without failing; a broken figure fails it.
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert {r["figure"] for r in rows} == {"10"}
    assert all(r["result"] in ("PASS", "MISS", "", "goal met", "MISS (goal)") for r in rows), rows
    total = rows[0]
    assert total["target"] == "<= 1.10x" and total["ratio"] > 0
    assert total["peer"].startswith("floor ")
    # Every step of the flow and of the floor was seen, in the one run quick mode makes.
    (flow,) = total["data"]["flow_steps"]
    (floor,) = total["data"]["floor_steps"]
    assert {"create_s", "notebook_open_s", "kernel_ready_s", "first_output_s"} <= set(flow)
    assert {"install_s", "kernel_ready_s", "execute_s"} <= set(floor)
    assert all(v >= 0 for v in [*flow.values(), *floor.values()])
    assert flow["total_s"] == pytest.approx(total["data"]["ours_s"][0])
    steps = [r["what"] for r in rows if r["what"].strip().startswith("step:")]
    assert len(steps) == 4
    assert any(r["what"].startswith("kernel start") and r["peer"].startswith("bare") for r in rows)
    assert "Create -> first output" in proc.stdout
