"""Every option of every sub-command says what it does, and help pages print as written."""

import argparse

import pytest

from srm_keras import cli


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(subparsers.choices)


SUBCOMMANDS = _subcommands()


def test_every_command_is_covered():
    assert sorted(SUBCOMMANDS) == sorted(cli.COMMANDS)


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_every_option_has_help(command):
    parser = SUBCOMMANDS[command]
    silent = [
        action.option_strings[0] if action.option_strings else action.dest
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction)
        and (not action.help or action.help == argparse.SUPPRESS)
    ]
    assert not silent, f"srm-keras {command}: options without help: {', '.join(silent)}"


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_help_prints_as_written(command):
    # argparse %-formats help strings but not descriptions: a '%%' there shows doubled.
    text = SUBCOMMANDS[command].format_help()
    assert "%%" not in text and "%(" not in text


def test_demo_help_names_the_held_out_fifth():
    text = " ".join(SUBCOMMANDS["demo"].format_help().split())
    assert "the held-out 20%," in text
