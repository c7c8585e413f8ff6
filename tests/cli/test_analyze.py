"""`analyze` and `import`: existing Istio config, from files, folders or a `kubectl get ... -o yaml` dump."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.core.settings import parse
from components.mesh.rendering.manifests import manifests
from components.mesh.settings import KEY, MeshSettings
from mtls.__main__ import main

CLUSTER = Path(__file__).parent / "cluster"
HAND_WRITTEN = CLUSTER / "hand-written.yaml"


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def write_list(path: Path, items: list[dict[str, Any]]) -> str:
    """What `kubectl get peerauthentications,authorizationpolicies,destinationrules -A -o yaml` prints."""
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {}}))
    return str(path)


def test_analyze_reports_the_real_effect_of_the_local_rule_in_the_hand_written_set(capsys):
    assert main(["analyze", str(HAND_WRITTEN)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == (
        f"note: {HAND_WRITTEN}[1]: auto mTLS (on by default since Istio 1.5) already sends mTLS to every server with a "
        "sidecar, so this rule changes nothing for them. It enforces nothing either: a DestinationRule only sets what "
        "clients send, so shop/{app: payments} still takes plaintext from clients without a sidecar. What it does "
        "change: calls to *.local servers without a sidecar (non-injected namespaces, the Kubernetes API service) get "
        "mTLS and fail, and any more specific DestinationRule replaces it whole. Remove it unless auto mTLS is off in "
        "your mesh. [mesh.istio-mutual-dr]"
    )
    assert out[0].startswith(f"note: {HAND_WRITTEN}[3]: plaintext is accepted where it applies")
    assert out[-1] == f"{HAND_WRITTEN}: 0 error(s), 0 warning(s), 2 note(s)"


def test_analyze_reads_a_kubectl_list_with_v1beta1_and_skips_other_kinds(tmp_path, capsys):
    items = documents(HAND_WRITTEN)
    items[0]["apiVersion"] = "security.istio.io/v1beta1"
    items[0]["spec"]["mtls"]["mode"] = "PERMISSIVE"
    items.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {}})
    items.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {}})
    items.append(
        {
            "apiVersion": "security.istio.io/v1beta1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": "deny-foo", "namespace": "shop"},
            "spec": {"action": "DENY", "rules": [{"from": [{"source": {"namespaces": ["foo"]}}]}]},
        }
    )
    dump = write_list(tmp_path / "cluster.yaml", items)
    assert main(["analyze", dump]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [line.rsplit(" [", 1)[1] for line in out[:-1]] == [
        "analyze.context]",
        "analyze.skipped]",
        "mesh.plaintext-denied]",
        "mesh.plaintext-bypass]",
        "mesh.istio-mutual-dr]",
    ]
    bypass = next(line for line in out if "mesh.plaintext-bypass" in line)
    assert bypass.startswith(f"error: {dump}[0].items[6].spec.rules[0]: namespaces in a DENY rule never match")
    assert "namespace shop is PERMISSIVE" in bypass  # the mesh-wide v1beta1 policy was read like v1
    assert f"note: {dump}: read to place the policies (hosts, gateways): 1 Service (v1). [analyze.context]" in out
    assert f"note: {dump}: not analysed: 1 Deployment (apps/v1). [analyze.skipped]" in out


def test_analyze_leaves_out_what_the_api_server_would_refuse(tmp_path, capsys):
    broken = copy.deepcopy(documents(HAND_WRITTEN)[2])
    broken["spec"]["mtls"]["mode"] = "STRICTT"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    assert main(["analyze", str(path)]) == 1
    out = capsys.readouterr().out
    assert (
        f"error: {path}[0]: the API server would refuse it, so the analysis leaves it out: spec.mtls.mode: Unsupported "
        'value: "STRICTT": supported values: "UNSET", "DISABLE", "PERMISSIVE", "STRICT". [analyze.invalid]'
    ) in out


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("kind: Service\nmetadata: {name: web, namespace: [shop]}\nspec: {}", "metadata.namespace is not a string"),
        ("kind: Service\nmetadata: {name: web}\nspec: {selector: {app: [web]}}", "spec.selector is not a mapping"),
        ("kind: Service\nmetadata: {name: web}\nspec: {ports: {http: 80}}", "spec.ports is not a list"),
        ("kind: Service\nmetadata: {name: 7}\nspec: {}", "metadata.name is not a non-empty string"),
    ],
    ids=["namespace-list", "selector-value-list", "ports-mapping", "name-number"],
)
def test_analyze_names_a_service_it_cannot_place_the_policies_with(tmp_path, capsys, document, problem):
    path = tmp_path / "dump.yaml"
    path.write_text(HAND_WRITTEN.read_text() + "\n---\napiVersion: v1\n" + document + "\n")
    main(["analyze", str(path)])
    out = capsys.readouterr().out
    position = len(documents(HAND_WRITTEN))
    assert f"warning: {path}[{position}]: Service: {problem}" in out
    assert "so it cannot place the policies and is left out; fix it, or export it again with kubectl." in out


def test_analyze_of_an_unreadable_path_exits_2(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "nope.yaml")]) == 2
    assert "[analyze.file]" in capsys.readouterr().out


def test_analyze_with_a_stack_sees_the_load_balancer_denied_by_a_policy_already_in_the_cluster(tmp_path, capsys):
    """platform-dev makes web:8080 the edge's backend; the cluster already holds an ALLOW policy on web by
    principal, which the stack does not know of, so it generates no rule for the load balancer."""
    policy = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "web-callers", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/checkout"]}}]}],
        },
    }
    dump = write_list(tmp_path / "cluster.yaml", [policy])
    assert main(["analyze", dump, "--stack", "platform-dev"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "error: gke-mtls:mesh.edgeBackend: the load balancer's requests to default/{app: web}:8080 carry no "
        f"principal; ALLOW policy default/web-callers ({dump}[0].items[0]) denies them (no rule of it matches them). "
        "gke-mtls lets them in with its `edge-load-balancer` policy when its own ALLOW policies cover the backend; "
        'for a policy from elsewhere, add a rule with `ipBlocks: [130.211.0.0/22, 35.191.0.0/16]` on port "8080" to '
        "it. [mesh.caller-denied]"
    )
    assert out[-1] == f"{dump} after `pulumi up` of platform-dev: 2 error(s), 0 warning(s)"


def test_analyze_with_a_stack_replaces_the_objects_pulumi_already_manages(tmp_path, capsys):
    mesh_wide = documents(HAND_WRITTEN)[0]
    dump = write_list(tmp_path / "cluster.yaml", [mesh_wide])
    assert main(["analyze", dump, "--stack", "prod"]) == 1
    assert "[analyze.conflict]" in capsys.readouterr().out
    mesh_wide["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "pulumi"}
    dump = write_list(tmp_path / "cluster.yaml", [mesh_wide])
    assert main(["analyze", dump, "--stack", "prod"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"{dump} after `pulumi up` of prod: ok"


# --- import -------------------------------------------------------------------------------------------------------


def normalized(document: dict[str, Any]) -> tuple[Any, ...]:
    spec = dict(document.get("spec") or {})
    if document["kind"] == "AuthorizationPolicy":
        spec.setdefault("action", "ALLOW")
    if document["kind"] == "PeerAuthentication":
        spec.setdefault("mtls", {"mode": "UNSET"})  # no `mtls` is UNSET (the PeerAuthentication reference)
    return (document["kind"], document["metadata"]["namespace"], document["metadata"]["name"], spec)


def test_import_then_render_gives_equivalent_objects(capsys):
    assert main(["import", str(HAND_WRITTEN)]) == 0
    captured = capsys.readouterr()
    block = yaml.safe_load(captured.out)[KEY]
    mesh, findings = parse(MeshSettings, block, KEY)
    assert findings == [] and mesh is not None
    rendered = [normalized(m.document) for m in manifests(mesh)]
    original = [normalized(d) for d in documents(HAND_WRITTEN)]
    assert sorted(o for o in original if o[0] != "DestinationRule") == sorted(
        r for r in rendered if r[0] != "DestinationRule"
    )
    assert [r[3] for r in rendered if r[0] == "DestinationRule"] == [original[1][3]]
    assert (
        f"warning: {HAND_WRITTEN}[1]: DestinationRule istio-system/default becomes "
        "istio-system/mesh-wide-istio-mutual. [import.renamed]"
    ) in captured.err


def test_import_names_each_policy_it_cannot_express_and_exits_1(tmp_path, capsys):
    dry_run = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "observe", "namespace": "shop", "annotations": {"istio.io/dry-run": "TRUE"}},
        "spec": {"action": "DENY", "rules": [{}]},
    }
    plaintext = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "legacy", "namespace": "shop"},
        "spec": {"host": "legacy.shop.svc.cluster.local", "trafficPolicy": {"tls": {"mode": "DISABLE"}}},
    }
    dump = write_list(tmp_path / "cluster.yaml", [dry_run, plaintext])
    assert main(["import", dump]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[:3] == [
        f"error: {dump}[0].items[0]: AuthorizationPolicy shop/observe cannot be expressed in gke-mtls:mesh: it is a "
        'dry run (istio.io/dry-run: "TRUE"), which the settings make only for a migration stage. A stack from this '
        "block would enforce less than the cluster does; keep applying it outside the stack, or drop the annotation "
        "to import it enforced. [import.unsupported]",
        f"warning: {dump}[0].items[1]: DestinationRule shop/legacy is not imported: the settings make DestinationRules "
        "only for DISABLE workloads (from their `service`) and the `*.local` rule; keep it where it is, or set "
        "`service` on the workload it serves. [import.skipped]",
        "warning: istio-system: no mesh-wide PeerAuthentication was found, so `mode` is UNSET (Istio's default, "
        "PERMISSIVE); the stack will create one. Set `mode: STRICT` once nothing sends plaintext. "
        "[import.no-mesh-policy]",
    ]


def test_import_keeps_a_policy_bound_by_target_refs(tmp_path, capsys):
    """The settings bind a policy to a waypoint's Service or a gateway (`targetRefs`), as istio.io's waypoint tasks
    do; the deprecated single `targetRef` is read as one of them. Without the Namespace that says default is ambient,
    the block cannot say who enforces the Service's policy; with it, `ambient` carries its waypoint."""
    waypoint = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "productpage-viewer", "namespace": "default"},
        "spec": {
            "targetRefs": [{"kind": "Service", "group": "", "name": "productpage"}],
            "action": "ALLOW",
            "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}],
        },
    }
    gateway = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "at-the-gateway", "namespace": "shop"},
        "spec": {"targetRef": {"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "gw"}},
    }
    dump = write_list(tmp_path / "cluster.yaml", [waypoint, gateway])
    assert main(["import", dump]) == 1  # the block does not say that default is ambient, with its waypoint
    captured = capsys.readouterr()
    assert "error: gke-mtls:mesh.authorization[0].targetRefs: it is bound to Service productpage" in captured.err
    block = yaml.safe_load(captured.out)["gke-mtls:mesh"]
    assert [(p["name"], p["targetRefs"]) for p in block["authorization"]] == [
        ("productpage-viewer", [{"kind": "Service", "name": "productpage"}]),
        ("at-the-gateway", [{"kind": "Gateway", "name": "gw"}]),
    ]
    enrolled = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "default",
            "labels": {"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint"},
        },
    }
    dump = write_list(tmp_path / "with-namespaces.yaml", [enrolled, waypoint, gateway])
    assert main(["import", dump]) == 0
    captured = capsys.readouterr()
    assert yaml.safe_load(captured.out)["gke-mtls:mesh"]["ambient"] == {"default": {"waypoint": "waypoint"}}
    assert "warning: gke-mtls:mesh.authorization[1].targetRefs[0]: the stack declares no Gateway shop/gw" in (
        captured.err
    )


KUBECTL_GET = CLUSTER / "kubectl-get.yaml"


def test_import_keeps_every_policy_of_a_kubectl_dump_and_renders_back_the_same_specs(capsys):
    """A `kubectl get authorizationpolicies,peerauthentications -A -o yaml` List as real clusters give it: kubectl's,
    Helm's and Argo CD's annotations and labels, the API server's metadata, istiod's status, and a policy annotated
    `istio.io/dry-run: "false"` (enforced). Every policy is imported, and the block renders back to the same specs."""
    assert main(["import", str(KUBECTL_GET)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    mesh, findings = parse(MeshSettings, yaml.safe_load(captured.out)[KEY], KEY)
    assert findings == [] and mesh is not None
    original = sorted(normalized(d) for d in documents(KUBECTL_GET)[0]["items"])
    assert len(original) == 6
    assert sorted(normalized(m.document) for m in manifests(mesh)) == original


def test_analyze_and_validate_read_the_kubectl_dump_status_and_all(capsys):
    assert main(["analyze", str(KUBECTL_GET)]) == 0
    assert capsys.readouterr().out == f"{KUBECTL_GET}: ok\n"
    assert main(["validate", str(KUBECTL_GET)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 6 and all(line.endswith(": ok") for line in out)


@pytest.mark.parametrize("value", ["1", "t", "T", "TRUE", "true", "True"])
def test_import_refuses_every_dry_run_value_istiod_reads_as_true(tmp_path, capsys, value):
    items = documents(KUBECTL_GET)[0]["items"]
    items[0]["metadata"]["annotations"]["istio.io/dry-run"] = value
    assert main(["import", write_list(tmp_path / "cluster.yaml", items)]) == 1
    assert "AuthorizationPolicy shop/deny-admin cannot be expressed" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "f", "F", "FALSE", "false", "False"])
def test_import_keeps_every_dry_run_value_istiod_reads_as_false(tmp_path, capsys, value):
    items = documents(KUBECTL_GET)[0]["items"]
    items[0]["metadata"]["annotations"]["istio.io/dry-run"] = value
    assert main(["import", write_list(tmp_path / "cluster.yaml", items)]) == 0
    assert "deny-admin" in capsys.readouterr().out


def test_a_dry_run_value_istiod_cannot_parse_is_refused_by_name(tmp_path, capsys):
    """istiod's webhook refuses it; had it got in, istiod would enforce it (`isDryRun` logs the error)."""
    items = documents(KUBECTL_GET)[0]["items"]
    items[0]["metadata"]["annotations"]["istio.io/dry-run"] = "yes"
    dump = write_list(tmp_path / "cluster.yaml", items)
    assert main(["import", dump]) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        f"error: {dump}[0].items[0]: the API server would refuse it, so the analysis leaves it out: shop/deny-admin "
        'has annotation istio.io/dry-run with invalid value (yes): strconv.ParseBool: parsing "yes": invalid syntax. '
        "[analyze.invalid]"
    )


def test_an_input_without_a_policy_says_so(tmp_path, capsys):
    dump = write_list(tmp_path / "cluster.yaml", [])
    assert main(["analyze", dump]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"warning: {dump}: holds no PeerAuthentication or AuthorizationPolicy: if that is all the cluster has, "
        "Istio's defaults apply (PERMISSIVE, every request allowed). Export its policies with `kubectl get "
        "peerauthentications,authorizationpolicies,destinationrules -A -o yaml`. [analyze.no-policy]",
        f"{dump}: 0 error(s), 1 warning(s)",
    ]
    assert main(["import", dump]) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        f"error: {dump}: holds no PeerAuthentication or AuthorizationPolicy, so there is nothing to import. Export "
        "them with `kubectl get peerauthentications,authorizationpolicies,destinationrules -A -o yaml`. "
        "[import.no-policy]"
    )


def test_an_input_whose_policies_were_all_left_out_says_so(tmp_path, capsys):
    broken = copy.deepcopy(documents(HAND_WRITTEN)[2])
    broken["spec"]["mtls"]["mode"] = "STRICTT"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    main(["analyze", str(path)])
    assert (
        f"warning: {path}: holds no PeerAuthentication or AuthorizationPolicy the API server would take (1 left out "
        "above): if that is all"
    ) in capsys.readouterr().out


@pytest.mark.parametrize("command", ["analyze", "import"])
def test_the_root_namespace_must_be_a_namespace_name(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        main([command, str(HAND_WRITTEN), "--root-namespace", "Istio_System"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"python -m mtls {command}: error: argument --root-namespace: 'Istio_System' is not a namespace name: a "
        "namespace is a lowercase RFC 1123 label: up to 63 lowercase letters, digits or hyphens, starting and ending "
        "with a letter or digit"
    )


def test_analyze_prints_istiods_warnings_as_validate_does(tmp_path, capsys):
    """istio.io's TCP authorization task (content/en/docs/tasks/security/authorization/authz-tcp/snips.sh of
    istio/istio.io, snip_configure_deny_authorization_policy_for_a_tcp_workload_1): a DENY rule with only an HTTP
    field, which the task shows refusing every TCP connection to tcp-echo."""
    tcp_policy = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "tcp-policy", "namespace": "foo"},
        "spec": {
            "selector": {"matchLabels": {"app": "tcp-echo"}},
            "action": "DENY",
            "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}],
        },
    }
    dump = write_list(tmp_path / "cluster.yaml", [tcp_policy])
    assert main(["analyze", dump]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"warning: {dump}[0].items[0]: istiod warns about AuthorizationPolicy foo/tcp-policy: configured "
        "AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of only HTTP attributes "
        "in a DENY rule; it is recommended to explicitly specify the port [analyze.istiod-warning]",
        f"{dump}: 0 error(s), 1 warning(s)",
    ]
