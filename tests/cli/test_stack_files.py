"""A stack file's shape is checked before its keys: each mistake is named, never a traceback (exit 2)."""

from __future__ import annotations

import pytest

from mtls.__main__ import main


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "- a\n- b\n",
            "Pulumi.x.yaml: the top level must be a mapping with a `config:` key, not list; see Pulumi.dev.yaml.",
        ),
        (
            "gke-mtls:edge: {domains: [x.example.com]}\n",
            "Pulumi.x.yaml: `gke-mtls:edge` is not a stack file key (those are config, environment, secretsprovider, "
            "encryptedkey, encryptionsalt); did you mean `gke-mtls:edge` under `config:`?",
        ),
        (
            "edge: {domains: [x.example.com]}\n",
            "Pulumi.x.yaml: `edge` is not a stack file key (those are config, environment, secretsprovider, "
            "encryptedkey, encryptionsalt); did you mean `gke-mtls:edge` under `config:`?",
        ),
        (
            "config:\n  edge: {domains: [x.example.com]}\n",
            "Pulumi.x.yaml: config key `edge` has no namespace, and Pulumi reads only `<namespace>:<name>` keys from "
            "a stack file (it refuses the file otherwise); did you mean `gke-mtls:edge`?",
        ),
    ],
    ids=["a-list", "no-config-wrapper", "bare-key-at-the-top", "bare-key-in-config"],
)
def test_a_stack_file_of_the_wrong_shape_names_the_mistake(tmp_path, capsys, text, message):
    (tmp_path / "Pulumi.x.yaml").write_text(text)
    assert main(["--project-root", str(tmp_path), "check", "--stack", "x"]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def test_render_to_a_path_that_cannot_be_written_says_so(tmp_path, capsys):
    target = tmp_path / "no-such-dir" / "x.yaml"
    assert main(["render", "--stack", "dev", "--output", str(target)]) == 2
    assert capsys.readouterr().err.endswith(
        f"error: {target}: cannot be written (No such file or directory); fix the path.\n"
    )


@pytest.mark.parametrize("command", [["cert", "--role", "anchor"], ["validate"]])
def test_an_unreadable_input_file_exits_2_in_every_command(tmp_path, capsys, command):
    """One convention: 0 clean, 1 when findings stand, 2 for usage errors or unreadable input (as `client`)."""
    assert main([*command, str(tmp_path / "missing.pem")]) == 2
    assert str(tmp_path / "missing.pem") in capsys.readouterr().out
