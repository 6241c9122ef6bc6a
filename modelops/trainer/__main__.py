"""`python -m modelops.trainer`: see modelops.trainer.cli."""

import logging
import os
import sys

from modelops.trainer.cli import main

code = main()
# Everything is written and closed by now (the model version, the result, the termination
# message). Tearing down the interpreter's ~2,000 modules would cost a train Job ~0.35 s of CPU
# for nothing, a fifth of its fixed cost on a small dataset (bench/training): leave at once.
logging.shutdown()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
