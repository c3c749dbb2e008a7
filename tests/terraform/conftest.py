"""Make tf_helpers importable by the Terraform tests under --import-mode=importlib,
which leaves sys.path alone."""

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
