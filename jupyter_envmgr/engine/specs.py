"""User text -> channels and MatchSpecs, with errors that say what to write instead."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import rattler

from .dependencies import match_spec_name
from .errors import BadInput, ChannelError
from .rattler_guard import rattler_guard
from .settings import Settings
from .urls import canonical_url, parse_url

_CHANNEL_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")
SPEC_EXAMPLES = "Write specs like 'numpy', 'numpy>=1.26', 'numpy=1.26.4' or 'conda-forge::numpy'."


def channel_url(text: str, settings: Settings) -> str:
    """A channel name, URL or local folder -> the canonical URL rattler reads (see urls.py).

    Nothing is probed on disk here: policy is checked on the result first, so that a channel
    outside the allow list is refused the same whether or not it exists (`check_local_channels`
    looks at folders afterwards)."""
    if not isinstance(text, str) or not text.strip() or any(ord(c) < 32 for c in text):
        raise ChannelError("A channel is empty or contains control characters.")
    text = text.strip()
    if "://" in text:
        return canonical_url(text)
    if text.startswith(("/", "./", "../", "~")):
        return canonical_url("file://" + os.path.abspath(os.path.expanduser(text)))
    if not _CHANNEL_NAME_RE.fullmatch(text):
        raise ChannelError(
            f"{text!r} is not a channel name: use a name such as 'conda-forge', a URL, or a "
            "local folder path."
        )
    first = text.split("/", 1)[0]
    if first in settings.custom_channels:
        return canonical_url(f"{settings.custom_channels[first]}/{text}")
    return canonical_url(f"{settings.channel_alias}/{text}")


def check_local_channels(urls: Sequence[str]) -> None:
    """file:// channels must be folders: say so before a solve fails on them."""
    for url in urls:
        parsed = parse_url(url)
        if parsed.scheme == "file" and not Path(parsed.path).is_dir():
            raise ChannelError(f"Channel {url}: the folder {parsed.path} does not exist.")


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
    channel: str | None  # the canonical URL of `channel::` or `[channel=...]` when given
    url: str | None = None  # the canonical package URL of `[url=...]` or a spec that is a URL


# rattler panics on numbers that overflow 64 bits (a build number of 20 digits): no real
# version or build has such a run of digits, so it is refused before rattler sees it.
_LONG_NUMBER = re.compile(r"\d{19,}")
_URL_KEY = re.compile(r'url="([^"]*)"')


def _spec_url(spec: rattler.MatchSpec) -> str | None:
    """The package URL of `pkg[url=...]` (rattler keeps it only in the canonical text)."""
    match = _URL_KEY.search(str(spec))
    return canonical_url(match.group(1)) if match else None


def parse_spec(text: str, settings: Settings) -> Spec:
    if not isinstance(text, str):
        raise BadInput(f"A package spec must be text, not {type(text).__name__}. {SPEC_EXAMPLES}")
    text = text.strip()
    if not text:
        raise BadInput(f"A package spec is empty. {SPEC_EXAMPLES}")
    if any(ord(c) < 32 for c in text) or len(text) > 500:
        raise BadInput(f"Package spec {text[:60]!r} has control characters or is too long.")
    if _LONG_NUMBER.search(text):
        raise BadInput(f"Package spec {text!r} has a number too large for a version or build.")
    channel = None
    body = text
    if "::" in text:
        # rattler only accepts URLs before '::' (not channel names), so resolve names ourselves.
        channel_text, body = text.rsplit("::", 1)
        channel = channel_url(channel_text, settings)
    try:
        with rattler_guard(f"reading the spec {text!r}", BadInput):
            spec = rattler.MatchSpec(body)
    except BadInput:
        raise
    except Exception as exc:  # rattler raises its own exception types, all with a message
        raise BadInput(f"Could not read package spec {text!r}: {exc}. {SPEC_EXAMPLES}") from None
    if spec.name is None:
        raise BadInput(f"Package spec {text!r} names no package. {SPEC_EXAMPLES}")
    name = match_spec_name(spec)
    if "*" in name:
        raise BadInput(f"Package spec {text!r}: wildcards in package names are not supported.")
    if spec.channel is not None:
        inner = channel_url(str(spec.channel.base_url), settings)
        if channel is not None and inner != channel:
            raise BadInput(f"Package spec {text!r} names two channels; give one.")
        channel = inner
    url = _spec_url(spec)
    if channel is not None:
        with rattler_guard(f"reading the spec {text!r}", BadInput):
            spec = rattler.MatchSpec(f"{channel}::{_without_channel_key(body)}")
    return Spec(text=text, name=name, match_spec=spec, channel=channel, url=url)


def _without_channel_key(body: str) -> str:
    """`pkg[channel=X, version=1]` -> `pkg[version=1]`: the channel goes before '::' instead."""
    spec = rattler.MatchSpec(body)
    if spec.channel is None:
        return body
    canonical = str(spec)
    stripped = re.sub(r'channel="[^"]*",?\s*', "", canonical).replace(", ]", "]")
    return stripped.replace("[]", "")


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
    --override-channels), then channels named only in `channel::pkg` specs. (The channels of
    the specs kept in an env's history come after all of these: `kept_channels`.)"""
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


def kept_specs(history: Mapping[str, str], new: Sequence[Spec], settings: Settings) -> list[Spec]:
    """What a solve on an existing env asks for: the user's earlier specs by package name, each
    replaced by a new spec for the same package. History keeps specs as they were written
    (`conda-forge::numpy`): they are read the same way, a channel name through channel_alias
    and custom_channels, so that they name the channel, by its canonical URL, they named then."""
    by_name = {name: parse_spec(text, settings) for name, text in history.items()}
    for spec in new:
        by_name[spec.name] = spec
    return list(by_name.values())


def sticky_channels(
    new: Sequence[Spec], history: Mapping[str, str], settings: Settings
) -> list[Spec]:
    """`update NAME`: NAME stays in the channel its history spec pins it to (`chan::NAME`), as
    conda keeps a requested package's channel until the user names another; else the update
    would take NAME from whichever channel comes first, an older build elsewhere included. The
    spec keeps the channel as history wrote it (`bioconda::beta`), so it is recorded so again."""
    out = []
    for spec in new:
        text = history.get(spec.name)
        if spec.channel is None and spec.url is None and text is not None:
            pinned = parse_spec(text, settings)
            if pinned.channel is not None:
                channel = text.rsplit("::", 1)[0] if "::" in text else pinned.channel
                spec = parse_spec(f"{channel}::{spec.text}", settings)
        out.append(spec)
    return out


def kept_channels(specs: Sequence[Spec], channels: Sequence[str]) -> dict[str, str]:
    """The channels of `channel::pkg` specs (from `kept_specs`) that `channels` lacks, each with
    the first spec naming it. conda and micromamba search them too, after the requested ones:
    without them a package pinned to its channel could not be solved for again."""
    kept: dict[str, str] = {}
    for spec in specs:
        if spec.channel and spec.channel not in channels and spec.channel not in kept:
            kept[spec.channel] = spec.text
    return kept
