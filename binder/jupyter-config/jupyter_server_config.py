# The server's root is the demo's notebooks/ folder (scripts/demo-env.sh, made by
# scripts/demo-prepare): the notebook a user runs there is a working copy, so the tracked
# examples/demo.ipynb never takes outputs or kernel switches. A root given on the command line wins.
import os

c = get_config()  # type: ignore[name-defined]  # noqa: F821
notebooks = os.environ.get("ENVMGR_DEMO_NOTEBOOKS", "")
if notebooks and os.path.isdir(notebooks):  # not there before scripts/demo-prepare ran
    c.ServerApp.root_dir = notebooks
