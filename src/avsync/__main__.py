"""``python -m avsync`` runs the command line."""

import sys

from avsync.cli import main

sys.exit(main())
