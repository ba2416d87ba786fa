"""Outside bots copy unibot_client.py next to their own code and import it as a top-level module; the tests
import it the same way, which also proves it needs nothing from this project."""

from __future__ import annotations

import sys
from pathlib import Path

_CLIENT_DIR = str(Path(__file__).resolve().parents[2] / "clients" / "python")
if _CLIENT_DIR not in sys.path:
    sys.path.insert(0, _CLIENT_DIR)
