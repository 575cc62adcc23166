"""`config list | get | set | append | prepend | remove-key`: reading and editing the rc files
conda and micromamba read (`.condarc`, `.mambarc`; which ones and in what order: settings.py).

Edits are safe: a file that is not a YAML mapping is an error that changes nothing; the new
content is checked by reading it as settings.py reads every rc file (a `channel_priority: foo`
would break every later command) and replaces the file whole (temp file, rename). Comments in
an edited file are not kept: PyYAML, like conda's own writer, does not round-trip them.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .errors import BadInput, EnvMgrError
from .settings import load_settings

# conda's parameters that hold lists (append/prepend/set refuse the other kind), those that
# map names to values (`set custom_channels.NAME URL`), and the scalar ones users set.
LIST_KEYS = frozenset(
    {"channels", "default_channels", "envs_dirs", "pkgs_dirs", "allowlist_channels",
     "denylist_channels", "pinned_packages", "create_default_packages", "disallowed_packages",
     "track_features", "envs_path", "whitelist_channels"}
)  # fmt: skip
MAP_KEYS = frozenset({"custom_channels", "custom_multichannels", "proxy_servers"})
SCALAR_KEYS = frozenset(
    {"channel_alias", "channel_priority", "solver", "offline", "root_prefix", "always_yes",
     "auto_activate_base", "changeps1", "ssl_verify", "show_channel_urls", "use_lockfiles",
     "always_copy", "always_softlink", "allow_softlinks", "extract_threads",
     "download_threads", "repodata_use_zst", "local_repodata_ttl", "auto_update_conda",
     "notify_outdated_conda", "report_errors", "env_prompt", "experimental_sat_error_message",
     "pip_interop_enabled", "safety_checks", "verify_threads", "execute_threads",
     "remote_connect_timeout_secs", "remote_read_timeout_secs", "remote_max_retries",
     "add_pip_as_python_dependency", "channel_settings", "use_only_tar_bz2", "client_cert",
     "client_cert_key", "pkgs_dirs_mode", "override_channels_enabled", "add_anaconda_token",
     "default_threads", "json", "quiet", "verbosity", "shortcuts", "allow_non_channel_urls"}
)  # fmt: skip
KNOWN_KEYS = LIST_KEYS | MAP_KEYS | SCALAR_KEYS
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[^\s.][^\s]*)?")
MAX_RC_BYTES = 1024 * 1024


def default_rc_file(home: Path) -> Path:
    """Where edits go without --file: the user's ~/.condarc, as conda's and micromamba's."""
    return home / ".condarc"


def read_rc(path: Path) -> dict[str, Any]:
    """A file's mapping ({} when it does not exist); anything else is an error."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_RC_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise EnvMgrError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if len(raw) > MAX_RC_BYTES:
        raise BadInput(f"{path} is larger than 1 MB; an rc file is a short text file.")
    try:
        data = yaml.safe_load(raw.decode("utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BadInput(
            f"{path} is not valid YAML ({exc}); fix it first: nothing was changed."
        ) from None
    if not isinstance(data, dict):
        raise BadInput(f"{path} is not a mapping of keys to values; fix it first.")
    return data


def merged(paths: Sequence[Path]) -> dict[str, Any]:
    """The keys of `paths` as settings.py merges them: a later file's key replaces an
    earlier one's."""
    config: dict[str, Any] = {}
    for path in paths:
        config.update(read_rc(path))
    return config


def get_value(config: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    """(found, value) of `key`, or of `MAP.NAME` inside a mapping."""
    top, _, sub = key.partition(".")
    if top not in config:
        return False, None
    value = config[top]
    if not sub:
        return True, value
    if isinstance(value, dict) and sub in value:
        return True, value[sub]
    return False, None


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise BadInput(f"{key!r} is not a configuration key, e.g. channels or channel_priority.")
    top, _, sub = key.partition(".")
    if top not in KNOWN_KEYS:
        near = difflib.get_close_matches(top, sorted(KNOWN_KEYS), n=1)
        hint = f" Did you mean {near[0]}?" if near else ""
        raise BadInput(f"Unknown configuration key {top!r}.{hint}")
    if sub and top not in MAP_KEYS:
        raise BadInput(f"{top} is not a mapping: set it as {top}, without '.{sub}'.")
    return key


def parse_value(text: str) -> Any:
    """A value typed on the command line, read as YAML reads a scalar (`true`, `4`, `a`)."""
    try:
        value = yaml.safe_load(text) if text.strip() else text
    except yaml.YAMLError:
        value = text
    if isinstance(value, (list, dict)) or value is None:
        return text  # a flow list or `null` typed by mistake stays the text typed
    return value


def set_key(path: Path, key: str, text: str) -> Any:
    check_key(key)
    top, _, sub = key.partition(".")
    if top in LIST_KEYS:
        raise BadInput(f"{top} is a list: add to it with config append or prepend {top} VALUE.")
    if top in MAP_KEYS and not sub:
        raise BadInput(f"{top} maps names to values: config set {top}.NAME VALUE.")
    data = read_rc(path)
    value = parse_value(text)
    if sub:
        inner = data.get(top) or {}
        if not isinstance(inner, dict):
            raise BadInput(f"{path}: {top} is not a mapping; fix it first.")
        data[top] = {**inner, sub: value}
    else:
        data[top] = value
    write_rc(path, data)
    return value


def add_to_list(path: Path, key: str, values: Sequence[str], *, front: bool) -> list[Any]:
    """append (or prepend) `values` to the list `key`; a value already there moves, as
    conda moves it."""
    check_key(key)
    if key not in LIST_KEYS:
        raise BadInput(f"{key} is not a list: use config set {key} VALUE.")
    if not values:
        raise BadInput(f"Give the values to add, e.g. config append {key} conda-forge.")
    data = read_rc(path)
    current = data.get(key) or []
    if not isinstance(current, list):
        raise BadInput(f"{path}: {key} is not a list; fix it first.")
    rest = [v for v in current if v not in values]
    data[key] = [*values, *rest] if front else [*rest, *values]
    write_rc(path, data)
    return list(data[key])


def remove_key(path: Path, key: str) -> None:
    check_key(key)
    top, _, sub = key.partition(".")
    data = read_rc(path)
    found, _ = get_value(data, key)
    if not found:
        raise BadInput(f"{key} is not set in {path}: nothing to remove.")
    if sub:
        data[top] = {k: v for k, v in data[top].items() if k != sub}
    else:
        del data[top]
    write_rc(path, data)


def write_rc(path: Path, data: Mapping[str, Any]) -> None:
    """Check `data` as every command will read it, then replace the file whole."""
    text = yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.envmgr-tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        try:
            load_settings({"HOME": str(path.parent)}, rc_files=[tmp])
        except BadInput as exc:
            raise BadInput(f"Not written: {exc.message}") from None
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except OSError as exc:
        raise EnvMgrError(f"Cannot write {path}: {exc.strerror or exc}.") from None
    finally:
        tmp.unlink(missing_ok=True)
