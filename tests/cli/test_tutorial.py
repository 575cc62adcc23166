"""An HPC conda tutorial replayed with `envmgr` in place of micromamba, on a cluster whose
`.condarc` points at local mirrors: `channel_alias` for conda-forge (one folder holding the
mirrored channels), `custom_channels` for bioconda (a mirror of its own elsewhere), as sites
point conda at their mirrors. Every step asserts the records (name, version, channel) conda
would choose, with each solver.

The channels hold small synthetic packages (no python), so a step is one quick CLI run:

    conda-forge  alpha 1.0, 2.0 (each needs libz); libz 1.3; beta 0.5; shared 1.0
    bioconda     beta 1.0 (alpha <2), 2.0 (alpha >=2); shared 2.0

conda-forge's old beta is there to show that `bioconda::beta` keeps beta in bioconda, although
conda-forge comes first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_envmgr.channels import index_channel
from jupyter_envmgr.channels.conda_pkg import Entry
from jupyter_envmgr.channels.synthetic import generic_package
from jupyter_envmgr.engine.prefix import requested_specs

from ..helpers import Sandbox, installed, other_machine_sandbox
from ..solvers.conftest import needs_libmamba

CONDA_FORGE = {
    "alpha": [("1.0", ["libz"]), ("2.0", ["libz"])],
    "libz": [("1.3", [])],
    "beta": [("0.5", [])],
    "shared": [("1.0", [])],
}
BIOCONDA = {
    "beta": [("1.0", ["alpha >=1,<2"]), ("2.0", ["alpha >=2"])],
    "shared": [("2.0", [])],
}
# Published between the install and `update --all`, as a mirror gains releases.
LATER_CONDA_FORGE = {"libz": [("1.4", [])]}
LATER_BIOCONDA = {"beta": [("1.1", ["alpha >=1,<2"])]}


def _publish(channel: Path, packages: dict[str, list[tuple[str, list[str]]]]) -> None:
    for name, releases in packages.items():
        for version, depends in releases:
            text = f"{name} {version}\n".encode()
            entries = [Entry(f"share/{name}/{name}.txt", data=text)]
            generic_package(channel / "noarch", name, version, entries, depends=depends)
    index_channel(channel)


class Cluster:
    """The mirrors and the site's `.condarc`, with a user's sandbox."""

    def __init__(self, base: Path, user: Sandbox, solver: str) -> None:
        self.conda_forge = base / "mirror" / "conda-forge"  # reached through channel_alias
        self.bioconda = base / "bio-mirror" / "bioconda"  # reached through custom_channels
        _publish(self.conda_forge, CONDA_FORGE)
        _publish(self.bioconda, BIOCONDA)
        self.condarc = (
            f"channel_alias: {self.conda_forge.parent.as_uri()}\n"
            f"custom_channels:\n  bioconda: {self.bioconda.parent.as_uri()}\n"
            "channels:\n  - conda-forge\n"
            f"solver: {solver}\n"
        )
        self.user = self.login(user)

    def login(self, sandbox: Sandbox) -> Sandbox:
        (sandbox.home / ".condarc").write_text(self.condarc)
        return sandbox

    def records(self, prefix: Path) -> dict[str, tuple[str, str]]:
        """name -> (version, channel name) of an env's records."""
        names = {self.conda_forge.as_uri(): "conda-forge", self.bioconda.as_uri(): "bioconda"}
        return {
            name: (version, names.get(channel.rstrip("/"), channel))
            for name, (version, _build, channel) in installed(prefix).items()
        }


@pytest.fixture(params=["rattler", pytest.param("libmamba", marks=needs_libmamba)])
def cluster(request, private_sandbox: Sandbox, tmp_path: Path) -> Cluster:
    return Cluster(tmp_path / "site", private_sandbox, str(request.param))


def test_the_tutorial_on_mirrored_channels(cluster: Cluster, tmp_path: Path):
    user = cluster.user
    t = user.envs / "t"

    # Each package from the channel named with it; libz comes with alpha from conda-forge.
    user.run("create", "-n", "t", "conda-forge::alpha", "bioconda::beta", "-y")
    assert cluster.records(t) == {
        "alpha": ("2.0", "conda-forge"),
        "beta": ("2.0", "bioconda"),
        "libz": ("1.3", "conda-forge"),
    }

    # An older alpha: beta moves down with it, and stays in bioconda, which the configured
    # channels lack: its channel comes from the `bioconda::beta` kept in the env's history.
    user.run("install", "-n", "t", "alpha=1.0", "-y")
    assert cluster.records(t) == {
        "alpha": ("1.0", "conda-forge"),
        "beta": ("1.0", "bioconda"),
        "libz": ("1.3", "conda-forge"),
    }

    # The mirrors gain releases; `update --all` takes them, within what the user asked for
    # (envmgr keeps the requested alpha=1.0: conda's update --all would drop that constraint).
    _publish(cluster.conda_forge, LATER_CONDA_FORGE)
    _publish(cluster.bioconda, LATER_BIOCONDA)
    user.run("update", "-n", "t", "--all", "-y")
    assert cluster.records(t) == {
        "alpha": ("1.0", "conda-forge"),
        "beta": ("1.1", "bioconda"),
        "libz": ("1.4", "conda-forge"),
    }

    # `update beta` keeps beta in bioconda, where it is already the newest (conda-forge's
    # beta comes first, but is not the one asked for); the spec stays pinned in history.
    before = cluster.records(t)
    user.run("update", "-n", "t", "beta", "-y")
    assert cluster.records(t) == before
    assert requested_specs(t)["beta"] == "bioconda::beta"

    user.run("remove", "-n", "t", "beta", "-y")
    assert cluster.records(t) == {"alpha": ("1.0", "conda-forge"), "libz": ("1.4", "conda-forge")}

    # Channel order, with a package both channels have: strict priority takes the first
    # channel's, whichever version is higher.
    user.run("create", "-n", "o", "-c", "conda-forge", "-c", "bioconda", "shared", "-y")
    assert cluster.records(user.envs / "o") == {"shared": ("1.0", "conda-forge")}
    user.run("install", "-n", "t", "-c", "bioconda", "-c", "conda-forge", "shared", "-y")
    assert cluster.records(t) == {
        "alpha": ("1.0", "conda-forge"),
        "libz": ("1.4", "conda-forge"),
        "shared": ("2.0", "bioconda"),
    }

    # Export, and create the same env under another root prefix with the same .condarc (a
    # colleague on the cluster, or the same user in a job's scratch space).
    exported = tmp_path / "environment.yml"
    user.run("env", "export", "-n", "t", "-f", str(exported))
    colleague = cluster.login(other_machine_sandbox(tmp_path / "colleague"))
    colleague.run("create", "-f", str(exported), "-y")
    assert cluster.records(colleague.envs / "t") == cluster.records(t)
