"""`python -m bench --quick` runs and writes its JSON (what .ci/run does, on a few figures)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIGURES = "1,4,6,7,9"  # the quick ones; .ci/run runs them all


def test_quick_mode_runs_and_writes_every_row_as_json(tmp_path):
    out = tmp_path / "bench.json"
    md = tmp_path / "bench.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", FIGURES, "--json", str(out)]
        + ["--markdown", str(md), "--work", str(tmp_path / "work")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    # Quick mode reports timing misses without failing; a broken figure fails it.
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["meta"]["mode"] == "quick"
    assert {"date_utc", "cpu", "cpus", "python", "py-rattler"} <= set(data["meta"])
    rows = data["rows"]
    assert {r["figure"] for r in rows} == set(FIGURES.split(","))
    for row in rows:
        assert row["result"] in ("PASS", "MISS", "", "SKIP"), row
        assert {"what", "ours", "peer", "ratio", "target"} <= set(row)
    assert any(r["target"] and r["result"] in ("PASS", "MISS") for r in rows)
    # The table is printed, and the Markdown one written for the README.
    assert "Figure" in proc.stdout and "Result" in proc.stdout
    assert md.read_text().count("\n|") >= len(rows)


def test_an_unknown_figure_is_a_usage_error():
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "42"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "no figure 42" in proc.stderr
