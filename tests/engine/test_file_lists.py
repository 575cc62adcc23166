"""Records read without their file lists (listings, exports) say what the whole records say."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from jupyter_envmgr.engine.errors import EnvMgrError
from jupyter_envmgr.engine.export import export_explicit, export_lock, export_yaml, pip_packages
from jupyter_envmgr.engine.file_lists import WORTH_CUTTING, cut_file_lists
from jupyter_envmgr.engine.prefix import read_records
from jupyter_envmgr.engine.registry import find_env
from jupyter_envmgr.engine.settings import load_settings

from ..helpers import Sandbox

# Layouts of conda-meta records: rattler's, conda's, micromamba's, tabs; one line (read whole).
PRETTY = [
    {"indent": 2},
    {"indent": 2, "sort_keys": True},
    {"indent": 4},
    {"indent": "\t", "ensure_ascii": False},
]
ONE_LINE: dict[str, object] = {}


def create_env_with_pip_package(sandbox: Sandbox, url: str, name: str) -> Path:
    """An env with conda packages that own dist-info folders (pip, beta), a 2,000-file one
    (manyfiles), and a distribution installed by pip next to them (tinywheel)."""
    sandbox.run("create", "-n", name, "-c", url, "--override-channels",
                "python", "pip", "beta=1.0", "manyfiles", "-y")  # fmt: skip
    prefix = sandbox.envs / name
    add_pip_distribution(prefix, "tinywheel", "0.1")
    return prefix


def add_pip_distribution(prefix: Path, name: str, version: str) -> None:
    """What `pip install` leaves in site-packages, without running pip (no index here)."""
    site = next(prefix.glob("lib/python*/site-packages"))
    dist_info = site / f"{name}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nA description.\n"
    )
    (dist_info / "INSTALLER").write_text("pip\n")
    (site / name).mkdir()
    (site / name / "__init__.py").write_text("VALUE = 42\n")


def rewrite_records(prefix: Path, **layout: object) -> None:
    """The same records, laid out as json.dumps(**layout) lays them out."""
    for path in (prefix / "conda-meta").glob("*.json"):
        text = json.dumps(json.loads(path.read_text(encoding="utf-8")), **layout)  # type: ignore[arg-type]
        path.write_text(text, encoding="utf-8")


def _without_file_lists(record) -> dict:
    data = json.loads(record.to_json())
    data.pop("files", None)
    data.pop("paths_data", None)
    return data


def _dist_info_files(record) -> list[str]:
    return [str(f) for f in record.files if "dist-info/" in str(f)]


@pytest.fixture
def env_with_pip(sandbox, channels):
    return create_env_with_pip_package(sandbox, channels.main_url, "lists")


def test_records_read_without_file_lists_say_what_whole_records_say(env_with_pip):
    prefix = env_with_pip
    whole = read_records(prefix)
    big = {
        r.name.normalized
        for r, path in zip(whole, sorted((prefix / "conda-meta").glob("*.json")), strict=True)
        if path.stat().st_size >= WORTH_CUTTING
    }
    assert {"manyfiles", "pip", "python"} <= big  # cut, not parsed whole
    for files in ("none", "dist-info"):
        light = read_records(prefix, files=files)
        assert [_without_file_lists(r) for r in light] == [_without_file_lists(r) for r in whole]
        for got, full in zip(light, whole, strict=True):
            if got.name.normalized in big:
                assert [str(f) for f in got.files] == (
                    _dist_info_files(full) if files == "dist-info" else []
                )
                assert got.paths_data.paths == []
    by_name = {r.name.normalized: r for r in read_records(prefix, files="dist-info")}
    assert any(p.endswith("dist-info/METADATA") for p in _dist_info_files(by_name["pip"]))
    # Owned dist-infos are conda's; the one no record owns is pip's.
    assert pip_packages(prefix, list(by_name.values())) == ["tinywheel==0.1"]
    assert pip_packages(prefix, whole) == ["tinywheel==0.1"]


def test_exports_and_listing_are_the_same_whatever_the_records_layout(sandbox, env_with_pip):
    prefix = env_with_pip
    settings = load_settings(sandbox.env)
    env = find_env(settings, name="lists")

    def exports() -> list[object]:
        return [
            export_yaml(settings, env),
            export_yaml(settings, env, from_history=True),
            export_yaml(settings, env, no_builds=True),
            export_explicit(env),
            export_lock(settings, env),
            [_without_file_lists(r) for r in read_records(prefix, files="none")],
        ]

    # Records that are never cut (one line each) are read whole, as every read used to be.
    rewrite_records(prefix, **ONE_LINE)
    manyfiles = next((prefix / "conda-meta").glob("manyfiles-*.json"))
    assert cut_file_lists(manyfiles.read_text(), "none") is None
    expected = exports()
    assert "- pip:\n  - tinywheel==0.1\n" in expected[0]
    assert "- manyfiles=1.0=" in expected[0]
    for layout in PRETTY:
        rewrite_records(prefix, **layout)
        cut = cut_file_lists(manyfiles.read_text(), "none")
        assert cut is not None and len(cut) < manyfiles.stat().st_size / 10
        assert exports() == expected, layout


def test_file_names_cannot_move_the_cut(env_with_pip, tmp_path):
    """Paths with quotes, brackets, backslashes, line breaks and `"files":`-like text in them
    are JSON-escaped: the cut keeps to the record's own lines and finds the dist-info ones."""
    source = next((env_with_pip / "conda-meta").glob("manyfiles-*.json"))
    data = json.loads(source.read_text())
    tricky = [
        'share/a"],\n  "name": "evil",\n  "files": [".txt',
        "share/[brackets]/{braces}\\back\\slash\t\r.txt",
        'lib/python3/site-packages/ünïcode-1.0.dist-info/"quoted"',
        "lib/python3/site-packages/x.dist-info/METADATA",
        "lib/python3/site-packages/not-a-dist-info-folder.txt",
        "lib/python3/site-packages/dist-info/RECORD",
    ]
    data["files"] = tricky + data["files"]
    prefix = tmp_path / "tricky"
    (prefix / "conda-meta").mkdir(parents=True)
    for layout in PRETTY:
        text = json.dumps(data, **layout)  # type: ignore[arg-type]
        (prefix / "conda-meta" / source.name).write_text(text, encoding="utf-8")
        (whole,) = read_records(prefix)
        (light,) = read_records(prefix, files="dist-info")
        assert _without_file_lists(light) == _without_file_lists(whole)
        assert [str(f) for f in light.files] == _dist_info_files(whole)
        assert sorted(str(f) for f in light.files) == sorted([tricky[2], tricky[3], tricky[5]])
        (none,) = read_records(prefix, files="none")
        assert none.files == [] and none.name.normalized == "manyfiles"


@pytest.mark.parametrize("files", ["all", "none", "dist-info"])
def test_a_damaged_big_record_is_reported_whichever_lists_are_read(env_with_pip, tmp_path, files):
    source = next((env_with_pip / "conda-meta").glob("manyfiles-*.json"))
    prefix = tmp_path / "damaged"
    (prefix / "conda-meta").mkdir(parents=True)
    damaged = prefix / "conda-meta" / source.name
    shutil.copy(source, damaged)
    text = source.read_text()
    damaged.write_text(text[: len(text) // 2])  # cut off mid-write
    with pytest.raises(EnvMgrError, match="is damaged"):
        read_records(prefix, files=files)
