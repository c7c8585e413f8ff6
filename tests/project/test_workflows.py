"""The GitHub workflows: valid against GitHub's workflow schema, and doing what the pull-request checks promise."""

from __future__ import annotations

import re
import subprocess
import sys

import yaml

from tests.conftest import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def steps_of(workflow: dict, job: str) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def test_workflows_validate_against_githubs_schema():
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert len(files) == 3
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", *files],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_action_is_pinned_to_a_major_version():
    for path in WORKFLOWS.glob("*.yml"):
        for uses in re.findall(r"uses:\s*(\S+)", path.read_text()):
            assert uses.startswith("./") or re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", uses), (path.name, uses)


def test_pull_requests_run_the_tests_then_preview_each_stack_with_policies_and_a_comment():
    workflow = load("pull-request.yml")
    assert workflow[True] == {"pull_request": {"branches": ["main"]}}  # PyYAML reads the key `on` as True
    assert any(step.get("run") == "bash .ci/run" for step in steps_of(workflow, "test"))
    preview = workflow["jobs"]["preview"]
    assert preview["needs"] == "test"
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    steps = preview["steps"]
    names = [step.get("uses", step.get("name")) for step in steps]
    check = names.index("Offline preflight (settings, certificates, mesh)")
    pulumi = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("pulumi/actions@"))
    assert check < pulumi
    assert steps[check]["run"] == "venv/bin/python -m mtls check --stack ${{ matrix.stack }}"
    assert steps[pulumi]["with"] == {
        "command": "preview",
        "stack-name": "${{ vars.PULUMI_ORG }}/gke-mtls/${{ matrix.stack }}",
        "diff": True,
        "comment-on-pr": True,
        "github-token": "${{ secrets.GITHUB_TOKEN }}",
        "policyPacks": "policy",
        "policyPackConfigs": "policy/config/${{ matrix.stack }}.json",
    }
    assert steps[pulumi]["env"] == {"PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}"}
    graph = next(s for s in steps if "mtls graph" in s.get("run", ""))
    assert "venv/bin/python -m mtls graph --stack ${{ matrix.stack }}" in graph["run"]
    assert "gh pr comment ${{ github.event.pull_request.number }} --body-file graph.md" in graph["run"]
    assert graph["env"] == {"GH_TOKEN": "${{ secrets.GITHUB_TOKEN }}"}


def test_gcp_access_is_workload_identity_federation_without_key_files():
    for name in ("pull-request.yml", "pulumi-up.yml"):
        text = (WORKFLOWS / name).read_text()
        assert "credentials_json" not in text and "GOOGLE_APPLICATION_CREDENTIALS" not in text
        workflow = load(name)
        assert workflow["permissions"]["id-token"] == "write"
        auth = [
            s
            for job in workflow["jobs"].values()
            for s in job["steps"]
            if s.get("uses", "").startswith("google-github-actions/auth@")
        ]
        assert auth and all(set(s["with"]) == {"workload_identity_provider", "service_account"} for s in auth)


def test_main_deploys_dev_then_prod_behind_its_environment():
    deploy = load("deploy.yml")
    assert deploy[True] == {"push": {"branches": ["main"]}}
    jobs = deploy["jobs"]
    assert jobs["dev"]["with"] == {"stack": "dev"} and "needs" not in jobs["dev"]
    assert jobs["prod"]["with"] == {"stack": "prod"} and jobs["prod"]["needs"] == "dev"
    up = load("pulumi-up.yml")["jobs"]["up"]
    assert up["environment"] == "${{ inputs.stack }}"
    pulumi = next(s for s in up["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi["with"]["command"] == "up"
    assert pulumi["with"]["policyPackConfigs"] == "policy/config/${{ inputs.stack }}.json"


def test_policy_configs_exist_for_every_previewed_stack():
    for stack in load("pull-request.yml")["jobs"]["preview"]["strategy"]["matrix"]["stack"]:
        assert (PROJECT_ROOT / "policy" / "config" / f"{stack}.json").is_file()
        assert (PROJECT_ROOT / f"Pulumi.{stack}.yaml").is_file()
