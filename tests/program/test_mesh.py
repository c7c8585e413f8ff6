"""The mesh under Pulumi's mock engine: each Istio resource's exact apiVersion, kind, metadata and spec, written
through the explicit cluster provider."""

from __future__ import annotations

import copy

from tests.conftest import committed_config

PA = "kubernetes:security.istio.io/v1:PeerAuthentication"
AP = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
DR = "kubernetes:networking.istio.io/v1:DestinationRule"
PROVIDER = "pulumi:providers:kubernetes"


def istio(recording):
    return {r.name: r for r in recording.resources if r.type in (PA, AP, DR)}


def test_committed_dev_mesh_is_the_seed_scenario_with_its_exceptions(run_stack, dev_config):
    recording = run_stack(dev_config)
    assert recording.error is None
    resources = istio(recording)
    assert {name: (r.type, r.inputs) for name, r in resources.items()} == {
        "pa-istio-system-default": (
            PA,
            {
                "apiVersion": "security.istio.io/v1",
                "kind": "PeerAuthentication",
                "metadata": {"name": "default", "namespace": "istio-system"},
                "spec": {"mtls": {"mode": "STRICT"}},
            },
        ),
        "pa-legacy-default": (
            PA,
            {
                "apiVersion": "security.istio.io/v1",
                "kind": "PeerAuthentication",
                "metadata": {"name": "default", "namespace": "legacy"},
                "spec": {"mtls": {"mode": "PERMISSIVE"}},
            },
        ),
        "ap-legacy-plaintext-observe": (
            "kubernetes:security.istio.io/v1:AuthorizationPolicy",
            {
                "apiVersion": "security.istio.io/v1",
                "kind": "AuthorizationPolicy",
                "metadata": {
                    "name": "plaintext-observe",
                    "namespace": "legacy",
                    "annotations": {"istio.io/dry-run": "true"},
                },
                "spec": {"action": "DENY", "rules": [{"from": [{"source": {"notPrincipals": ["*"]}}]}]},
            },
        ),
        "pa-my-namespace-my-special-app": (
            PA,
            {
                "apiVersion": "security.istio.io/v1",
                "kind": "PeerAuthentication",
                "metadata": {"name": "my-special-app", "namespace": "my-namespace"},
                "spec": {
                    "selector": {"matchLabels": {"app": "my-special-app"}},
                    "mtls": {"mode": "PERMISSIVE"},
                    "portLevelMtls": {"8080": {"mode": "DISABLE"}},
                },
            },
        ),
        "dr-my-namespace-my-special-app-plaintext": (
            DR,
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "DestinationRule",
                "metadata": {"name": "my-special-app-plaintext", "namespace": "my-namespace"},
                # The mock engine carries numbers as floats, as Pulumi's wire format does; Kubernetes gets 8080.
                "spec": {
                    "host": "my-special-app.my-namespace.svc.cluster.local",
                    "trafficPolicy": {"portLevelSettings": [{"port": {"number": 8080.0}, "tls": {"mode": "DISABLE"}}]},
                },
            },
        ),
        "pa-default-web-edge-port": (
            PA,
            {
                "apiVersion": "security.istio.io/v1",
                "kind": "PeerAuthentication",
                "metadata": {"name": "web-edge-port", "namespace": "default"},
                "spec": {
                    "selector": {"matchLabels": {"app": "web"}},
                    "mtls": {"mode": "UNSET"},
                    "portLevelMtls": {"8080": {"mode": "PERMISSIVE"}},
                },
            },
        ),
        "ap-default-httpbin-policy": (
            AP,
            {
                "apiVersion": "security.istio.io/v1",
                "kind": "AuthorizationPolicy",
                "metadata": {"name": "httpbin-policy", "namespace": "default"},
                "spec": {
                    "selector": {"matchLabels": {"app": "httpbin"}},
                    "action": "ALLOW",
                    "rules": [
                        {
                            "from": [{"source": {"principals": ["cluster.local/ns/default/sa/sleep"]}}],
                            "to": [{"operation": {"methods": ["GET"], "paths": ["/info*"]}}],
                        }
                    ],
                },
            },
        ),
    }
    assert recording.outputs["meshResources"] == sorted(resources)


def test_istio_resources_go_through_the_explicit_cluster_provider_inside_the_mesh_component(run_stack, dev_config):
    recording = run_stack(dev_config)
    provider = recording.one(PROVIDER)
    assert provider.name == "cluster"
    assert provider.inputs == {"context": "gke_acme-dev_europe-west1_platform"}
    component = recording.one("gke-mtls:mesh:Mesh")
    for resource in istio(recording).values():
        assert resource.parent == component.urn
        assert resource.provider.startswith(provider.urn + "::")


def test_kubeconfig_path_is_resolved_for_the_provider(run_stack, dev_config, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    dev_config["gke-mtls:cluster"] = {"kubeconfig": str(kubeconfig), "context": "gke_x"}
    recording = run_stack(dev_config)
    assert recording.one(PROVIDER).inputs == {"kubeconfig": str(kubeconfig), "context": "gke_x"}


def test_a_mesh_only_stack_registers_no_cloud_resource(run_stack, dev_config):
    for key in ("gke-mtls:edge", "gke-mtls:backend"):
        dev_config.pop(key)
    recording = run_stack(dev_config)
    assert recording.error is None
    assert [
        r for r in recording.resources if r.type.startswith("gcp:") or r.type == "pulumi:pulumi:StackReference"
    ] == []
    assert len(istio(recording)) == 7
    assert recording.invokes == []


def test_prod_mesh_denies_by_default_and_fronts_the_ingress_gateway(run_stack):
    recording = run_stack(committed_config("prod"), stack="prod")
    resources = istio(recording)
    assert resources["ap-default-allow-nothing"].inputs["spec"] == {}
    assert resources["pa-istio-system-default"].inputs["spec"] == {"mtls": {"mode": "STRICT"}}
    assert sorted(resources) == ["ap-default-allow-nothing", "ap-default-httpbin-policy", "pa-istio-system-default"]


def test_mesh_errors_stop_the_program_before_anything_is_registered(run_stack, dev_config):
    mesh = dev_config["gke-mtls:mesh"]
    mesh["edgeBackend"] = {"namespace": "default", "selector": {"app": "httpbin"}, "port": 8000}
    mesh["authorization"][0]["rules"][0]["to"][0]["operation"]["methods"] = ["get"]
    recording = run_stack(dev_config, preview=True)
    assert [m.rsplit(" [", 1)[1] for m in recording.messages("error")] == ["mesh.method]", "mesh.edge-backend-strict]"]
    assert recording.resources == []


def test_mesh_warnings_and_notes_reach_the_engine(run_stack, dev_config):
    dev_config["gke-mtls:mesh"]["meshWideIstioMutual"] = True
    dev_config["gke-mtls:mesh"]["authorization"][0]["rules"] = [{}]
    recording = run_stack(copy.deepcopy(dev_config))
    assert recording.error is None
    assert [m.rsplit(" [", 1)[1] for m in recording.messages("warning")] == ["mesh.allow-all]"]
    assert [m.rsplit(" [", 1)[1] for m in recording.messages("info")] == ["mesh.istio-mutual-dr]"]
    assert "dr-istio-system-mesh-wide-istio-mutual" in istio(recording)


def test_the_plaintext_alert_watches_what_is_enforced_with_promql(run_stack, dev_config):
    """The condition is a PromQL one (Monitoring v3 PrometheusQueryLanguageCondition), so no `resource.type` filter
    is needed; its field names are checked against the Cloud SDK's generated messages."""
    from tests.cloud_sdk import message_fields

    mesh = dev_config["gke-mtls:mesh"]
    mesh["migration"] = {"legacy": "enforce"}
    mesh["plaintextAlert"] = {"notificationChannels": ["projects/acme-dev/notificationChannels/42"]}
    recording = run_stack(dev_config)
    assert recording.error is None
    (alert,) = [r for r in recording.resources if r.type == "gcp:monitoring/alertPolicy:AlertPolicy"]
    assert alert.name == "mesh-monitoring-plaintext-alert"
    (condition,) = alert.inputs["conditions"]
    query = condition["conditionPrometheusQueryLanguage"]
    assert query == {
        "query": "sum by (destination_workload_namespace, destination_workload, source_workload_namespace, "
        'source_workload) (rate(istio_requests_total{reporter="destination", connection_security_policy!="mutual_tls", '
        'destination_workload_namespace="legacy"}[5m])) > 0\nor\nsum by (destination_workload_namespace, '
        "destination_workload, source_workload_namespace, source_workload) (rate(istio_tcp_connections_opened_total"
        '{reporter="destination", connection_security_policy!="mutual_tls", destination_workload_namespace="legacy"}'
        "[5m])) > 0",
        "duration": "0s",
        "evaluationInterval": "60s",
        "disableMetricValidation": True,
    }
    assert set(query) <= message_fields("monitoring", "v3", "PrometheusQueryLanguageCondition")
    assert set(condition) <= message_fields("monitoring", "v3", "Condition")
    assert alert.inputs["notificationChannels"] == ["projects/acme-dev/notificationChannels/42"]
    assert alert.inputs["combiner"] == "OR"


def test_the_plaintext_alert_needs_something_at_enforce(run_stack, dev_config):
    dev_config["gke-mtls:mesh"]["plaintextAlert"] = {}
    recording = run_stack(dev_config, preview=True)
    assert recording.messages("error")[0] == (
        "gke-mtls:mesh.plaintextAlert: nothing is at `enforce`, so the alert would watch nothing; set it once a "
        "namespace or workload is. [config.migration]"
    )
    assert recording.resources == []
