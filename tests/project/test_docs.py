"""Docs and project files agree with the config key definitions the settings code reads."""

from __future__ import annotations

import re

import yaml

from components.core.load_balancer import CAPABILITIES
from mtls import docs as config_docs
from tests.conftest import PROJECT_ROOT


def test_readme_embeds_the_generated_config_reference():
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert config_docs.reference() in readme, "README.md is stale: paste the output of `python -m mtls docs`"


def test_readme_embeds_the_generated_load_balancer_table():
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert config_docs.load_balancers() in readme, "README.md is stale: paste the output of `python -m mtls docs`"


def test_the_load_balancer_table_has_a_row_per_fact_and_cites_each():
    table = config_docs.load_balancers().splitlines()
    rows = [line for line in table if line.startswith("| ") and not line.startswith(("| |", "| ---"))]
    assert len(rows) == len(config_docs.ROWS)
    assert set(config_docs.ROWS) == set(next(iter(CAPABILITIES.values())).facts())  # every fact has its row
    cited = {int(n) for line in rows for n in re.findall(r"\[(\d+)\]", line)}
    notes = [line for line in table if re.match(r"\d+\. https://", line)]
    assert cited == set(range(1, len(notes) + 1))


def test_reference_lists_every_key_once():
    reference = config_docs.reference()
    for key in config_docs.all_keys():
        assert reference.count(f"| `{key}` |") == 1, key


def test_pulumi_yaml_declares_exactly_the_projects_top_level_keys():
    project = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())
    declared = {k for k in project["template"]["config"] if k.startswith("gke-mtls:")}
    top_level = {k for k in config_docs.all_keys() if "." not in k}
    assert declared == top_level
    assert project["name"] == "gke-mtls"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}


def test_reference_has_one_table_row_per_key_and_reaches_into_lists():
    rows = config_docs.reference().splitlines()[3:-1]
    assert len(rows) == len(config_docs.all_keys())
    assert all(row.startswith("| `gke-mtls") and row.count(" | ") == 4 and row.endswith(" |") for row in rows)
    # Keys of list entries: a workload's name and servicePorts were missing from the hand-written reference.
    assert "gke-mtls:mesh.workloads[].name" in config_docs.all_keys()
    assert "gke-mtls:mesh.workloads[].servicePorts" in config_docs.all_keys()


def test_the_readme_contents_link_to_its_headings():
    """GitHub's anchors: lowercase, punctuation dropped, spaces to hyphens."""
    import re

    readme = (PROJECT_ROOT / "README.md").read_text()
    headings = re.findall(r"^#{2,3} (.+)$", readme, flags=re.MULTILINE)
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}
    contents = readme.split("**Contents**", 1)[1].split("\n\n", 1)[0]
    links = re.findall(r"\]\(#([^)]+)\)", contents)
    assert len(links) >= 10
    assert [link for link in links if link not in anchors] == []
