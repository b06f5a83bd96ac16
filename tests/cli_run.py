"""Running the ``avsync`` command line inside a test: exit status, stdout, stderr (never a traceback)."""

from __future__ import annotations

import json

from avsync.cli import main


def run(capsys, *argv: object) -> tuple[int, str, str]:
    """``avsync ARGV...`` in this process; asserts that stderr holds no traceback."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse rejects the command line
        code = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def jsonl(text: str) -> list[dict]:
    """The records of JSONL text."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]
