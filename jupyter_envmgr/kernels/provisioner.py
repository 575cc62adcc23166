"""Start a kernel with its environment activated, as `micromamba activate` would.

A `LocalProvisioner` that only changes the environment variables in `pre_launch` (PATH,
CONDA_PREFIX, CONDA_DEFAULT_ENV, `conda-meta/state` variables, the effects of
`etc/conda/activate.d/*.sh`) and leaves launching, signals and shutdown to jupyter_client.
Kernelspecs name it by its entry point, `envmgr-provisioner`, with the env in its config.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from jupyter_core.paths import jupyter_runtime_dir
from traitlets import Unicode

from ..engine.activation import activate_scripts, activated_environ, base_activation
from ..engine.errors import EnvMgrError
from ..engine.prefix import is_conda_prefix
from .specs import PROVISIONER_NAME

# The import names of jupyter_envmgr/notebook/ and of the floor it stands on
# (jupyter_envmgr/progress_text.py, which notebook/_shared.py imports by this name) inside env
# kernels, and the variable naming the Python that has jupyter_envmgr (the kernel-side client
# reads it: notebook/client.py).
CLIENT_PACKAGE = "jupyter_envmgr_notebook"
CLIENT_SHARED_MODULE = "jupyter_envmgr_progress_text"
CLIENT_PYTHON_VAR = "ENVMGR_PYTHON"


def kernel_client_links() -> dict[str, Path]:
    """What the kernel path folder holds: each name env kernels import, and what it links to."""
    package = Path(__file__).resolve().parent.parent
    return {
        CLIENT_PACKAGE: package / "notebook",
        f"{CLIENT_SHARED_MODULE}.py": package / "progress_text.py",
    }


def kernel_client_path() -> Path:
    """A folder holding only the kernel-side client, under the names env kernels import it by
    (links to jupyter_envmgr/notebook/ and progress_text.py, refreshed in case this package
    moved)."""
    folder = Path(jupyter_runtime_dir()) / "envmgr-kernel-path"
    folder.mkdir(parents=True, exist_ok=True)
    for name, target in kernel_client_links().items():
        link = folder / name
        if not link.is_symlink() or Path(os.readlink(link)) != target:
            tmp = folder / f".{name}.{os.getpid()}"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(target, target_is_directory=target.is_dir())
            os.replace(tmp, link)
    return folder


def kernel_client_environ(env: dict[str, str]) -> dict[str, str]:
    path = str(kernel_client_path())
    rest = env.get("PYTHONPATH")
    return {
        "PYTHONPATH": path + (os.pathsep + rest if rest else ""),
        CLIENT_PYTHON_VAR: sys.executable,
    }


class EnvProvisioner(LocalProvisioner):
    """Launches a local kernel inside an activated conda environment."""

    env_prefix = Unicode(
        "", help="Path of the environment to activate (from the kernelspec's provisioner config)."
    ).tag(config=True)
    env_name = Unicode(
        None,
        allow_none=True,
        help="Name of the environment (CONDA_DEFAULT_ENV); None for an env given by path.",
    ).tag(config=True)

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        prefix = self._prefix()
        base = kwargs.get("env")
        base = dict(os.environ if base is None else base)
        try:
            if activate_scripts(prefix):
                # Activation sources shell scripts: keep the server's event loop free meanwhile.
                env = await asyncio.to_thread(activated_environ, prefix, base, self.env_name)
            else:
                # A few reads: at once, rather than wait for a free worker thread, which a busy
                # server (size walks after a create) may not have.
                env = base_activation(prefix, base, self.env_name)
        except EnvMgrError as exc:
            raise RuntimeError(f"Cannot activate {prefix} for the kernel: {exc.message}") from None
        if self._is_ipykernel():
            # `%envmgr` in every env's kernel with no setup step, and nothing written into
            # the env: a folder holding only the kernel-side client goes on PYTHONPATH, the
            # server's Python is named for it, and IPython loads it as an extension.
            env.update(kernel_client_environ(env))
            extra = list(kwargs.get("extra_arguments") or [])
            kwargs["extra_arguments"] = [*extra, f"--ext={CLIENT_PACKAGE}"]
        kwargs["env"] = env
        return await super().pre_launch(**kwargs)

    def _is_ipykernel(self) -> bool:
        spec = getattr(self, "kernel_spec", None)
        argv = list(getattr(spec, "argv", None) or [])
        return any("ipykernel" in str(arg) for arg in argv)

    def _prefix(self) -> Path:
        if not self.env_prefix:
            raise RuntimeError(
                f"The kernelspec names the {PROVISIONER_NAME} provisioner without an env_prefix "
                "in its config; reinstall it with 'envmgr kernels --sync'."
            )
        prefix = Path(self.env_prefix)
        if not is_conda_prefix(prefix):
            raise RuntimeError(
                f"The environment {prefix} of this kernel no longer exists (it was removed). "
                "Choose another kernel."
            )
        return prefix
