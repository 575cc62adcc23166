"""jupyter_envmgr: conda environments as first-class citizens of Jupyter."""

__version__ = "0.1.0"
