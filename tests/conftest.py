"""Shared test set-up: makes ``tests/helpers.py`` importable as ``helpers`` from every test package."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
