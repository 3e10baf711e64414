"""What runs on this machine, never in AWS: the emulator, the export emulator, PostgreSQL tooling, the demo, the
bench and the build of the job's script.

Importing it puts glue/ on sys.path, so the job's package is `sor_job` here exactly as in the tests (pytest's
pythonpath) and in the shipped script (local/build/job_bundle.py): one name, so one copy of each class per process.
"""

import sys
from pathlib import Path

_GLUE = str(Path(__file__).resolve().parents[1] / "glue")
if _GLUE not in sys.path:
    sys.path.append(_GLUE)
