"""Settings come from the same places and with the same defaults as micromamba's."""

from __future__ import annotations

import pytest

from jupyter_envmgr.engine.errors import BadInput, ChannelError
from jupyter_envmgr.engine.settings import load_settings
from jupyter_envmgr.engine.specs import channel_url, check_local_channels, parse_spec


def test_defaults_mirror_micromamba(tmp_path):
    s = load_settings({"HOME": str(tmp_path)})
    assert s.root_prefix == tmp_path / "micromamba"
    assert s.envs_dirs == (tmp_path / "micromamba" / "envs",)
    assert s.pkgs_dirs == (tmp_path / "micromamba" / "pkgs",)
    assert s.channels == ("conda-forge",) and s.channel_priority == "strict"


def test_rc_files_and_variables_in_precedence_order(tmp_path):
    (tmp_path / ".condarc").write_text("channels: [a]\nenvs_dirs: [~/from-condarc]\n")
    (tmp_path / ".mambarc").write_text("channels: [b, c]\n")
    extra = tmp_path / "site.rc"
    extra.write_text("channel_alias: https://mirror.example/conda/\n")
    env = {
        "HOME": str(tmp_path),
        "CONDARC": str(extra),
        "MAMBA_ROOT_PREFIX": str(tmp_path / "mm"),
        "CONDA_PKGS_DIRS": f"{tmp_path}/p1,{tmp_path}/p2",
    }
    s = load_settings(env)
    assert s.channels == ("b", "c")  # ~/.mambarc overrides ~/.condarc
    assert s.envs_dirs == (tmp_path / "from-condarc", tmp_path / "mm" / "envs")
    assert s.pkgs_dirs == (tmp_path / "p1", tmp_path / "p2", tmp_path / "mm" / "pkgs")
    assert s.channel_alias == "https://mirror.example/conda"
    assert channel_url("bioconda", s) == "https://mirror.example/conda/bioconda"
    env["CONDA_ENVS_PATH"] = f"{tmp_path}/e1:{tmp_path}/e2"
    assert load_settings(env).envs_dirs[:2] == (tmp_path / "e1", tmp_path / "e2")
    assert load_settings(env, root_prefix=tmp_path / "cli").root_prefix == tmp_path / "cli"


def test_custom_channels_and_spec_channel_rewrite(tmp_path):
    (tmp_path / ".condarc").write_text("custom_channels:\n  internal: https://repo.lab/c\n")
    s = load_settings({"HOME": str(tmp_path)})
    spec = parse_spec("internal::numpy >=1.26", s)
    assert spec.name == "numpy" and spec.channel == "https://repo.lab/c/internal"
    assert parse_spec("conda-forge::numpy", s).channel == "https://conda.anaconda.org/conda-forge"


@pytest.mark.parametrize("text", ["", "bad name", "ftp://x", "http://", "e1\n", "a/../b"])
def test_bad_channels_raise_channel_errors(tmp_path, text):
    with pytest.raises(ChannelError):
        channel_url(text, load_settings({"HOME": str(tmp_path)}))


def test_a_missing_channel_folder_is_reported_after_the_policy_check(tmp_path):
    # channel_url never looks at the disk (policy must refuse first); the folder check follows.
    url = channel_url("file:///definitely/not/here", load_settings({"HOME": str(tmp_path)}))
    with pytest.raises(ChannelError, match="does not exist"):
        check_local_channels([url])


def test_bad_rc_values_are_named(tmp_path):
    (tmp_path / ".condarc").write_text("channel_priority: sometimes\n")
    with pytest.raises(BadInput, match="channel_priority"):
        load_settings({"HOME": str(tmp_path)})
