"""conda-meta records read without their file lists: enough to list and export an env.

A record lists every file of its package twice (`files`, and `paths_data` with a hash per
file): 5 MB of JSON for a 20,000-file package, which rattler parses while holding the GIL
(and converts to 20,000 `Path`s when asked for `files`): tens of ms during which a server's
event loop cannot run. Listing or exporting an env needs none of it, so those reads cut both
lists out of the JSON text first, with string searches and no parsing, and let rattler parse
the rest. `"dist-info"` keeps the paths inside `.dist-info/` folders: they tell which Python
distributions a record owns, so that the others are known to come from pip.

The cut relies on the layout every writer we know (conda, micromamba, rattler) gives a record:
pretty-printed, each member starting a line at one indent, nested lines indented deeper, a
multi-line value ending with its bracket on a line at the members' indent. A raw line break
never occurs inside a JSON string, so no file name can fake that layout. A record laid out
otherwise, one too small to be worth cutting, or one whose cut rattler refuses, is parsed whole.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

import rattler

FileLists = Literal["all", "dist-info", "none"]
"""Which of a record's file paths a reader needs: all of them (and `paths_data`), those inside
`.dist-info/` folders, or none."""

_EMPTIED = {"files": "[]", "paths_data": '{"paths": [], "paths_version": 1}'}
WORTH_CUTTING = 16 * 1024  # characters of JSON: below this, parsing it whole costs nothing
_OPENING = re.compile(r'\s*\{\n([ \t]+)"')
_CLOSER = {"[": "]", "{": "}"}
_DECODER = json.JSONDecoder()


def cut_file_lists(text: str, keep: FileLists) -> str | None:
    """The record `text` with the values of `files` and `paths_data` emptied (`files` keeps
    its paths inside `.dist-info/` folders when `keep` is "dist-info"); None when the text is
    not laid out as this module expects (parse it whole then), or `keep` is "all".

    Works on positions in `text`: a copy of a 5 MB value would cost more than the whole cut.
    """
    opening = _OPENING.match(text)
    if opening is None or keep == "all":
        return None
    indent = opening.group(1)
    member = "\n" + indent + '"'  # a line that starts a member
    end = _strip_end(text, 0, len(text))
    if text[end - 1 : end] != "}":
        return None
    end -= 1  # the top-level object's closing brace
    pieces: list[str] = []
    done = 0  # text[:done] is in pieces
    start = opening.end() - 1  # the first member's key
    while start < end:
        found = text.find(member, start, end)
        stop = end if found < 0 else found
        value_end = _strip_end(text, start, stop)
        if found >= 0:
            if text[value_end - 1] != ",":
                return None
            value_end = _strip_end(text, start, value_end - 1)
        try:
            key, colon = _DECODER.raw_decode(text, start)  # text[start] is the key's quote
        except ValueError:
            return None
        if not isinstance(key, str) or colon > value_end:
            return None
        colon = _skip_space(text, colon, value_end)
        if text[colon : colon + 1] != ":":
            return None
        value = _skip_space(text, colon + 1, value_end)
        if key in _EMPTIED and text.find("\n", value, value_end) >= 0:
            closer = _CLOSER.get(text[value])
            tail = "\n" + indent + (closer or "")
            if closer is None or not text.endswith(tail, value, value_end):
                return None
            inside = (value + 1, value_end - len(tail))
            replacement = _EMPTIED[key]
            if key == "files" and keep == "dist-info":
                paths = _dist_info_paths(text, *inside)
                if paths is None:
                    return None
                replacement = json.dumps(paths)
            pieces += [text[done:value], replacement]
            done = value_end
        start = stop + len(member) - 1
    pieces.append(text[done:])
    return "".join(pieces)


def _strip_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in " \t\r\n":
        end -= 1
    return end


def _skip_space(text: str, start: int, end: int) -> int:
    while start < end and text[start] in " \t\r\n":
        start += 1
    return start


def _dist_info_paths(text: str, start: int, end: int) -> list[str] | None:
    """The paths inside a `.dist-info/` folder of a `files` list (`text[start:end]`) laid out
    one path a line; None when a line holding `dist-info` is not one JSON string."""
    found = []
    at = text.find("dist-info", start, end)
    while at >= 0:
        line_start = text.rfind("\n", start, at) + 1
        line_end = text.find("\n", at, end)
        line_end = end if line_end < 0 else line_end
        line = text[line_start:line_end].strip().removesuffix(",")
        try:
            path = json.loads(line)
        except ValueError:
            return None
        if not isinstance(path, str):
            return None
        if "dist-info/" in path:
            found.append(path)
        at = text.find("dist-info", line_end, end)
    return found


def read_record(path: Path, files: FileLists, scratch: Path | None) -> rattler.PrefixRecord:
    """The record at `path`, its file lists cut as `files` says when that is worth it (through
    the file `scratch`, when given: rattler parses records from files only). Raises what
    rattler raises for a damaged record."""
    if files != "all" and scratch is not None:
        try:
            text = path.read_text(encoding="utf-8")
            cut = cut_file_lists(text, files) if len(text) >= WORTH_CUTTING else None
            if cut is not None:
                scratch.write_text(cut, encoding="utf-8")
                return rattler.PrefixRecord.from_path(scratch)
        except Exception:  # unreadable, or not what we expect: the whole parse says what
            pass
    return rattler.PrefixRecord.from_path(path)
