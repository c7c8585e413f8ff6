"""Only `plan` loads Pulumi: every other command runs without importing it (the benchmark times them)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests import pki
from tests.conftest import PROJECT_ROOT

# Runs commands one after the other in one fresh interpreter; after each, the Pulumi modules loaded so far.
PROBE = """
import contextlib, io, json, sys
from mtls.__main__ import main
outcomes = []
for argv in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exit:
            code = exit.code
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pulumi", "pulumi_gcp", "pulumi_kubernetes"))
    outcomes.append({"argv": argv, "code": code, "loaded": loaded})
print(json.dumps(outcomes))
"""


def run_cli(*commands: list[str]) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(commands)], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("light")
    stranger = pki.issue("stranger-ca")
    (folder / "leaf.pem").write_bytes(pki.client("stranger", stranger).pem)
    (folder / "pa.yaml").write_text(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: shop}\n"
        "spec: {mtls: {mode: STRICT}}\n"
    )
    return run_cli(
        ["--help"],
        ["check", "--stack", "dev"],
        ["cert", "--role", "anchor", "certs/dev/root-ca.pem"],
        ["client", "--stack", "dev", str(folder / "leaf.pem")],
        ["rotation", "--stack", "dev", str(folder / "leaf.pem")],
        ["expiry", "--stack", "dev"],
        ["validate", str(folder / "pa.yaml")],
        ["docs"],
        ["plan", "--stack", "no-such-stack"],  # fails on the stack file, after loading the engine
    )


def test_light_commands_do_not_import_pulumi(outcomes):
    assert [(o["argv"][0], o["code"], o["loaded"]) for o in outcomes[:-1]] == [
        ("--help", 0, []),
        ("check", 0, []),
        ("cert", 0, []),
        ("client", 1, []),
        ("rotation", 1, []),
        ("expiry", 0, []),
        ("validate", 0, []),
        ("docs", 0, []),
    ]


def test_plan_does_load_pulumi_so_the_probe_can_see_it(outcomes):
    plan = outcomes[-1]
    assert plan["code"] == 2
    assert "pulumi" in plan["loaded"]
