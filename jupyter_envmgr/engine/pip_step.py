"""The `pip:` section of an environment file, installed with the env's own pip afterwards (as
conda and micromamba do), through a requirements file and an argv list: no shell."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import rattler

from .activation import activated_environ
from .errors import BadInput, EnvMgrError
from .progress import Event, EventSink


def check_pip_available(records: Sequence[rattler.RepoDataRecord], pip: Sequence[str]) -> None:
    if pip and not any(r.name.normalized == "pip" for r in records):
        raise BadInput(
            "The file has a 'pip:' section but the environment would have no pip: add 'pip' "
            "to its dependencies."
        )


def _index_args(index_urls: Sequence[str]) -> list[str]:
    """An admin's pip indexes, and nothing else: `--isolated` ignores pip.conf and PIP_*
    variables that could add other indexes or find-links."""
    if not index_urls:
        return []
    args = ["--isolated", "--index-url", index_urls[0]]
    for url in index_urls[1:]:
        args += ["--extra-index-url", url]
    return args


async def run_pip(
    prefix: Path,
    requirements: Sequence[str],
    on_event: EventSink,
    *,
    index_urls: Sequence[str] = (),
    options: Sequence[str] = (),
    what: str = "the 'pip:' section",
) -> None:
    """`requirements` were checked to be requirement specifiers only (pip_requirements.py),
    or are a lock's entries written by pip_lock.py from checked names, versions, hashes and
    URLs: no option line, path or VCS reaches pip. `options` are ours, never a user's."""
    import tempfile  # here: few envs have pip packages, and every command imports this module

    with tempfile.TemporaryDirectory(prefix="envmgr-pip-") as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text("\n".join(requirements) + "\n", encoding="utf-8")
        argv = [
            str(prefix / "bin" / "python"), "-m", "pip", "install", "--no-input",
            "--disable-pip-version-check", *_index_args(index_urls), *options, "-r", str(req),
        ]  # fmt: skip
        on_event(Event("pip-start", {"requirements": list(requirements)}))
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env=activated_environ(prefix),
            cwd=tmp,  # whatever pip writes beside it lands in our temp dir, not the server's
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        tail: list[str] = []
        try:
            assert proc.stdout is not None
            async for raw in proc.stdout:
                line = raw.decode(errors="replace").rstrip()
                tail = (tail + [line])[-15:]
                on_event(Event("pip-output", {"line": line}))
            code = await proc.wait()
        except BaseException:
            proc.kill()
            await proc.wait()
            raise
    if code != 0:
        raise EnvMgrError(f"pip install of {what} failed:\n" + "\n".join(tail))
