"""A stack file's shape is checked before its keys: each mistake is named, never a traceback (exit 2)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mtls.__main__ import main
from tests.conftest import PROJECT_ROOT


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


# --- what the offline tool cannot read: secrets and Pulumi ESC environments ---------------------------------------

EDGE = (
    "  gke-mtls:backend: {name: web}\n  gke-mtls:edge:\n    certificate: {source: computeManaged}\n"
    "    domains: [x.example.com]\n"
)


def stack_file(tmp_path: Path, text: str) -> Path:
    shutil.copytree(PROJECT_ROOT / "certs", tmp_path / "certs")
    (tmp_path / "Pulumi.x.yaml").write_text(text)
    return tmp_path


@pytest.mark.parametrize("command", ["check", "plan", "graph"])
def test_a_secret_in_a_key_the_tool_does_not_read_is_ignored(tmp_path, capsys, command):
    """Pulumi writes a secret as a mapping whose one key is `secure`; gcp:credentials is the provider's, never read
    here, so the pull-request job without credentials still checks the stack."""
    root = stack_file(
        tmp_path,
        "config:\n  gcp:credentials:\n    secure: v1:AAAABBBB\n  aws:tags:\n    owner: {secure: v1:CCCC}\n"
        f"{EDGE}    trustAnchors: [certs/dev/root-ca.pem]\n",
    )
    assert main(["--project-root", str(root), command, "--stack", "x"]) == 0
    assert "secure" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "config, message",
    [
        (
            "  gke-mtls:edge:\n    secure: v1:AAAA\n",
            "Pulumi.x.yaml: gke-mtls:edge is a secret (`secure:`), which the offline tool cannot decrypt: it has no "
            "access to the stack's secrets provider. Check a test stack that holds this key in plaintext instead "
            "(`pulumi config get gke-mtls:edge` prints its value), or run `pulumi preview`.",
        ),
        (
            f"{EDGE}    trustAnchors: [certs/dev/root-ca.pem]\n    sslPolicy:\n      profile: {{secure: v1:AAAA}}\n",
            "Pulumi.x.yaml: gke-mtls:edge.sslPolicy.profile is a secret (`secure:`), which the offline tool cannot "
            "decrypt: it has no access to the stack's secrets provider. Check a test stack that holds this key in "
            "plaintext instead (`pulumi config get --path 'gke-mtls:edge.sslPolicy.profile'` prints its value), or run "
            "`pulumi preview`.",
        ),
        (
            f"{EDGE}    trustAnchors:\n      - certs/dev/root-ca.pem\n      - secure: v1:AAAA\n"
            "  gcp:project:\n    secure: v1:BBBB\n",
            "Pulumi.x.yaml: gke-mtls:edge.trustAnchors[1] and gcp:project are secrets (`secure:`), which the offline "
            "tool cannot decrypt: it has no access to the stack's secrets provider. Check a test stack that holds "
            "these keys in plaintext instead (`pulumi config get --path 'gke-mtls:edge.trustAnchors[1]'` prints a "
            "value), or run `pulumi preview`.",
        ),
        (
            "  gke-mtls:cluster: {context: ctx}\n"
            "  gke-mtls:mesh:\n    namespaces:\n      app.example/x: {secure: v1:A}\n",
            'Pulumi.x.yaml: gke-mtls:mesh.namespaces["app.example/x"] is a secret (`secure:`), which the offline tool '
            "cannot decrypt: it has no access to the stack's secrets provider. Check a test stack that holds this key "
            "in plaintext instead (`pulumi config get --path 'gke-mtls:mesh.namespaces[\"app.example/x\"]'` prints its "
            "value), or run `pulumi preview`.",
        ),
    ],
    ids=["a-whole-key", "nested-in-an-object", "a-list-item-and-gcp-project", "a-map-key-with-dots"],
)
@pytest.mark.parametrize("command", ["check", "plan", "graph"])
def test_a_secret_in_a_key_the_tool_reads_is_named_with_what_to_do(tmp_path, capsys, command, config, message):
    root = stack_file(tmp_path, "config:\n" + config)
    assert main(["--project-root", str(root), command, "--stack", "x"]) == 2
    assert capsys.readouterr() == ("", f"error: {message}\n")


def test_a_mapping_with_more_than_a_secure_key_is_no_secret(tmp_path, capsys):
    """Pulumi reserves only the mapping whose single key is `secure` (and whose value is a string)."""
    root = stack_file(
        tmp_path, f"config:\n{EDGE}    trustAnchors: [certs/dev/root-ca.pem]\n  other:thing: {{secure: x, also: y}}\n"
    )
    assert main(["--project-root", str(root), "check", "--stack", "x"]) == 0


@pytest.mark.parametrize(
    "environment, config, message",
    [
        (
            "environment:\n  - acme/gke-mtls-dev\n",
            "  gke-mtls:edge:\n    domains: [x.example.com]\n    trustAnchors: [certs/dev/root-ca.pem]\n",
            "Pulumi.x.yaml: takes config from the Pulumi ESC environment acme/gke-mtls-dev, which the offline tool "
            "cannot open, and this file lacks gke-mtls:backend (the environment may set it). Copy the missing keys "
            "into the file's `config:` in plaintext (a test stack), or check the stack with `pulumi preview`, which "
            "opens the environment.",
        ),
        (
            "environment: [acme/common, acme/dev]\n",
            "",
            "Pulumi.x.yaml: takes config from the Pulumi ESC environments acme/common and acme/dev, which the offline "
            "tool cannot open, and this file lacks gke-mtls:edge, gke-mtls:mesh and gke-mtls:gkeBackend (a stack "
            "needs at least one). Copy the missing keys into the file's `config:` in plaintext (a test stack), or "
            "check the stack with `pulumi preview`, which opens the environment.",
        ),
        (
            "environment:\n  imports: [acme/common]\n  values:\n    pulumiConfig: {gke-mtls:cluster: {context: c}}\n",
            "  gke-mtls:mesh: {mode: STRICT}\n",
            "Pulumi.x.yaml: takes config from the Pulumi ESC environment acme/common and an inline Pulumi ESC "
            "environment, which the offline tool cannot open, and this file lacks gke-mtls:cluster (the environment "
            "may set it). Copy the missing keys into the file's `config:` in plaintext (a test stack), or check the "
            "stack with `pulumi preview`, which opens the environment.",
        ),
    ],
    ids=["a-section", "every-section", "inline-definition"],
)
@pytest.mark.parametrize("command", ["check", "plan", "graph"])
def test_a_key_an_esc_environment_may_hold_is_named_with_what_to_do(
    tmp_path, capsys, command, environment, config, message
):
    root = stack_file(tmp_path, environment + ("config:\n" + config if config else ""))
    assert main(["--project-root", str(root), command, "--stack", "x"]) == 2
    assert capsys.readouterr() == ("", f"error: {message}\n")


def test_a_complete_stack_with_an_esc_environment_is_checked_on_its_own_keys_and_says_so(tmp_path, capsys):
    root = stack_file(tmp_path, f"environment: [acme/dev]\nconfig:\n{EDGE}    trustAnchors: [certs/dev/root-ca.pem]\n")
    assert main(["--project-root", str(root), "check", "--stack", "x"]) == 0
    assert capsys.readouterr().out == (
        "note: Pulumi.x.yaml: also takes config from the Pulumi ESC environment acme/dev, which the offline tool "
        "cannot open: only the keys in this file were checked. [stack.environment]\n"
        "x: 0 error(s), 0 warning(s), 1 note(s)\n"
    )


def test_an_error_inside_a_section_the_file_sets_stays_an_error(tmp_path, capsys):
    """The file's value of a key replaces the environment's, so a key missing inside it is the file's to give."""
    root = stack_file(tmp_path, f"environment: [acme/dev]\nconfig:\n{EDGE}")
    assert main(["--project-root", str(root), "check", "--stack", "x"]) == 1
    assert "[config.trust]" in capsys.readouterr().out


# --- where the project is ----------------------------------------------------------------------------------------


def run_from(directory: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m mtls` in `directory`, with the project importable as `pip install -e .` makes it."""
    return subprocess.run(
        [sys.executable, "-m", "mtls", *args],
        cwd=directory,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
    )


def test_the_project_is_found_from_a_directory_below_it_as_pulumi_finds_it():
    done = run_from(PROJECT_ROOT / "certs" / "dev", "check", "--stack", "prod")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[-1].startswith("prod: ")


def test_dash_c_names_the_project_from_anywhere(tmp_path):
    done = run_from(tmp_path, "-C", str(PROJECT_ROOT / "components"), "check", "--stack", "prod")
    assert (done.returncode, done.stderr) == (0, "")


def test_outside_any_project_one_line_says_where_to_run_it(tmp_path):
    for args in (["check", "--stack", "dev"], ["-C", str(tmp_path), "plan", "--stack", "dev"]):
        done = run_from(tmp_path, *args)
        assert (done.returncode, done.stdout) == (2, "")
        assert done.stderr == (
            f"error: no Pulumi.yaml in {tmp_path.resolve()} or any directory above it; run this inside the Pulumi "
            "project (the directory with Pulumi.yaml, or one below it), or name that directory with -C/--cwd.\n"
        )


def test_commands_without_a_stack_need_no_project(tmp_path):
    done = run_from(tmp_path, "cert", "--role", "anchor", str(PROJECT_ROOT / "certs" / "dev" / "root-ca.pem"))
    assert done.returncode == 0, done.stderr
