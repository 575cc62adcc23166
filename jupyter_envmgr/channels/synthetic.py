"""Small synthetic packages with versions, dependencies, conflicts and prefix placeholders."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .conda_pkg import PLACEHOLDER, Entry, PackageMeta, write_conda_package


def python_module_package(
    out_dir: Path,
    name: str,
    version: str,
    *,
    import_name: str | None = None,
    depends: Sequence[str] = ("python",),
    constrains: Sequence[str] = (),
) -> Path:
    """A ``noarch: python`` package whose module ``<import_name>`` has ``__version__``.

    A minimal ``.dist-info`` makes it visible to ``importlib.metadata`` and pip, like a real one.
    """
    mod = import_name or name.replace("-", "_")
    dist_info = f"site-packages/{mod}-{version}.dist-info"
    entries = [
        Entry(
            f"site-packages/{mod}/__init__.py",
            data=f'"""Synthetic test package {name}."""\n__version__ = "{version}"\n'.encode(),
        ),
        Entry(
            f"{dist_info}/METADATA",
            data=f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        ),
        Entry(f"{dist_info}/INSTALLER", data=b"conda\n"),
    ]
    meta = PackageMeta(
        name=name,
        version=version,
        build="pyh_envmgr_0",
        subdir="noarch",
        noarch="python",
        depends=list(depends),
        constrains=list(constrains),
        summary=f"synthetic test package {name}",
    )
    return write_conda_package(out_dir, meta, entries)


def generic_package(
    out_dir: Path,
    name: str,
    version: str,
    entries: Sequence[Entry],
    *,
    depends: Sequence[str] = (),
    constrains: Sequence[str] = (),
    subdir: str = "noarch",
) -> Path:
    """A package with exactly ``entries``: ``noarch: generic`` unless ``subdir`` is a platform."""
    noarch = "generic" if subdir == "noarch" else None
    build = "h_envmgr_0"
    meta = PackageMeta(
        name=name,
        version=version,
        build=build,
        subdir=subdir,
        noarch=noarch,
        depends=list(depends),
        constrains=list(constrains),
        summary=f"synthetic test package {name}",
    )
    return write_conda_package(out_dir, meta, entries)


def _delta(out_dir: Path, version: str) -> Path:
    return generic_package(
        out_dir,
        "delta",
        version,
        [Entry("share/delta/delta.txt", data=f"delta {version}\n".encode())],
    )


def build_main_synthetic(channel: Path, many_files: int) -> list[Path]:
    """The synthetic packages of the "main" channel (see the package docstring)."""
    noarch, linux = channel / "noarch", channel / "linux-64"
    out = [python_module_package(noarch, "alpha", v) for v in ("1.0", "1.5", "2.0")]
    out.append(python_module_package(noarch, "beta", "1.0", depends=["python", "alpha <2"]))
    out.append(python_module_package(noarch, "beta", "2.0", depends=["python", "alpha >=2"]))
    # gamma forbids alpha >=1.5 without depending on alpha: gamma + alpha 2 is unsatisfiable.
    out.append(python_module_package(noarch, "gamma", "1.0", constrains=["alpha <1.5"]))
    out += [_delta(noarch, "1.0"), _delta(noarch, "1.1")]
    # Text files with the placeholder: the installer must rewrite them to the real prefix.
    out.append(
        generic_package(
            linux,
            "prefixpkg",
            "1.0",
            [
                Entry(
                    "bin/prefixpkg-hello",
                    data=f'#!/bin/sh\necho "prefix={PLACEHOLDER}"\n'.encode(),
                    executable=True,
                    prefix_placeholder=PLACEHOLDER,
                ),
                Entry(
                    "etc/prefixpkg.conf",
                    data=f"prefix={PLACEHOLDER}\n".encode(),
                    prefix_placeholder=PLACEHOLDER,
                ),
            ],
            subdir="linux-64",
        )
    )
    out.append(
        generic_package(
            noarch,
            "manyfiles",
            "1.0",
            [
                Entry(f"share/manyfiles/f{i:05d}.txt", data=f"{i}\n".encode())
                for i in range(many_files)
            ],
        )
    )
    out.append(
        generic_package(
            noarch,
            "broken-dep",
            "1.0",
            [
                Entry(
                    "share/broken-dep/README.txt",
                    data=b"depends on a package that does not exist\n",
                ),
            ],
            depends=["does-not-exist >=1"],
        )
    )
    out.append(
        generic_package(
            noarch,
            "activate-pkg",
            "1.0",
            [
                Entry(
                    "etc/conda/activate.d/activate-pkg.sh",
                    data=b"export ENVMGR_TEST_ACTIVATED=yes\n",
                ),
                Entry(
                    "etc/conda/deactivate.d/activate-pkg.sh", data=b"unset ENVMGR_TEST_ACTIVATED\n"
                ),
            ],
        )
    )
    return out


# Another platform than this machine's (which is linux-64 here), so that a lock for two
# platforms can be solved: `env export --format conda-lock --platform osx-arm64`.
FOREIGN_SUBDIR = "osx-arm64"


def build_foreign_synthetic(channel: Path, python: str) -> list[Path]:
    """The "main" channel's packages for FOREIGN_SUBDIR: a `python` of version `python` (a
    stub: a file, no interpreter; never run here) that needs macOS 11 (`__osx`, as real osx-arm64
    builds do), and `prefixpkg`. With the noarch packages (alpha, beta, gamma, delta, ...) these
    solve for osx-arm64 as they do for linux-64."""
    out = channel / FOREIGN_SUBDIR
    stub = Entry("share/python-stub/README.txt", data=b"a stand-in for python on osx-arm64\n")
    readme = Entry("share/prefixpkg/README.txt", data=b"prefixpkg for osx-arm64\n")
    return [
        generic_package(out, "python", python, [stub], depends=["__osx >=11.0"],
                        subdir=FOREIGN_SUBDIR),
        generic_package(out, "prefixpkg", "1.0", [readme], subdir=FOREIGN_SUBDIR),
    ]  # fmt: skip


def build_extra_synthetic(channel: Path) -> list[Path]:
    """The "extra" channel: newer alpha and delta, for channel-priority tests."""
    noarch = channel / "noarch"
    return [python_module_package(noarch, "alpha", "9.0"), _delta(noarch, "5.0")]
