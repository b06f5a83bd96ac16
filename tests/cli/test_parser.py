"""The command line itself: every option of every command says what it does, and --version works."""

import argparse

import pytest

from avsync import __version__
from avsync.cli import build_parser


def test_every_option_has_help_text():
    parser = build_parser()
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                missing += [f"{name} {'/'.join(a.option_strings) or a.dest}" for a in sub._actions
                            if not a.help and not isinstance(a, argparse._HelpAction)]
    assert not missing


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"avsync {__version__}"
