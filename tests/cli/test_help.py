"""`--help` a user can learn from: a description per command, help on every option, examples, and `--version`."""

from __future__ import annotations

import argparse

import pytest

from mtls import __main__ as cli


def test_every_command_has_a_description_and_every_option_help():
    commands = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(commands.choices) >= {"plan", "check", "cert", "client", "render", "validate", "analyze", "import"}
    for name, command in commands.choices.items():
        assert command.description, name
        for action in command._actions:
            assert action.help, (name, action.dest)


def test_the_top_level_help_has_examples_and_the_exit_code_convention(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "examples:\n  python -m mtls plan --stack dev" in out
    assert "2 for usage errors or input it cannot read" in out


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == "python -m mtls 0.1.0\n"
