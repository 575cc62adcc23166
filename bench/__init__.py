"""Benchmarks of jupyter_envmgr against its floor (py-rattler) and its peers (uv, pip).

`python -m bench [--quick] [--json FILE]` runs every figure and prints one table (see
docs/bench.md); the modules here are also runnable one by one (`python bench/startup.py`).
"""
