"""`python -m local.demo`: one night of the pipeline end to end (local/demo/demo.py)."""

import sys

from local.demo.demo import main

sys.exit(main())
