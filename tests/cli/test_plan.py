"""`python -m mtls plan`: the offline plan a reviewer reads."""

from __future__ import annotations

import shutil

from mtls.__main__ import main
from tests.conftest import PROJECT_ROOT


def test_plan_of_dev_prints_the_tree_inputs_lookups_and_outputs(capsys):
    assert main(["plan", "--stack", "dev"]) == 0
    out = capsys.readouterr().out

    assert "Placeholders (not real values): backend service 'k8s1-0123abcd-default-web-80-5104b449'" in out
    assert "pulumi:pulumi:Stack gke-mtls-dev" in out
    assert "├── + pulumi:pulumi:StackReference acme/gke-platform/dev  (read)" in out
    assert "├── + gke-mtls:edge:Edge edge" in out
    assert "+ gcp:compute/globalAddress:GlobalAddress edge-address  (protect, auto-named)" in out
    assert "mtlsPolicy.clientValidationMode: REJECT_INVALID" in out
    assert "trustStores[0].trustAnchors[0].pemCertificate: <certificate CN=gke-mtls dev example root CA" in out
    assert "gcp:compute/getBackendService:getBackendService(name=k8s1-0123abcd-default-web-80-5104b449)" in out
    assert "  httpsUrls: [https://dev.example.com/]" in out
    assert "+ kubernetes:security.istio.io/v1:PeerAuthentication pa-istio-system-default" in out
    assert "├── + pulumi:providers:kubernetes cluster" in out
    assert "+ gcp:certificatemanager/certificateMap:CertificateMap edge-certificate-map  (auto-named)" in out
    assert "  dnsAuthorizationRecords[0].name: _acme-challenge.dev.example.com." in out
    assert out.rstrip().endswith("Resources: 19 to create (1 protected), 1 read, 1 lookup(s).")


def test_plan_of_prod_includes_the_redirect_listener(capsys):
    assert main(["plan", "--stack", "prod"]) == 0
    out = capsys.readouterr().out
    assert "+ gcp:compute/targetHttpProxy:TargetHttpProxy edge-http-proxy" in out
    assert "portRange: 80" in out
    assert "+ kubernetes:security.istio.io/v1:AuthorizationPolicy ap-default-allow-nothing" in out
    assert out.rstrip().endswith("Resources: 20 to create (1 protected), 1 read, 1 lookup(s).")


def test_plan_placeholders_come_from_the_command_line(capsys):
    assert (
        main(
            [
                "plan",
                "--stack",
                "dev",
                "--backend-name",
                "k8s1-ffff0000-shop-web-80-abcdef12",
                "--backend-scheme",
                "EXTERNAL_MANAGED",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "backendServices/k8s1-ffff0000-shop-web-80-abcdef12" in out
    assert "loadBalancingScheme: EXTERNAL_MANAGED" in out


def test_plan_of_a_bad_stack_exits_1_with_the_errors(tmp_path, capsys):
    for name in ("__main__.py", "Pulumi.yaml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    for package in ("mtls", "components", "certs"):
        shutil.copytree(PROJECT_ROOT / package, tmp_path / package)
    (tmp_path / "Pulumi.bad.yaml").write_text(
        "config:\n  gke-mtls:backend: {name: web}\n  gke-mtls:edge: {domains: ['*.example.com'], "
        "certificate: {source: computeManaged}, trustAnchors: [certs/dev/root-ca.pem]}\n"
    )
    assert main(["--project-root", str(tmp_path), "plan", "--stack", "bad"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        "error: gke-mtls:edge.domains[0]: '*.example.com': the Compute managed certificate does not cover wildcards"
        in captured.err
    )
    assert "error: 1 error(s) in the stack configuration (listed above); nothing was registered." in captured.err


def test_plan_of_an_unknown_stack_names_the_stacks_there(tmp_path, capsys):
    """In a project of its own, so a user's extra stack files change nothing here."""
    for stack in ("dev", "prod"):
        (tmp_path / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    assert main(["--project-root", str(tmp_path), "plan", "--stack", "no-such-stack"]) == 2
    assert (
        f"error: Pulumi.no-such-stack.yaml: no such stack file in {tmp_path} (stacks here: dev, prod)."
        in capsys.readouterr().err
    )


def test_plan_shows_the_configured_gcp_project(capsys):
    assert main(["plan", "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert "GCP project: acme-dev." in out.splitlines()[1]
    assert "placeholder-project" not in out
    assert "projects/acme-dev/locations/global/trustConfigs/edge-trust-config" in out


def test_a_multi_line_value_continues_indented_under_its_first_line(capsys):
    assert main(["plan", "--stack", "dev"]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("pulumi:pulumi:Stack gke-mtls-dev")
    tree = lines[start + 1 : lines.index("", start)]
    assert [line for line in tree if not line.startswith(("├", "└", "│", " "))] == []  # the tree stays unbroken
    metric = tree.index("│   └── + gcp:logging/metric:Metric edge-monitoring-rejected-clients  (deleteBeforeReplace)")
    assert tree[metric + 2 : metric + 5] == [
        '│           filter: resource.type="http_load_balancer"',
        '│                   resource.labels.forwarding_rule_name="edge-https-rule"',
        '│                   jsonPayload.statusDetails=~"^client_cert_"',
    ]
    assert lines[lines.index('  rejectedClientsLogQuery: resource.type="http_load_balancer"') + 1] == (
        '                           resource.labels.forwarding_rule_name="edge-https-rule"'
    )
