"""The shared-cache figure runs in quick mode and gives the second user's new bytes and inodes
for each `fs.protected_hardlinks` setting it can measure, with the engine's behaviour."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_quick_shared_cache_figure_gives_both_hard_link_settings(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "shared-cache", "--json", str(out)]
        + ["--work", str(tmp_path / "work")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert {r["figure"] for r in rows} == {"shared-cache"}
    if os.geteuid() != 0:
        assert [r["result"] for r in rows] == ["SKIP"], rows
        return
    measured = {r["data"]["protected_hardlinks"]: r for r in rows if r["result"] != "SKIP"}
    assert "1" in measured or "0" in measured, rows
    for setting, row in measured.items():
        second = row["data"]["envmgr-bob"]
        assert second["new_inodes"] > 0 and second["env_inodes"] > 0, row
        assert f"protected_hardlinks={setting}" in row["what"]
        expected = "copied (" if setting == "1" else "linked"
        assert second["links"]["text"].startswith(expected), row
        assert expected in row["note"], row
    if "1" in measured and "0" in measured:
        # Hard links to the site's inodes: far fewer new bytes than copies of every file.
        assert measured["0"]["data"]["envmgr-bob"]["new_bytes"] < (
            measured["1"]["data"]["envmgr-bob"]["new_bytes"] / 4
        )
    else:
        assert len(rows) == 2 and any(r["result"] == "SKIP" for r in rows), rows
    assert Path("/proc/sys/fs/protected_hardlinks").read_text().strip() == "1"
