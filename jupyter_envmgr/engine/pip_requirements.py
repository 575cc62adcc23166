"""The lines of an env file's `pip:` section: plain requirement specifiers, nothing else.

pip reads them from a requirements file, where a line can also be an option (`--index-url`,
`-r other.txt`, `-e ./src`), a URL, a VCS checkout or a local path: each of those makes pip fetch
from, or run code out of, places no channel policy sees. So a line must be a name with optional
extras, version specifiers and environment markers, as `packaging` reads one, and must hold
nothing pip's requirements-file reader would treat specially (options anywhere in the line,
`${VAR}` expansion, `\\` continuation, archive file names).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .errors import BadInput

MAX_PIP_LINE_CHARS = 1000
ALLOWED = (
    "only requirement specifiers such as 'requests>=2.31', 'requests[socks]>=2.31,<3' or "
    "\"numpy; python_version>='3.9'\" are allowed"
)
# pip installs `name.whl` or `name.tar.gz` from the current folder when such a file exists.
_ARCHIVE_SUFFIXES = (
    ".whl", ".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tlz",
    ".tar.lz", ".tar.lzma",
)  # fmt: skip
_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def check_pip_requirements(lines: Sequence[str], source: str) -> list[str]:
    """The stripped lines, once each is a plain requirement specifier; else BadInput naming
    `source` and the line."""
    return [check_pip_requirement(line, source) for line in lines]


def check_pip_requirement(line: str, source: str) -> str:
    if not isinstance(line, str):
        raise BadInput(f"{source}: a pip line must be text; {ALLOWED}.")
    text = line.strip()
    problem = _problem(text)
    if problem:
        shown = text if len(text) <= 120 else text[:120] + "..."
        raise BadInput(f"{source}: pip line {shown!r} {problem}; {ALLOWED}.")
    return text


def _problem(text: str) -> str | None:
    """Why pip would read `text` as more than a requirement specifier (None: it would not)."""
    if not text:
        return "is empty"
    if len(text) > MAX_PIP_LINE_CHARS:
        return f"is longer than {MAX_PIP_LINE_CHARS} characters"
    if _CONTROL_CHARS.search(text):
        return "holds a control character (a line break would start another line)"
    return _option_problem(text) or _location_problem(text) or _syntax_problem(text)


def _option_problem(text: str) -> str | None:
    # pip's reader starts the options at the first space-separated word beginning with '-',
    # even inside a quoted marker value.
    if text.startswith("-"):
        return "is a pip option"
    if any(word.startswith("-") for word in text.split()):
        return "holds a pip option (a word starting with '-')"
    if "\\" in text:
        return "holds a '\\' (a path, or a line continuation for pip)"
    if "$" in text:
        return "holds a '$' (pip expands ${VARIABLES} in requirement lines)"
    return None


def _location_problem(text: str) -> str | None:
    head = text.split(";", 1)[0].strip()  # the part before any environment marker
    lowered = head.lower()
    if lowered.startswith(_VCS_PREFIXES):
        return "is a VCS checkout"
    if "@" in head:
        return "is a direct reference ('name @ URL')"
    if ":" in head:  # no name, extra or version holds one; a URL ('file:', 'https://') does
        return "is a URL"
    if head.startswith((".", "~", "/")) or "/" in head:
        return "is a path"
    if lowered.endswith(_ARCHIVE_SUFFIXES):
        return "is an archive file name (pip would install a local file)"
    return None


def _syntax_problem(text: str) -> str | None:
    # Imported here: only env files with pip sections get this far, and packaging costs ~10 ms
    # of every CLI command's start otherwise.
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        return f"is not a requirement specifier ({str(exc).splitlines()[0]})"
    if requirement.url:
        return "is a direct reference ('name @ URL')"
    return None
