"""The verifier's tests share a helper module beside them (`verify_support`); pytest's
importlib mode does not put this folder on the import path by itself."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
