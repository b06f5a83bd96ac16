"""``python -m avsync`` runs the command line."""

from avsync.cli import run

run()
