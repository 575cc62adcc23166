"""Reading and writing what a conda prefix says about itself: conda-meta records and history.

The history format is conda's (`==> date <==`, `# cmd:`, `+channel/subdir::dist`, `-...`,
`# update specs: [...]`, `# remove specs: [...]`), so conda, micromamba and `--from-history`
exports read what we write and we read what they wrote.
"""

from __future__ import annotations

import ast
import contextlib
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rattler

from .dependencies import match_spec_name
from .errors import EnvMgrError
from .file_lists import FileLists, read_record

META = "conda-meta"


def is_conda_prefix(path: Path) -> bool:
    return (path / META).is_dir()


def record_files(prefix: Path) -> list[Path]:
    meta = prefix / META
    if not meta.is_dir():
        return []
    return sorted(p for p in meta.glob("*.json") if p.is_file())


def read_records(prefix: Path, *, files: FileLists = "all") -> list[rattler.PrefixRecord]:
    """The env's package records. `files` says which of their file paths the caller needs:
    all (and `paths_data`: installs and removals need them), those inside `.dist-info/`
    folders, or none (listing, exporting). Records may then leave the others out, as big ones
    do: parsing every path of a 20,000-file package holds the GIL for tens of ms."""
    records = []
    with contextlib.ExitStack() as stack:
        scratch = None  # where cut records go to be parsed: rattler parses only files
        if files != "all":
            with contextlib.suppress(OSError):  # no temp dir: parse them whole
                import tempfile  # here: most commands never read records without file lists

                tmp = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)
                scratch = Path(stack.enter_context(tmp)) / "record.json"
        for path in record_files(prefix):
            try:
                records.append(read_record(path, files, scratch))
            except Exception as exc:  # rattler's parse errors; say which file, not a traceback
                raise EnvMgrError(
                    f"The package record {path} is damaged ({exc}). Restore or remove that "
                    "file, then try again."
                ) from None
    return records


def dist_name(record: rattler.RepoDataRecord) -> str:
    return f"{record.name.normalized}-{record.version}-{record.build}"


def channel_display(channel: str | None, channel_alias: str) -> str:
    """`https://conda.anaconda.org/conda-forge/` -> `conda-forge`; other URLs stay URLs."""
    text = (channel or "").rstrip("/")
    alias = channel_alias.rstrip("/") + "/"
    return text[len(alias) :] if text.startswith(alias) else text


def record_json(record: rattler.RepoDataRecord, channel_alias: str) -> dict[str, Any]:
    """The one JSON form of a package record (lists, plans, search results)."""
    return {
        "name": record.name.normalized,
        "version": str(record.version),
        "build": str(record.build),
        "channel": channel_display(record.channel, channel_alias),
        "size": record.size,
    }


def history_dist(record: rattler.RepoDataRecord, channel_alias: str) -> str:
    channel = channel_display(record.channel, channel_alias)
    return f"{channel}/{record.subdir}::{dist_name(record)}"


@dataclass
class Revision:
    """One `==> date <==` block of conda-meta/history."""

    number: int
    date: str
    cmd: str = ""
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    update_specs: list[str] = field(default_factory=list)
    remove_specs: list[str] = field(default_factory=list)


def _parse_spec_list(text: str) -> list[str]:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        # micromamba writes the same list; tolerate a hand-edited or odd line.
        value = [s.strip().strip("'\"") for s in text.strip().strip("[]").split(",")]
    return [str(v) for v in value if str(v).strip()]


def read_history(prefix: Path) -> list[Revision]:
    path = prefix / META / "history"
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    revisions: list[Revision] = []
    for raw in lines:
        line = raw.strip()
        if line.startswith("==>") and line.endswith("<=="):
            revisions.append(Revision(len(revisions), line[3:-3].strip()))
            continue
        if not revisions or not line:
            continue
        rev = revisions[-1]
        if line.startswith("# cmd:"):
            rev.cmd = line[len("# cmd:") :].strip()
        elif line.startswith("# update specs:"):
            rev.update_specs += _parse_spec_list(line.split(":", 1)[1])
        elif line.startswith("# remove specs:"):
            rev.remove_specs += _parse_spec_list(line.split(":", 1)[1])
        elif line.startswith("+"):
            rev.added.append(line[1:])
        elif line.startswith("-"):
            rev.removed.append(line[1:])
    return revisions


def spec_name(spec: str) -> str:
    """The package name a spec text is about (`conda-forge::numpy>=1` -> `numpy`)."""
    try:
        return match_spec_name(rattler.MatchSpec(spec))
    except Exception:  # a hand-edited history line; fall back to the leading word
        text = spec.split("::")[-1]
        for sep in " =<>!~[":
            text = text.split(sep)[0]
        return text.lower()


def requested_specs(prefix: Path, up_to: int | None = None) -> dict[str, str]:
    """What the user asked for over the env's life (or up to revision `up_to`), by package
    name (conda's rule)."""
    specs: dict[str, str] = {}
    revisions = read_history(prefix)
    for rev in revisions if up_to is None else revisions[: up_to + 1]:
        for spec in rev.update_specs:
            specs[spec_name(spec)] = spec
        for spec in rev.remove_specs:
            specs.pop(spec_name(spec), None)
    return specs


def append_history(
    prefix: Path,
    *,
    cmd: str,
    added: Iterable[rattler.RepoDataRecord],
    removed: Iterable[rattler.RepoDataRecord],
    channel_alias: str,
    update_specs: Sequence[str] = (),
    remove_specs: Sequence[str] = (),
) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    lines = [f"==> {stamp} <==", f"# cmd: {cmd}"]
    # conda lists removals first, then additions, each sorted.
    lines += sorted("-" + history_dist(r, channel_alias) for r in removed)
    lines += sorted("+" + history_dist(r, channel_alias) for r in added)
    if update_specs:
        lines.append(f"# update specs: {list(update_specs)!r}")
    if remove_specs:
        lines.append(f"# remove specs: {list(remove_specs)!r}")
    path = prefix / META / "history"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
