"""Wheels of installed distributions, for the peers (uv, pip) to install offline.

The test channel converts the distributions installed here into conda packages
(jupyter_envmgr/channels/wheels.py); this module packs the very same distributions back into
wheels, so both sides install the same files at the same versions with no network: each
distribution's RECORD lists what it installed, `../../../share/...` becoming `.data/data/`
and console scripts left to the installer (entry_points.txt), as in the original wheel.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import os
import zipfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from jupyter_envmgr.channels.wheels import distribution_closure

_SKIP = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
_UP = "../../../"  # RECORD paths from site-packages back to the prefix


def default_dir() -> Path:
    return Path.home() / ".cache" / "jupyter_envmgr" / "bench-wheels"


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _entry_point_scripts(dist: metadata.Distribution) -> set[str]:
    text = dist.read_text("entry_points.txt") or ""
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return {
        name.strip()
        for group in ("console_scripts", "gui_scripts")
        if parser.has_section(group)
        for name in parser[group]
    }


def _wheel_name(dist: metadata.Distribution) -> str:
    wheel = dist.read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
    name = dist.metadata["Name"].replace("-", "_").replace(".", "_")
    parts = [tag.split("-") for tag in tags] or [["py3", "none", "any"]]
    # A compressed tag set (py2.py3-none-any), as the original wheel's file name had.
    tag = "-".join(".".join(dict.fromkeys(p[i] for p in parts)) for i in range(3))
    return f"{name}-{dist.version}-{tag}.whl"


def pack(dist: metadata.Distribution, out_dir: Path) -> Path:
    """One installed distribution as a wheel in `out_dir`."""
    files = dist.files or []
    site = Path(str(dist.locate_file("")))
    info_dir = next(
        (f.parts[0] for f in files if f.parts and f.parts[0].endswith(".dist-info")), None
    )
    if info_dir is None:
        raise RuntimeError(f"{dist.metadata['Name']} has no .dist-info in its RECORD")
    data_dir = info_dir[: -len(".dist-info")] + ".data"
    scripts = _entry_point_scripts(dist)
    target = out_dir / _wheel_name(dist)
    tmp = target.with_suffix(".tmp")
    record: list[str] = []
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:

        def add(arcname: str, data: bytes, mode: int = 0o644) -> None:
            info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (mode & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
            record.append(f"{arcname},{_digest(data)},{len(data)}")

        for rel in files:
            text = rel.as_posix()
            if "__pycache__" in rel.parts or text.endswith(".pyc"):
                continue
            if rel.parts[0] == info_dir and rel.name in _SKIP:
                continue
            if text.startswith(_UP + "bin/"):
                name = text[len(_UP + "bin/") :]
                if name in scripts:
                    continue  # the installer writes it from entry_points.txt
                arcname = f"{data_dir}/scripts/{name}"
            elif text.startswith(_UP):
                arcname = f"{data_dir}/data/{text[len(_UP) :]}"
            else:
                arcname = text
            path = (site / rel).resolve()
            add(arcname, path.read_bytes(), os.stat(path).st_mode)
        zf.writestr(f"{info_dir}/RECORD", "\n".join([*record, f"{info_dir}/RECORD,,"]) + "\n")
    os.replace(tmp, target)
    return target


def build_wheels(roots: Iterable[str], out_dir: Path | None = None) -> Path:
    """The wheels of `roots` and their run-time closure, reused while the versions match."""
    dists = distribution_closure(list(roots))
    key = hashlib.sha256(
        "|".join(sorted(f"{d.metadata['Name']}=={d.version}" for d in dists)).encode()
    ).hexdigest()[:16]
    folder = (out_dir or default_dir()) / key
    done = folder / ".complete"
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        for dist in dists:
            pack(dist, folder)
        done.write_text("\n".join(sorted(p.name for p in folder.glob("*.whl"))) + "\n")
    return folder
