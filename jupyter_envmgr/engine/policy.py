"""What an admin allows: channels, read-only envs, cache cleaning. Checked by every face that
changes an environment on a user's behalf (the server today)."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import Forbidden
from .prefix import META
from .registry import Env, owner_of, user_name
from .urls import package_channel, url_is_under


@dataclass(frozen=True)
class Policy:
    # Channel URLs (or URL prefixes) users may solve from; empty means any.
    allowed_channels: tuple[str, ...] = ()
    # Env names or prefixes (fnmatch patterns) that are listed and usable but never changed.
    read_only_envs: tuple[str, ...] = ()
    # Whole folders whose envs are read-only (e.g. a site-wide envs dir).
    read_only_dirs: tuple[str, ...] = ()
    allow_clean: bool = True
    # Package indexes a `pip:` section may install from. Under an allow list pip is refused
    # unless this names the indexes; without one, pip uses its own configuration.
    pip_index_urls: tuple[str, ...] = ()

    def is_read_only(self, env: Env) -> bool:
        return self.read_only_reason(env) is not None

    def read_only_reason(self, env: Env) -> str | None:
        """Why `env` may not be changed here, in words, or None when it may: the admin's rule,
        or file permissions (a site environment another user owns: say so before trying)."""
        if env.is_root and not self.read_only_envs and not self.read_only_dirs:
            return None
        rule = self._read_only_rule(env)
        if rule is not None:
            return f"The administrator made this environment read-only: {rule}."
        meta = env.prefix / META
        if meta.exists() and not os.access(meta, os.W_OK):
            return (
                f"It belongs to {owner_of(meta)} and you ({user_name(os.geteuid())}) cannot "
                f"write {env.prefix} (file permissions): a site environment is used, not changed."
            )
        return None

    def _read_only_rule(self, env: Env) -> str | None:
        """The admin's rule that makes `env` read-only (existing or not yet made), or None."""
        names = [env.prefix.as_posix()] + ([env.name] if env.name else [])
        for pat in self.read_only_envs:
            if any(fnmatch.fnmatchcase(n, pat) for n in names):
                return f"it matches the read-only environments pattern {pat!r}"
        for folder in self.read_only_dirs:
            if _inside(env.prefix, Path(folder)):
                return f"it would be inside the read-only folder {folder}"
        return None

    def check_creatable(self, env: Env) -> None:
        """A new env the policy would make read-only is refused: once made, nobody could
        change or remove it (read-only means read-only from the start)."""
        rule = self._read_only_rule(env)
        if rule is not None:
            raise Forbidden(
                f"Cannot create the environment {env.label}: {rule}, so it could never be "
                "changed or removed here. Choose another name or folder."
            )

    def check_writable(self, env: Env) -> None:
        reason = self.read_only_reason(env)
        if reason is not None:
            raise Forbidden(
                f"The environment {env.label} is read-only here. {reason} Clone it to change "
                f"it: envmgr create -n NEW_NAME --clone {env.name or env.prefix}. Nothing was "
                "changed."
            )

    def check_channels(self, channel_urls: Sequence[str]) -> None:
        """Every channel (a canonical URL, see urls.py) must be at or below an allowed one."""
        if not self.allowed_channels:
            return
        for url in channel_urls:
            if not any(url_is_under(url, allowed) for allowed in self.allowed_channels):
                raise Forbidden(
                    f"The channel {url} is not allowed on this server; allowed: "
                    f"{', '.join(self.allowed_channels)}."
                )

    def check_package_urls(self, urls: Sequence[str]) -> None:
        """Package URLs (explicit and lock files, `pkg[url=...]`, clones, rollbacks): the
        channel each one comes from must be allowed."""
        if self.allowed_channels:
            self.check_channels(sorted({package_channel(u) for u in urls}))

    def check_pip(self, lines: Sequence[str]) -> None:
        if lines and self.allowed_channels and not self.pip_index_urls:
            raise Forbidden(
                "This server only installs from its allowed channels; 'pip:' sections are "
                "disabled (an admin can allow them with c.EnvMgrExtension.pip_index_urls)."
            )

    def check_clean(self) -> None:
        if not self.allow_clean:
            raise Forbidden("Cleaning the shared package cache is disabled on this server.")


def _inside(path: Path, folder: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(folder))
        return True
    except ValueError:
        return False
