"""One canonical form for every URL we may fetch, so that what policy checks is what is fetched.

A URL a user wrote can name one place in many spellings: `HTTPS://Host:443/a/./b/../c/`,
`http://host/a/%2e%2e/c`, `http://host/a\\..\\c` (URL parsers read `\\` as `/`). Checking the
text against an allow list lets `<allowed>/../other` through. So every channel URL, package URL
and allow-list entry goes through `canonical_url` first: scheme and host lower-cased, default
port dropped, the path percent-decoded once, dot segments removed, the trailing slash dropped,
then quoted again. The result is both what policy compares and what rattler is handed.
Nothing here touches the disk or the network.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from .errors import ChannelError

SCHEMES = ("http", "https", "file")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters left as they are when the decoded path is quoted again.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


@dataclass(frozen=True)
class ParsedUrl:
    scheme: str
    host: str  # lower case, no trailing dot; "" for file://
    port: int | None  # None when it is the scheme's default
    path: str  # decoded, absolute, no dot segments, no trailing slash ("" for the root)

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(s for s in self.path.split("/") if s)

    def __str__(self) -> str:
        netloc = self.host if self.port is None else f"{self.host}:{self.port}"
        if ":" in self.host:  # an IPv6 literal
            netloc = f"[{self.host}]" + ("" if self.port is None else f":{self.port}")
        return f"{self.scheme}://{netloc}{quote(self.path, safe=_PATH_SAFE)}"


def _bad(text: str, why: str) -> ChannelError:
    return ChannelError(f"{text!r} is not a usable URL: {why}.")


def _remove_dot_segments(path: str) -> str:
    # normpath keeps a leading '//' (POSIX allows it to mean something else): fold it first.
    normal = posixpath.normpath("/" + path.lstrip("/"))
    return "" if normal == "/" else normal


def parse_url(text: str) -> ParsedUrl:
    """Check and take apart a URL; raise ChannelError saying what is wrong with it."""
    if not isinstance(text, str) or not text.strip():
        raise ChannelError("A URL is empty.")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise _bad(text[:80], "it contains control characters")
    raw = text.strip()
    scheme = raw.split("://", 1)[0].lower() if "://" in raw else ""
    if scheme not in SCHEMES:
        what = f"the unsupported scheme {scheme!r}" if scheme else "no scheme"
        raise _bad(raw, f"it has {what}; use https://, http:// or file://")
    if scheme != "file":
        # WHATWG parsers (rattler's among them) read a backslash as a slash in these schemes.
        raw = raw.replace("\\", "/")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:  # '[::1', a port that is not a number or out of range
        raise _bad(raw, str(exc)) from None
    if parts.query or parts.fragment:
        raise _bad(raw, "a channel URL has no '?query' or '#fragment'")
    if parts.username is not None or parts.password is not None:
        raise _bad(raw, "credentials in URLs are not supported; configure them for the channel")
    host = (parts.hostname or "").rstrip(".")
    if not host.isascii():
        raise _bad(raw, "the host name must be ASCII (use its xn-- form)")
    if scheme == "file":
        if host not in ("", "localhost"):
            raise _bad(raw, "a file:// URL names a local folder: file:///absolute/path")
        host = ""
    elif not host:
        raise _bad(raw, "it names no host")
    path = _remove_dot_segments(unquote(parts.path))
    if scheme == "file" and not path:
        raise _bad(raw, "it names no folder: use file:///absolute/path")
    if port == _DEFAULT_PORTS.get(scheme):
        port = None
    return ParsedUrl(scheme, host, port, path)


def canonical_url(text: str) -> str:
    return str(parse_url(text))


def url_is_under(url: str, base: str) -> bool:
    """Whether `url` is `base` or a path below it (both canonical or not: compared parsed)."""
    a, b = parse_url(url), parse_url(base)
    if (a.scheme, a.host, a.port) != (b.scheme, b.host, b.port):
        return False
    return a.segments[: len(b.segments)] == b.segments


def package_channel(url: str) -> str:
    """`<channel>/<subdir>/<file>` -> the canonical `<channel>`."""
    parsed = parse_url(url)
    segments = parsed.segments
    if len(segments) < 2:
        raise _bad(url, "a package URL ends in <channel>/<subdir>/<file>")
    parent = "/" + "/".join(segments[:-2])
    return str(ParsedUrl(parsed.scheme, parsed.host, parsed.port, _remove_dot_segments(parent)))
