"""User text -> channels and MatchSpecs, with errors that say what to write instead."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import rattler

from .errors import BadInput, ChannelError
from .settings import Settings

_CHANNEL_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")
SPEC_EXAMPLES = "Write specs like 'numpy', 'numpy>=1.26', 'numpy=1.26.4' or 'conda-forge::numpy'."


def channel_url(text: str, settings: Settings) -> str:
    """A channel name, URL or local folder -> the URL rattler reads (no trailing slash)."""
    if not isinstance(text, str) or not text.strip() or any(ord(c) < 32 for c in text):
        raise ChannelError("A channel is empty or contains control characters.")
    text = text.strip()
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in ("http", "https", "file"):
            raise ChannelError(
                f"Channel {text!r} uses the unsupported scheme {scheme!r}: use https://, "
                "http:// or file://, or a channel name such as 'conda-forge'."
            )
        if scheme == "file":
            folder = Path(text[len("file://") :])
            if not folder.is_dir():
                raise ChannelError(f"Channel {text!r}: the folder {folder} does not exist.")
        return text.rstrip("/")
    if text.startswith(("/", "./", "../", "~")):
        folder = Path(os.path.abspath(os.path.expanduser(text)))
        if not folder.is_dir():
            raise ChannelError(f"Channel {text!r}: the folder {folder} does not exist.")
        return "file://" + str(folder)
    if not _CHANNEL_NAME_RE.match(text):
        raise ChannelError(
            f"{text!r} is not a channel name: use a name such as 'conda-forge', a URL, or a "
            "local folder path."
        )
    first = text.split("/", 1)[0]
    if first in settings.custom_channels:
        return f"{settings.custom_channels[first]}/{text}"
    return f"{settings.channel_alias}/{text}"


def channel_urls(texts: Sequence[str], settings: Settings) -> list[str]:
    urls: list[str] = []
    for text in texts:
        url = channel_url(text, settings)
        if url not in urls:
            urls.append(url)
    return urls


@dataclass(frozen=True)
class Spec:
    """One requested spec: what the user wrote and what we hand the solver."""

    text: str  # as the user wrote it, recorded in history
    name: str
    match_spec: rattler.MatchSpec
    channel: str | None  # the URL of `channel::` when given


def parse_spec(text: str, settings: Settings) -> Spec:
    if not isinstance(text, str):
        raise BadInput(f"A package spec must be text, not {type(text).__name__}. {SPEC_EXAMPLES}")
    text = text.strip()
    if not text:
        raise BadInput(f"A package spec is empty. {SPEC_EXAMPLES}")
    if any(ord(c) < 32 for c in text) or len(text) > 500:
        raise BadInput(f"Package spec {text[:60]!r} has control characters or is too long.")
    channel = None
    body = text
    if "::" in text:
        # rattler only accepts URLs before '::' (DESIGN.md), so resolve names ourselves.
        channel_text, body = text.rsplit("::", 1)
        channel = channel_url(channel_text, settings)
    try:
        spec = rattler.MatchSpec(body)
    except Exception as exc:  # rattler raises its own exception types, all with a message
        raise BadInput(f"Could not read package spec {text!r}: {exc}. {SPEC_EXAMPLES}") from None
    if spec.name is None:
        raise BadInput(f"Package spec {text!r} names no package. {SPEC_EXAMPLES}")
    name = spec.name.normalized if hasattr(spec.name, "normalized") else str(spec.name)
    if "*" in name:
        raise BadInput(f"Package spec {text!r}: wildcards in package names are not supported.")
    if spec.channel is not None and channel is None:
        channel = str(spec.channel.base_url).rstrip("/")
    if channel is not None:
        spec = rattler.MatchSpec(f"{channel}::{body}")
    return Spec(text=text, name=name, match_spec=spec, channel=channel)


def parse_specs(texts: Sequence[str], settings: Settings) -> list[Spec]:
    specs = [parse_spec(t, settings) for t in texts]
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.name in seen:
            raise BadInput(
                f"'{spec.name}' is requested twice ({seen[spec.name]!r} and {spec.text!r}). "
                "Give one spec per package."
            )
        seen[spec.name] = spec.text
    return specs


def solver_channels(
    requested: Sequence[str], specs: Sequence[Spec], settings: Settings, override: bool
) -> list[str]:
    """Channel URLs in priority order: `-c` channels first, then the configured ones (unless
    --override-channels), then channels named only in `channel::pkg` specs."""
    names = list(requested) if override else list(requested) + list(settings.channels)
    urls = channel_urls(names, settings)
    for spec in specs:
        if spec.channel and spec.channel not in urls:
            urls.append(spec.channel)
    if not urls:
        raise ChannelError(
            "No channels to search: give one with -c CHANNEL, or drop --override-channels."
        )
    return urls
