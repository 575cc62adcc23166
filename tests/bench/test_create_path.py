"""What the create path does faster keeps meaning the same (bench/, issue 19).

- The record archive written from the solved records in memory is, byte for byte, what reading
  back the records rattler wrote gave (minus their file lists).
- A running server re-reads a local channel's repodata only when its index changed, and always
  sees a change.
- The plan counts what must be downloaded the same with an empty, a partial and a full cache,
  and a package cache listing kept between plans never hides a package that arrived since.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import rattler

from jupyter_envmgr.channels import index_channel
from jupyter_envmgr.channels.synthetic import python_module_package
from jupyter_envmgr.engine import gateway, record_archive, solver
from jupyter_envmgr.engine.bookkeeping import records_archive_dir
from jupyter_envmgr.engine.plan import make_plan
from jupyter_envmgr.engine.settings import load_settings
from jupyter_envmgr.engine.stamps import RACY_NS

from ..helpers import on

DROP = record_archive._DROP


def _from_files(prefix: Path) -> dict[str, str]:
    """The archive as reading the records back makes it (the way it was always made)."""
    out = {}
    for path in sorted((prefix / "conda-meta").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for key in DROP:
            data.pop(key, None)
        out[path.name] = json.dumps(data, indent=1)
    return out


def test_record_archive_from_memory_is_what_reading_the_records_gives(sandbox, channels):
    specs = ["python", "ipykernel >=6", f"{channels.main_url}::delta", "alpha 1.*"]
    sandbox.run("create", *on(channels.main_url, "made", *specs))
    prefix = sandbox.envs / "made"
    archive = records_archive_dir(prefix)
    written = {p.name: p.read_text(encoding="utf-8") for p in sorted(archive.glob("*.json"))}
    assert written == _from_files(prefix)
    assert len(written) > 20
    # The specs that named a package are in its archived record, as rattler wrote them.
    ipykernel = next(json.loads(text) for name, text in written.items() if "ipykernel" in name)
    assert ipykernel["requested_specs"] == ["ipykernel >=6"]


def test_record_archive_falls_back_to_the_files_for_what_it_cannot_know(tmp_path):
    prefix = tmp_path / "env"
    (prefix / "conda-meta").mkdir(parents=True)
    record = {"name": "a", "version": "1", "build": "0", "files": ["x"], "paths_data": {}}
    (prefix / "conda-meta" / "a-1-0.json").write_text(json.dumps(record))
    # A spec without a package name: nothing from memory, the file as before.
    spec = rattler.MatchSpec("https://example.org/c/noarch/a-1-0.conda")
    record_archive.archive_linked(prefix, [], [spec])
    archived = json.loads((records_archive_dir(prefix) / "a-1-0.json").read_text())
    assert archived == {"name": "a", "version": "1", "build": "0"}


def _channel(root: Path, versions: list[str]) -> str:
    shutil.rmtree(root, ignore_errors=True)
    for version in versions:
        python_module_package(root / "noarch", "solo", version, depends=[])
    index_channel(root)
    return root.as_uri()


def _outlive_the_racy_window() -> None:
    # An index younger than the engine's window may still change within its mtime's
    # granularity and is never trusted; its ctime cannot be aged, so the test waits it out.
    time.sleep(RACY_NS / 1e9 + 0.1)


def test_a_local_channel_is_reread_only_when_its_index_changed(tmp_path):
    settings = load_settings(env={"HOME": str(tmp_path), "MAMBA_ROOT_PREFIX": str(tmp_path)})
    url = _channel(tmp_path / "chan", ["1.0"])
    reader = gateway.gateway_for(settings)  # the one every solve of these settings uses

    def reread() -> bool:
        """The check each solve makes first: whether the channel's repodata is read again."""
        return gateway.drop_stale_repodata(reader, settings.pkgs_dir, [url]) == [url]

    def solve() -> str:
        records = asyncio.run(solver.solve(settings, [url], [rattler.MatchSpec("solo")]))
        return str(records[0].version)

    # An index written just now is never trusted: read again on every solve.
    assert solve() == "1.0"
    assert [reread(), reread()] == [True, True]
    _outlive_the_racy_window()
    assert [reread(), reread(), reread()] == [True, False, False]  # the first trusted look
    assert solve() == "1.0"
    assert not reread()
    # A new version indexed: seen at once (and read again while its index is young).
    _channel(tmp_path / "chan", ["1.0", "2.0"])
    assert solve() == "2.0"
    assert reread()
    _outlive_the_racy_window()
    assert [reread(), reread()] == [True, False]
    assert solve() == "2.0"
    # The index rewritten without it: seen too.
    _channel(tmp_path / "chan", ["1.0"])
    assert solve() == "1.0"


def test_remote_channels_are_always_dropped():
    assert gateway._local_index_state("https://conda.anaconda.org/conda-forge") is None


def test_the_plan_counts_downloads_as_before(sandbox, channels, tmp_path):
    sandbox.run("create", *on(channels.main_url, "first", "alpha 1.0", "delta 1.0"))
    settings = load_settings(env={**sandbox.env})
    records = asyncio.run(
        solver.solve(
            settings,
            [channels.main_url],
            [rattler.MatchSpec(s) for s in ("alpha 1.0", "delta 1.1", "python")],
        )
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    by_name = {r.name.normalized: r for r in records}

    def expected(dirs: list[Path]) -> tuple[int, int]:
        missing = [
            r
            for r in records
            if not any(
                (d / f"{r.name.normalized}-{r.version}-{r.build}" / "info").is_dir() for d in dirs
            )
        ]
        return len(missing), sum(r.size or 0 for r in missing)

    # A cache holding alpha only, an unfinished delta (no info/) and a look-alike name.
    fake = tmp_path / "fake"
    alpha = by_name["alpha"]
    (fake / f"alpha-{alpha.version}-{alpha.build}" / "info").mkdir(parents=True)
    (fake / f"delta-{by_name['delta'].version}-{by_name['delta'].build}").mkdir()
    (fake / "python-extra-3.11.7-h_envmgr_0" / "info").mkdir(parents=True)
    (fake / "stray-file").write_text("")
    for dirs in ([empty], [sandbox.pkgs], [empty, sandbox.pkgs], [tmp_path / "missing"], [fake]):
        plan = make_plan(tmp_path / "new", [], records, dirs)
        assert (plan.download_count, plan.download_bytes) == expected(dirs), dirs
    assert make_plan(tmp_path / "new", [], records, [fake]).download_count == len(records) - 1


def test_a_plan_sees_packages_that_arrive_after_the_cache_listing_was_kept(sandbox, channels):
    settings = load_settings(env={**sandbox.env})
    records = asyncio.run(
        solver.solve(settings, [channels.main_url], [rattler.MatchSpec("alpha 1.0")])
    )
    alpha = next(r for r in records if r.name.normalized == "alpha")
    cache = sandbox.home / "cache"
    (cache / "unrelated-1-0" / "info").mkdir(parents=True)
    time.sleep(RACY_NS / 1e9 + 0.1)  # old enough to be kept: the next plans reuse the listing
    for _ in range(2):
        assert make_plan(sandbox.home / "new", [], records, [cache]).download_count == len(records)

    (cache / f"alpha-{alpha.version}-{alpha.build}" / "info").mkdir(parents=True)
    plan = make_plan(sandbox.home / "new", [], records, [cache])
    assert plan.download_count == len(records) - 1
