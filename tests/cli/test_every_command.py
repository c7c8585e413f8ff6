"""Every command on every input a user can get wrong: no traceback, the documented exit code (2 for input it
cannot use), and the message on standard error, naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtls.__main__ import main

STACK_COMMANDS = [
    ["check"],
    ["plan"],
    ["render"],
    ["migration"],
    ["graph"],
    ["client", "leaf.pem"],
    ["rotation", "leaf.pem"],
    ["expiry"],
]
BAD_STACK_FILES = {
    "a-list": "- a\n",
    "a-string": "just text\n",
    "no-config-wrapper": "gke-mtls:edge: {domains: [x.example.com]}\n",
    "bare-key": "config:\n  mesh: {}\n",
    "not-yaml": "config: [unclosed\n",
}


def run(capsys, args: list[str]) -> tuple[int, str, str]:
    status = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


@pytest.mark.parametrize("command", STACK_COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("shape", list(BAD_STACK_FILES), ids=str)
def test_a_stack_file_of_the_wrong_shape(tmp_path, capsys, command, shape):
    (tmp_path / "Pulumi.x.yaml").write_text(BAD_STACK_FILES[shape])
    name, *rest = command
    status, out, err = run(capsys, ["--project-root", str(tmp_path), name, "--stack", "x", *rest])
    assert status == 2
    assert out == ""
    assert err.startswith("error: Pulumi.x.yaml: ")


@pytest.mark.parametrize("command", STACK_COMMANDS, ids=lambda c: c[0])
def test_a_stack_that_does_not_exist(tmp_path, capsys, command):
    name, *rest = command
    status, out, err = run(capsys, ["--project-root", str(tmp_path), name, "--stack", "nope", *rest])
    assert (status, out) == (2, "")
    assert err.startswith("error: Pulumi.nope.yaml: no such stack file in ")


@pytest.mark.parametrize(
    "args",
    [
        ["cert", "--role", "anchor", "{missing}"],
        ["validate", "{missing}"],
        ["analyze", "{missing}"],
        ["import", "{missing}"],
        ["client", "--anchors", "{missing}", "{missing}"],
        ["migration", "--stack", "dev", "--prometheus", "{missing}"],
    ],
    ids=lambda a: a[0],
)
def test_an_input_file_that_does_not_exist(tmp_path, capsys, args):
    missing = str(tmp_path / "missing.file")
    status, out, err = run(capsys, [a.replace("{missing}", missing) for a in args])
    assert status == 2
    assert missing in out + err


def test_an_output_path_that_cannot_be_written(tmp_path, capsys):
    status, out, err = run(capsys, ["render", "--stack", "dev", "-o", str(tmp_path / "no" / "x.yaml")])
    assert (status, out) == (2, "")
    assert "cannot be written" in err


def test_a_stack_without_the_section_a_command_needs(capsys):
    status, out, err = run(capsys, ["client", "--stack", "platform-dev", str(Path(__file__))])
    assert (status, out) == (2, "")
    assert err == "error: stack 'platform-dev' has no gke-mtls:edge, so it has no trust config.\n"


@pytest.mark.parametrize("command", [["validate"], ["analyze"]], ids=lambda c: c[0])
def test_a_document_nested_beyond_reason_is_refused_before_it_is_parsed(tmp_path, capsys, command):
    """libyaml's parser recurses per level and crashes the process tens of thousands of levels down."""
    deep = tmp_path / "deep.yaml"
    deep.write_text("spec: " + "[" * 50_000 + "]" * 50_000 + "\n")
    status, out, err = run(capsys, [*command, str(deep)])
    assert status == 2
    assert "it nests 50000 levels deep, beyond the 1000 this reader accepts" in out + err
