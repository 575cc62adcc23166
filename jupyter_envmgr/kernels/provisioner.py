"""Start a kernel with its environment activated, as `micromamba activate` would.

A `LocalProvisioner` that only changes the environment variables in `pre_launch` (PATH,
CONDA_PREFIX, CONDA_DEFAULT_ENV, `conda-meta/state` variables, the effects of
`etc/conda/activate.d/*.sh`) and leaves launching, signals and shutdown to jupyter_client.
Kernelspecs name it by its entry point, `envmgr-provisioner`, with the env in its config.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from traitlets import Unicode

from ..engine.activation import activated_environ
from ..engine.errors import EnvMgrError
from ..engine.prefix import is_conda_prefix

PROVISIONER_NAME = "envmgr-provisioner"


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
            # Activation sources shell scripts: keep the server's event loop free meanwhile.
            env = await asyncio.to_thread(activated_environ, prefix, base, self.env_name)
        except EnvMgrError as exc:
            raise RuntimeError(f"Cannot activate {prefix} for the kernel: {exc.message}") from None
        kwargs["env"] = env
        return await super().pre_launch(**kwargs)

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
