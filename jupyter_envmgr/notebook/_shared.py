"""What the notebook faces share with the CLI, from the floor below both (progress_text.py):
the one place this folder imports anything outside itself.

This folder is imported under two names, so that floor is too:
- in the server's Python this folder is `jupyter_envmgr.notebook`, and progress_text.py is
  `jupyter_envmgr.progress_text`: a plain relative import;
- in an env's kernel this folder is the top-level package `jupyter_envmgr_notebook` and
  jupyter_envmgr is not importable (the env's Python has neither it nor rattler); the
  provisioner (kernels/provisioner.py, `kernel_client_path`) links progress_text.py beside it
  as the top-level module `jupyter_envmgr_progress_text`, the name imported here.
mypy reads the first branch (`TYPE_CHECKING`), so the names keep their types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING or __package__ == "jupyter_envmgr.notebook":
    from ..progress_text import ProgressState, human_bytes
else:  # an env's kernel: see above
    from jupyter_envmgr_progress_text import ProgressState, human_bytes

__all__ = ["ProgressState", "human_bytes"]
