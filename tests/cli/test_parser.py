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


def test_shift_and_fix_help_say_they_move_the_audio_opposite_ways():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    shift = next(a for a in sub["shift"]._actions if "--offset" in a.option_strings).help
    fix = next(a for a in sub["fix"]._actions if "--offset" in a.option_strings).help
    assert "avsync fix" in shift and "AHEAD" in shift
    assert "avsync shift" in fix and "DELAYS" in fix
