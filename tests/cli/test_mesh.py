"""`python -m mtls render | validate`, and mesh findings in `check`."""

from __future__ import annotations

import json
import shutil

import yaml

from mtls.__main__ import main
from tests.conftest import PROJECT_ROOT


def test_render_writes_one_yaml_document_per_istio_resource(capsys):
    assert main(["render", "--stack", "dev"]) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [(d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]) for d in documents] == [
        ("PeerAuthentication", "istio-system", "default"),
        ("PeerAuthentication", "legacy", "default"),
        ("AuthorizationPolicy", "legacy", "plaintext-observe"),
        ("PeerAuthentication", "my-namespace", "my-special-app"),
        ("DestinationRule", "my-namespace", "my-special-app-plaintext"),
        ("PeerAuthentication", "default", "web-edge-port"),
        ("AuthorizationPolicy", "default", "httpbin-policy"),
    ]
    assert documents[4]["spec"]["trafficPolicy"]["portLevelSettings"][0]["port"]["number"] == 8080


def test_rendered_manifests_pass_validate(tmp_path, capsys):
    out = tmp_path / "prod.yaml"
    assert main(["render", "--stack", "prod", "--output", str(out)]) == 0
    assert main(["validate", str(out)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{out}[0] PeerAuthentication istio-system/default: ok",
        f"{out}[1] AuthorizationPolicy default/httpbin-policy: ok",
        f"{out}[2] AuthorizationPolicy default/allow-nothing: ok",
    ]


def test_validate_prints_the_api_servers_and_istiods_errors_and_exits_1(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  portLevelMtls: {'8080': {mode: DISABLE}}\n---\n"
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ok, namespace: shop}\nspec: {}\n"
    )
    assert main(["validate", str(bad)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f'{bad}[0] PeerAuthentication shop/web: spec: Invalid value: "object": portLevelMtls requires selector; '
        "mesh/namespace peer authentication cannot have port level mTLS",
        f"{bad}[1] AuthorizationPolicy shop/ok: ok",
    ]


def test_check_prints_mesh_findings(tmp_path, capsys):
    shutil.copytree(PROJECT_ROOT / "certs", tmp_path / "certs")
    config = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
    config["config"]["gke-mtls:mesh"]["mode"] = "PERMISSIVE"
    config["config"]["gke-mtls:mesh"]["edgeBackend"] = {"istioIngressGateway": True}
    (tmp_path / "Pulumi.x.yaml").write_text(yaml.safe_dump(config))
    assert main(["--project-root", str(tmp_path), "check", "--stack", "x"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(
        "note: gke-mtls:mesh.authorization[0]: plaintext is accepted where it applies (default/{app: httpbin} is "
        "PERMISSIVE), but such requests carry no identity"
    )
    assert out[-1] == "x: 0 error(s), 0 warning(s), 1 note(s)"


def test_render_of_a_stack_without_mesh_says_so(tmp_path, capsys):
    shutil.copytree(PROJECT_ROOT / "certs", tmp_path / "certs")
    config = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
    for key in ("gke-mtls:mesh", "gke-mtls:cluster"):
        config["config"].pop(key)
    (tmp_path / "Pulumi.edge.yaml").write_text(yaml.safe_dump(config))
    assert main(["--project-root", str(tmp_path), "render", "--stack", "edge"]) == 1
    assert "error: stack 'edge' has no gke-mtls:mesh, so there is nothing to render." in capsys.readouterr().err


def test_render_writes_shared_values_in_full_not_as_yaml_aliases(capsys):
    """The mesh guard's two rules share their port list; a reader (or `kubectl diff`) should see it twice."""
    assert main(["render", "--stack", "platform-dev"]) == 0
    out = capsys.readouterr().out
    assert "&id" not in out and "*id" not in out
    guard = next(d for d in yaml.safe_load_all(out) if d["metadata"]["name"] == "web-edge-guard")
    assert [rule["to"][0]["operation"]["ports"] for rule in guard["spec"]["rules"]] == [["8080"], ["8080"]]


def test_validate_opens_a_kubectl_list_and_prints_istiods_warnings(tmp_path, capsys):
    folder = tmp_path / "cluster"
    folder.mkdir()
    (folder / "dump.yaml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n"
        "- apiVersion: security.istio.io/v1\n  kind: AuthorizationPolicy\n"
        "  metadata: {name: no-admin, namespace: shop}\n"
        "  spec: {action: DENY, rules: [{to: [{operation: {paths: [/admin]}}]}]}\n"
        "- apiVersion: security.istio.io/v1\n  kind: AuthorizationPolicy\n  metadata: {name: bad, namespace: shop}\n"
        "  spec: {rules: [{from: [{source: {ipBlocks: [10.0.0.0/33]}}]}]}\n"
    )
    assert main(["validate", str(folder)]) == 1
    dump = folder / "dump.yaml"
    assert capsys.readouterr().out.splitlines() == [
        f"{dump}[0].items[0] AuthorizationPolicy shop/no-admin: ok",
        "  warning: configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use "
        "of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port",
        f"{dump}[0].items[1] AuthorizationPolicy shop/bad: invalid policy bad.shop: bad CIDR range (10.0.0.0/33): "
        'netip.ParsePrefix("10.0.0.0/33"): prefix length out of range',
    ]


def test_validate_refuses_a_device_instead_of_reading_it_forever(capsys):
    assert main(["validate", "/dev/zero"]) == 2
    assert capsys.readouterr().out == "/dev/zero: is not a regular file (a device, pipe or socket); name a YAML file.\n"


GITOPS_FOLDER = {
    "service.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
    "spec: {ports: [{port: 80}]}\n",
    "deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec: {}\n",
    "routing.yaml": "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web, namespace: shop}\n"
    "spec: {hosts: [web]}\n---\napiVersion: networking.istio.io/v1\nkind: Gateway\n"
    "metadata: {name: web, namespace: shop}\nspec: {selector: {istio: ingressgateway}}\n",
    "policy.yaml": "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
    "metadata: {name: web, namespace: shop}\nspec: {}\n",
}


def test_validate_skips_the_other_kinds_of_a_gitops_folder_with_a_note_and_exits_0(tmp_path, capsys):
    for name, text in GITOPS_FOLDER.items():
        (tmp_path / name).write_text(text)
    assert main(["validate", str(tmp_path)]) == 0
    hint = "point GKE_MTLS_ISTIO_CRDS at Istio's crd-all.gen.yaml to check it"
    assert capsys.readouterr().out.splitlines() == [
        f"{tmp_path}/deployment.yaml[0] Deployment shop/web: not checked (not an Istio object)",
        f"{tmp_path}/policy.yaml[0] AuthorizationPolicy shop/web: ok",
        f"{tmp_path}/routing.yaml[0] VirtualService shop/web: not checked (these CRDs do not define "
        f"networking.istio.io/v1 VirtualService; {hint})",
        f"{tmp_path}/routing.yaml[1] Gateway shop/web: not checked (these CRDs do not define networking.istio.io/v1 "
        f"Gateway; {hint})",
        f"{tmp_path}/service.yaml[0] Service shop/web: not checked (not an Istio object)",
    ]
    assert main(["validate", "--json", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [f["code"] for f in report["findings"]] == ["validate.skipped"] * 4
    assert report["findings"][0]["message"] == "Deployment shop/web: not checked: not an Istio object."


def test_validate_of_an_input_without_any_istio_object_says_nothing_was_validated(tmp_path, capsys):
    (tmp_path / "service.yaml").write_text(GITOPS_FOLDER["service.yaml"])
    assert main(["validate", str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"{tmp_path}: holds no Istio object these CRDs define, so nothing was validated; name the files or folders "
        "that hold your PeerAuthentications, AuthorizationPolicies and DestinationRules."
    )


def test_validate_still_refuses_a_misspelt_istio_kind(tmp_path, capsys):
    (tmp_path / "typo.yaml").write_text(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentications\nmetadata: {name: p, namespace: shop}\nspec: {}\n"
    )
    assert main(["validate", str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines()[0] == (
        f"{tmp_path}/typo.yaml[0] PeerAuthentications shop/p: apiVersion 'security.istio.io/v1' kind "
        "'PeerAuthentications' is not served by these CRDs (did you mean PeerAuthentication?) (known: "
        "networking.istio.io/v1 DestinationRule, networking.istio.io/v1alpha3 DestinationRule, "
        "networking.istio.io/v1beta1 DestinationRule, security.istio.io/v1 AuthorizationPolicy, security.istio.io/v1 "
        "PeerAuthentication, security.istio.io/v1beta1 AuthorizationPolicy, security.istio.io/v1beta1 "
        "PeerAuthentication)"
    )


def test_validate_names_each_object_by_namespace_and_name(tmp_path, capsys):
    """Every namespace's mesh policy is called `default`: the namespace tells them apart."""
    two = tmp_path / "defaults.yaml"
    two.write_text(
        "".join(
            f"---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {{name: default{ns}}}\n"
            "spec: {mtls: {mode: STRICT}}\n"
            for ns in (", namespace: shop", ", namespace: legacy", "")
        )
    )
    assert main(["validate", str(two)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{two}[0] PeerAuthentication shop/default: ok",
        f"{two}[1] PeerAuthentication legacy/default: ok",
        f"{two}[2] PeerAuthentication default (no namespace): ok",
    ]
