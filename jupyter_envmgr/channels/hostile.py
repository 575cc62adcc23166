"""A channel of hostile packages for the tests: each would link something outside the env.

Each package also carries one harmless file, so that a package that is (wrongly) accepted
leaves a visible trace. `HOSTILE` maps each package name to the path the refusal must name.
"""

from __future__ import annotations

from pathlib import Path

from .conda_pkg import PLACEHOLDER, Entry, PackageMeta, write_conda_package
from .factory import index_channel


def hostile_packages(victim: Path) -> dict[str, str]:
    """Package name -> the offending path it carries (as the refusal quotes it)."""
    climb = "../" * 30 + str(victim).lstrip("/")
    return {
        "evil-dotdot": climb,  # resolves to the victim itself: rattler used to delete it
        "evil-sibling": "../evil-sibling-was-here",  # lands next to the env
        "evil-absolute": str(victim),  # rattler aborted the whole process on this one
        "evil-symlink": "lib/escape",  # a symlink whose target leaves the env
        "evil-placeholder": "../placeholder-was-here.txt",  # a prefix-placeholder text file
        "evil-entrypoint": "bin/../../entrypoint-was-here",  # a noarch console script
        # `lib/up -> ..` (from evil-up, harmless alone) makes this link's `../../x` climb out.
        "evil-climb": "lib/up/climb",
    }


def build_hostile_channel(channel: Path, victim: Path) -> dict[str, str]:
    """Write the hostile packages into `channel` (noarch) and index it."""
    offending = hostile_packages(victim)
    out = channel / "noarch"
    for name, path in offending.items():
        meta = PackageMeta(name=name, version="1.0", build="0", subdir="noarch", noarch="generic")
        entries = [Entry(f"share/{name}/harmless.txt", data=b"harmless\n")]
        extra: list[dict[str, object]] = []
        if name == "evil-symlink":
            entries.append(Entry(path, link_target="../" * 12 + "tmp"))
        elif name == "evil-placeholder":
            extra.append(
                {"_path": path, "path_type": "hardlink", "file_mode": "text",
                 "prefix_placeholder": PLACEHOLDER}
            )  # fmt: skip
        elif name == "evil-climb":
            meta.depends = ("evil-up",)
            entries.append(Entry(path, link_target="../../climbed-out"))
        elif name == "evil-entrypoint":
            meta.noarch = "python"
            meta.depends = ("python",)
            meta.entry_points = ("../../entrypoint-was-here = os:getcwd",)
            entries = [Entry("site-packages/evil_entrypoint/__init__.py", data=b"")]
        else:
            extra.append({"_path": path, "path_type": "hardlink"})
        write_conda_package(out, meta, entries, extra_paths=extra)
    up = PackageMeta(name="evil-up", version="1.0", build="0", subdir="noarch", noarch="generic")
    write_conda_package(out, up, [Entry("lib/up", link_target="..")])
    index_channel(channel)
    return offending
