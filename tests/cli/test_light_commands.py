"""The light commands load only what they use, each in a fresh interpreter: no Pulumi (only `plan` loads it), no
interactive command-line packages, and no library a command does not need. Their times are in the benchmark
(bench/run.py), not here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests import pki
from tests.conftest import PROJECT_ROOT

# One command in a fresh interpreter; then the top-level packages of note it loaded, and the `cel` modules.
PROBE = """
import contextlib, io, json, sys
from mtls.__main__ import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = main(json.loads(sys.argv[1]))
    except SystemExit as exit:
        code = exit.code
packages = {name.split(".")[0] for name in sys.modules}
print(json.dumps({
    "code": code,
    "loaded": sorted(packages & set(json.loads(sys.argv[2]))),
    "cel": sorted(name for name in sys.modules if name == "cel" or name.startswith("cel.")),
}))
"""
# What a command may load, or must not: Pulumi and its SDKs, the interactive packages `cel`'s own command line
# brings (typer, rich, prompt_toolkit, click), and the libraries of the rules.
WATCHED = [
    "pulumi",
    "pulumi_gcp",
    "pulumi_kubernetes",
    "typer",
    "rich",
    "prompt_toolkit",
    "click",
    "pydantic",
    "cryptography",
    "yaml",
    "jsonschema",
    "fastjsonschema",
    "cel",
]
ISTIO = ["cel", "fastjsonschema", "jsonschema", "yaml"]  # Istio's CRD schemas and CEL rules


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, dict]:
    """Every command at once, each in its own fresh interpreter."""
    folder = tmp_path_factory.mktemp("light")
    stranger = pki.issue("stranger-ca")
    (folder / "leaf.pem").write_bytes(pki.client("stranger", stranger).pem)
    (folder / "pa.yaml").write_text(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: shop}\n"
        "spec: {mtls: {mode: STRICT}}\n"
    )
    commands = {
        "--help": ["--help"],
        "check": ["check", "--stack", "prod"],
        "cert": ["cert", "--role", "anchor", "certs/dev/root-ca.pem"],
        "client --anchors": ["client", "--anchors", "certs/dev/root-ca.pem", str(folder / "leaf.pem")],
        "client --stack": ["client", "--stack", "prod", str(folder / "leaf.pem")],
        "rotation": ["rotation", "--stack", "prod", str(folder / "leaf.pem")],
        "expiry": ["expiry", "--stack", "prod"],
        "validate": ["validate", str(folder / "pa.yaml")],
        "docs": ["docs"],
        "plan": ["plan", "--stack", "no-such-stack"],  # fails on the stack file, after loading the engine
    }
    running = {
        name: subprocess.Popen(
            [sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(WATCHED)],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, argv in commands.items()
    }
    outcomes = {}
    for name, process in running.items():
        out, err = process.communicate()
        assert process.returncode == 0, err
        outcomes[name] = json.loads(out)
    return outcomes


@pytest.mark.parametrize(
    "command, code, loaded",
    [
        ("--help", 0, []),
        ("cert", 0, ["cryptography"]),
        ("client --anchors", 1, ["cryptography"]),
        ("docs", 0, ["pydantic"]),
        ("validate", 0, sorted([*ISTIO, "pydantic"])),  # pydantic: the name rules' module, which the webhook reads
        ("check", 0, sorted([*ISTIO, "cryptography", "pydantic"])),
        ("client --stack", 1, sorted([*ISTIO, "cryptography", "pydantic"])),
        ("rotation", 1, sorted([*ISTIO, "cryptography", "pydantic"])),
        ("expiry", 0, sorted([*ISTIO, "cryptography", "pydantic"])),
    ],
)
def test_a_light_command_loads_only_what_it_uses(outcomes, command, code, loaded):
    assert (outcomes[command]["code"], outcomes[command]["loaded"]) == (code, loaded)


@pytest.mark.parametrize("command", ["validate", "check", "client --stack"])
def test_cel_loads_its_evaluator_without_its_interactive_command_line(outcomes, command):
    """`import cel` would also load cel.cli, and with it typer, rich and prompt_toolkit (some 0.2 s)."""
    assert outcomes[command]["cel"] == ["cel.cel"]


def test_plan_does_load_pulumi_so_the_probe_can_see_it(outcomes):
    plan = outcomes["plan"]
    assert plan["code"] == 2
    assert "pulumi" in plan["loaded"]
