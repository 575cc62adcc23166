"""`python -m bench`: every figure, one table (see bench/run.py)."""

import os
import sys

from bench.run import main

code = main()
sys.stdout.flush()
sys.stderr.flush()
# rattler may crash while the interpreter finalizes: leave without finalizing.
os._exit(code)
