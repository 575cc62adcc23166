"""The Jupyter config files `jupyter server` reads (jupyter_config, jupyter_server_config), read
outside the server, so that the CLI names, excludes and keeps read-only exactly as it does.

Two readers: `load_jupyter_config` (traitlets, runs `.py` files too) and `read_json_config`
(json only, for the CLI after each change: traitlets alone costs ~30 ms to import). The second
gives up (None) when a `.py` config file is there, and its caller then uses the first.
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any

from jupyter_core.paths import jupyter_config_path

if TYPE_CHECKING:
    from traitlets.config import Config

CONFIG_BASES = ("jupyter_config", "jupyter_server_config")
log = logging.getLogger(__name__)


def load_jupyter_config() -> Config:
    """The whole config, as traitlets loads it."""
    from traitlets.config import Config
    from traitlets.config.loader import (
        ConfigFileNotFound,
        JSONFileConfigLoader,
        PyFileConfigLoader,
    )

    config = Config()
    for directory in reversed(jupyter_config_path()):  # lowest priority first
        for base in CONFIG_BASES:
            for loader_class in (PyFileConfigLoader, JSONFileConfigLoader):
                suffix = ".py" if loader_class is PyFileConfigLoader else ".json"
                loader = loader_class(base + suffix, path=directory)
                try:
                    config.merge(loader.load_config())
                except ConfigFileNotFound:
                    continue
                except Exception as exc:  # a broken user config must not break `envmgr`
                    log.warning("Ignoring config file %s: %s", loader.full_filename, exc)
    return config


def read_json_config() -> dict[str, Any] | None:
    """The same config as plain dicts, when it is all JSON files; None when a `.py` config
    file (or a JSON file of a format version other than 1) needs traitlets."""
    merged: dict[str, Any] = {}
    for directory in reversed(jupyter_config_path()):
        for base in CONFIG_BASES:
            if os.path.exists(os.path.join(directory, base + ".py")):
                return None
            path = os.path.join(directory, base + ".json")
            try:
                with open(path, encoding="utf-8") as file:
                    data = json.load(file)
            except FileNotFoundError:
                continue
            except (OSError, ValueError) as exc:  # as load_jupyter_config: warn and go on
                log.warning("Ignoring config file %s: %s", path, exc)
                continue
            if not isinstance(data, dict):
                log.warning("Ignoring config file %s: not a JSON object", path)
                continue
            if data.pop("version", 1) != 1:
                return None
            _merge(merged, data)
    return merged


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    """traitlets' Config.merge: sections (capitalised keys) merge key by key, other values
    (a dict-valued option too) are replaced."""
    for key, value in new.items():
        if key[:1].isupper() and isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
