"""`--json`: one stable object per command, valid against the schema the project commits (mtls/report.schema.json),
with counts that agree with the findings and the usual exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from mtls.__main__ import main
from tests import pki
from tests.cli.test_analyze import HAND_WRITTEN
from tests.conftest import PROJECT_ROOT

SCHEMA = json.loads((PROJECT_ROOT / "mtls" / "report.schema.json").read_text())


def write(path: Path, *issued: pki.Issued) -> str:
    path.write_bytes(b"".join(i.pem for i in issued))
    return str(path)


def run_json(capsys, args: list[str]) -> tuple[int, dict]:
    status = main(args)
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, SCHEMA)
    for severity in ("error", "warning", "note"):
        assert document[f"{severity}s"] == sum(f["severity"] == severity for f in document["findings"])
    return status, document


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_check(capsys, committed_project):
    status, document = run_json(
        capsys, ["--project-root", str(committed_project), "check", "--stack", "prod", "--json"]
    )
    assert (status, document["name"], document["findings"]) == (0, "prod", [])


def test_check_lists_the_notes_about_other_stacks_too(capsys, committed_project):
    status, document = run_json(capsys, ["--project-root", str(committed_project), "check", "--stack", "dev", "--json"])
    assert status == 0
    assert [(f["severity"], f["code"], f["key"]) for f in document["findings"]] == [
        ("note", "stack.shared-domain", "gke-mtls:edge.domains[0]"),
        ("note", "stack.shared-objects", "gke-mtls:cluster.context"),
    ]


def test_cert(tmp_path, capsys):
    weak = write(tmp_path / "weak.pem", pki.issue("weak", key_kind="rsa1024"))
    status, document = run_json(capsys, ["cert", "--role", "anchor", "--json", weak])
    assert status == 1
    assert [(f["code"], f["key"]) for f in document["findings"]] == [("cert.rsa-key-size", weak)]


def test_client(tmp_path, capsys):
    root = pki.issue("json-root")
    issuing = pki.issue("json-ca", root, key_seed=1)
    anchors = write(tmp_path / "root.pem", root)
    eku = (ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.TIME_STAMPING)
    leaf = write(tmp_path / "leaf.pem", pki.client("dave", issuing, eku=eku), issuing)
    status, document = run_json(capsys, ["client", "--json", "--anchors", anchors, leaf])
    assert status == 0
    assert [(f["severity"], f["code"]) for f in document["findings"]] == [("warning", "client.warning")]
    stranger = write(tmp_path / "stranger.pem", pki.client("eve", pki.issue("other", key_seed=3)))
    status, document = run_json(capsys, ["client", "--json", "--anchors", anchors, stranger])
    assert status == 1 and document["findings"][0]["code"] == "client.rejected"


@pytest.mark.parametrize("command", [["validate"], ["analyze"]])
def test_validate_and_analyze(capsys, command):
    status, document = run_json(capsys, [*command, "--json", str(HAND_WRITTEN)])
    assert status == 0
    assert document["errors"] == 0


def test_migration(capsys):
    status, document = run_json(
        capsys,
        [
            "migration",
            "--stack",
            "dev",
            "--json",
            "--prometheus",
            str(PROJECT_ROOT / "tests/cli/prometheus/plaintext-http.json"),
        ],
    )
    assert status == 1 and document["findings"][0]["code"] == "migration.blocked"
