"""`python -m modelops.trainer`: see modelops.trainer.cli."""

import sys

from modelops.trainer.cli import main

sys.exit(main())
