# shellcheck shell=bash
# The demo's environment, sourced by scripts/demo, scripts/demo-prepare and binder/start.
# Everything of the demo lives in one folder, $ENVMGR_DEMO_DIR (default: .demo in the repo):
#   root/      the root prefix (MAMBA_ROOT_PREFIX): envs/demo and the package cache pkgs/
#   condarc    the channel the demo uses (CONDARC), written by scripts/demo-prepare
#   notebooks/ the server's root: a working copy of examples/demo.ipynb (scripts/demo-prepare),
#              so the user's outputs and kernel switches never touch the tracked file
# The server, the envs' kernels (%envmgr) and `envmgr` in a terminal all read these two.
# Bash only (it is sourced): no `set` here, the caller's options stay as they are.
ENVMGR_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ENVMGR_DEMO_DIR="${ENVMGR_DEMO_DIR:-$ENVMGR_REPO/.demo}"
export MAMBA_ROOT_PREFIX="$ENVMGR_DEMO_DIR/root"
export CONDARC="$ENVMGR_DEMO_DIR/condarc"
export ENVMGR_DEMO_NOTEBOOKS="$ENVMGR_DEMO_DIR/notebooks"
