"""Bad stack configurations: each stops the real program with its exact message, and nothing is registered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

Edit = Callable[[dict[str, Any]], None]


def edge(**changes: Any) -> Edit:
    return lambda config: config["gke-mtls:edge"].update(changes)


def ssl_policy(**changes: Any) -> Edit:
    return lambda config: config["gke-mtls:edge"].update(sslPolicy=changes)


def backend(value: Any) -> Edit:
    return lambda config: config.update({"gke-mtls:backend": value})


def drop(key: str) -> Edit:
    return lambda config: config.pop(key)


def top(key: str, value: Any) -> Edit:
    return lambda config: config.update({key: value})


CASES: list[tuple[str, Edit, str]] = [
    (
        "misspelt_top_level_key",
        top("gke-mtls:edeg", {}),
        "gke-mtls:edeg: is not a known key; did you mean 'edge'? known keys here are backend, edge, cluster, mesh, "
        "gkeBackend. [config.unknown-key]",
    ),
    (
        "misspelt_edge_key",
        edge(trustAnchor=["certs/dev/root-ca.pem"]),
        "gke-mtls:edge.trustAnchor: is not a known key; did you mean 'trustAnchors'? known keys here are domains, "
        "certificate, sslPolicy, clientValidation, trustAnchors, intermediateCas, trustRotation, "
        "allowlistedCertificates, httpsRedirect, rejectedClientsAlert, loadBalancer, region, networkTier, "
        "loadBalancerAuthorization, expiryWarningDays. "
        "[config.unknown-key]",
    ),
    (
        "misspelt_ssl_policy_key",
        ssl_policy(minTls="TLS_1_2"),
        "gke-mtls:edge.sslPolicy.minTls: is not a known key; did you mean 'minTlsVersion'? known keys here are "
        "profile, minTlsVersion, customFeatures. [config.unknown-key]",
    ),
    (
        "backend_without_edge",
        drop("gke-mtls:edge"),
        "gke-mtls:backend: applies only with gke-mtls:edge; add gke-mtls:edge or remove this key. [config.unused]",
    ),
    (
        "nothing_to_deploy",
        lambda c: [c.pop(k) for k in ("gke-mtls:edge", "gke-mtls:backend", "gke-mtls:mesh", "gke-mtls:cluster")],
        "gke-mtls: configure at least one of gke-mtls:edge, gke-mtls:mesh and gke-mtls:gkeBackend; see Pulumi.dev.yaml "
        "for an example. [config.required]",
    ),
    (
        "mesh_without_cluster",
        drop("gke-mtls:cluster"),
        "gke-mtls:cluster: is required with gke-mtls:mesh: it needs to know which cluster to write to. "
        "[config.required]",
    ),
    (
        "cluster_without_context_or_kubeconfig",
        top("gke-mtls:cluster", {}),
        "gke-mtls:cluster: set `context` (and/or `kubeconfig`) so the mesh goes to the cluster you mean, not to "
        "whatever the current kubeconfig context is. [config.cluster]",
    ),
    (
        "missing_kubeconfig_file",
        top("gke-mtls:cluster", {"kubeconfig": "no/such/kubeconfig"}),
        "gke-mtls:cluster.kubeconfig: no/such/kubeconfig: no such file; run `gcloud container clusters "
        "get-credentials` or fix the path. [config.file]",
    ),
    (
        "unknown_mesh_mode",
        lambda c: c["gke-mtls:mesh"].update(mode="MUTUAL"),
        "gke-mtls:mesh.mode: 'MUTUAL' is not allowed; use one of STRICT, PERMISSIVE, DISABLE, UNSET. [config.enum]",
    ),
    (
        "misspelt_workload_key",
        lambda c: c["gke-mtls:mesh"]["workloads"][0].update(selectors={"app": "x"}),
        "gke-mtls:mesh.workloads[0].selectors: is not a known key; did you mean 'selector'? known keys here are "
        "namespace, selector, mode, ports, name, service, servicePorts, stage. [config.unknown-key]",
    ),
    (
        "edge_backend_neither_form",
        lambda c: c["gke-mtls:mesh"].update(edgeBackend={}),
        "gke-mtls:mesh.edgeBackend: set the workload the load balancer sends to (`namespace`, `selector`, `port`), "
        "or `istioIngressGateway: true`. [config.edge-backend]",
    ),
    (
        "missing_domains",
        lambda c: c["gke-mtls:edge"].pop("domains"),
        "gke-mtls:edge.domains: is required: Host names the edge's certificate covers (at most 100; a wildcard "
        "*.example.com only with a Certificate Manager certificate). [config.required]",
    ),
    (
        "edge_not_an_object",
        top("gke-mtls:edge", "dev.example.com"),
        "gke-mtls:edge: must be an object, got a string. [config.type]",
    ),
    (
        "domains_not_a_list",
        edge(domains="dev.example.com"),
        "gke-mtls:edge.domains: must be a list, got a string. [config.type]",
    ),
    (
        "empty_domains",
        edge(domains=[]),
        "gke-mtls:edge.domains: list at least one host name for the edge's certificate. [config.domain]",
    ),
    (
        "wildcard_domain",
        edge(domains=["*.example.com"], certificate={"source": "computeManaged"}),
        "gke-mtls:edge.domains[0]: '*.example.com': the Compute managed certificate does not cover wildcards; list "
        "each host name, or move to certificate.source dnsAuthorization (README: the switch from a Compute "
        "certificate), where the wildcard can follow once the Compute certificate is dropped. [config.domain]",
    ),
    (
        "invalid_domain",
        edge(domains=["dev.example.com", "web_app.example.com"]),
        "gke-mtls:edge.domains[1]: 'web_app.example.com': is not a valid DNS name: use two or more labels of "
        "letters, digits and hyphens (1 to 63 characters each, not starting or ending with a hyphen), at most 253 "
        "characters. [config.domain]",
    ),
    (
        "unicode_domain",
        edge(domains=["bücher.example.com"]),
        "gke-mtls:edge.domains[0]: 'bücher.example.com': is not ASCII: certificates name hosts in ASCII, so write an "
        "internationalized name IDNA-encoded (its xn-- form, as `idn2` prints it). [config.domain]",
    ),
    (
        "long_s_domain",  # the long s (U+017F) matches [a-z] under re.IGNORECASE without re.ASCII
        edge(domains=["ſhop.example.com"]),
        "gke-mtls:edge.domains[0]: 'ſhop.example.com': is not ASCII: certificates name hosts in ASCII, so write an "
        "internationalized name IDNA-encoded (its xn-- form, as `idn2` prints it). [config.domain]",
    ),
    (
        "single_label_domain",
        edge(domains=["localhost"]),
        "gke-mtls:edge.domains[0]: 'localhost': is not a valid DNS name: use two or more labels of letters, digits "
        "and hyphens (1 to 63 characters each, not starting or ending with a hyphen), at most 253 characters. "
        "[config.domain]",
    ),
    (
        "ip_address_as_domain",
        edge(domains=["203.0.113.7"]),
        "gke-mtls:edge.domains[0]: '203.0.113.7': is an IP address, not a DNS name; a certificate here needs host "
        "names. [config.domain]",
    ),
    (
        "trailing_dot_domain",
        edge(domains=["dev.example.com."]),
        "gke-mtls:edge.domains[0]: 'dev.example.com.': write the name without the trailing dot. [config.domain]",
    ),
    (
        "duplicate_domain",
        edge(domains=["dev.example.com", "DEV.example.com"]),
        "gke-mtls:edge.domains[1]: 'DEV.example.com': is listed twice; list each host name once. [config.domain]",
    ),
    (
        "too_many_domains",
        edge(domains=[f"h{i}.example.com" for i in range(101)]),
        "gke-mtls:edge.domains: has 101 entries; at most 100 are allowed. [config.range]",
    ),
    (
        "unknown_ssl_profile",
        ssl_policy(profile="SECURE"),
        "gke-mtls:edge.sslPolicy.profile: 'SECURE' is not allowed; use one of MODERN, RESTRICTED, COMPATIBLE, "
        "CUSTOM. [config.enum]",
    ),
    (
        "unknown_min_tls_version",
        ssl_policy(minTlsVersion="TLS_1_4"),
        "gke-mtls:edge.sslPolicy.minTlsVersion: 'TLS_1_4' is not allowed; use one of TLS_1_0, TLS_1_1, TLS_1_2. "
        "[config.enum]",
    ),
    (
        "custom_profile_without_features",
        ssl_policy(profile="CUSTOM"),
        "gke-mtls:edge.sslPolicy.customFeatures: profile CUSTOM needs the cipher suites to allow. [config.ssl-policy]",
    ),
    (
        "custom_features_without_custom_profile",
        ssl_policy(profile="MODERN", customFeatures=["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]),
        "gke-mtls:edge.sslPolicy.customFeatures: applies only to profile CUSTOM, not MODERN; remove it. "
        "[config.ssl-policy]",
    ),
    (
        "unknown_client_validation",
        edge(clientValidation="STRICT"),
        "gke-mtls:edge.clientValidation: 'STRICT' is not allowed; use one of REJECT_INVALID, "
        "ALLOW_INVALID_OR_MISSING_CLIENT_CERT. [config.enum]",
    ),
    (
        "https_redirect_as_string",
        edge(httpsRedirect="true"),
        "gke-mtls:edge.httpsRedirect: must be true or false (a YAML boolean), got a string 'true'. [config.type]",
    ),
    (
        "missing_trust_anchor_file",
        edge(trustAnchors=["certs/dev/missing.pem"]),
        "gke-mtls:edge.trustAnchors[0]: certs/dev/missing.pem: no such file under {root}; fix the path. [config.file]",
    ),
    (
        "snake_case_key",
        ssl_policy(min_tls_version="TLS_1_0"),
        "gke-mtls:edge.sslPolicy.min_tls_version: is not a known key; did you mean 'minTlsVersion'? known keys here "
        "are profile, minTlsVersion, customFeatures. [config.unknown-key]",
    ),
    (
        "snake_case_section",
        top("gke-mtls:gke_backend", {"namespace": "default", "service": "web", "port": 80}),
        "gke-mtls:gke_backend: is not a known key; did you mean 'gkeBackend'? known keys here are backend, edge, "
        "cluster, mesh, gkeBackend. [config.unknown-key]",
    ),
    (
        "null_section",
        top("gke-mtls:mesh", None),
        "gke-mtls:mesh: must be an object, got null. [config.type]",
    ),
    (
        "null_key",
        edge(rejectedClientsAlert=None),
        "gke-mtls:edge.rejectedClientsAlert: must be an object, got null. [config.type]",
    ),
    (
        "null_optional_string",
        backend({"stack": None, "name": "k8s1-0123abcd-default-web-80-5104b449"}),
        "gke-mtls:backend.stack: must be a string, got null. [config.type]",
    ),
    (
        "kubeconfig_of_an_unknown_user",
        top("gke-mtls:cluster", {"kubeconfig": "~no-such-user-here/config"}),
        "gke-mtls:cluster.kubeconfig: '~no-such-user-here/config': cannot be used as a path (Could not determine "
        "home directory.). [config.file]",
    ),
    (
        "nul_in_certificate_path",
        edge(trustAnchors=["certs/dev/root-ca.pem\x00"]),
        "gke-mtls:edge.trustAnchors[0]: 'certs/dev/root-ca.pem\\x00': a path cannot hold a NUL character; fix the "
        "path. [config.file]",
    ),
    (
        "nul_in_kubeconfig_path",
        top("gke-mtls:cluster", {"kubeconfig": "kube\x00config"}),
        "gke-mtls:cluster.kubeconfig: 'kube\\x00config': a path cannot hold a NUL character; fix the path. "
        "[config.file]",
    ),
    (
        "directory_as_certificate",
        edge(intermediateCas=["certs/dev"]),
        "gke-mtls:edge.intermediateCas[0]: certs/dev: is a directory; name a PEM file. [config.file]",
    ),
    (
        "not_pem_certificate",
        edge(allowlistedCertificates=["Pulumi.yaml"]),
        "gke-mtls:edge.allowlistedCertificates[0]: Pulumi.yaml: is neither a PEM nor a DER certificate; replace it "
        "with the CA's PEM certificate. [cert.not-pem]",
    ),
    (
        "empty_trust_config",
        edge(trustAnchors=[], intermediateCas=[], allowlistedCertificates=[]),
        "gke-mtls:edge.trustAnchors: the trust config is empty, so no client could ever be validated; list at "
        "least one trust anchor (or an allowlisted certificate). [config.trust]",
    ),
    (
        "intermediates_without_anchor",
        edge(trustAnchors=[], allowlistedCertificates=["certs/dev/root-ca.pem"]),
        "gke-mtls:edge.intermediateCas: intermediate CAs need a trust anchor to chain to; add "
        "trustAnchors. [config.trust]",
    ),
    (
        "missing_backend",
        drop("gke-mtls:backend"),
        "gke-mtls:backend: is required with gke-mtls:edge: the edge needs to know which backend service to front. "
        "[config.required]",
    ),
    (
        "backend_with_stack_and_name",
        backend({"stack": "acme/gke-platform/dev", "name": "k8s1-0123abcd-default-web-80-5104b449"}),
        "gke-mtls:backend: set exactly one of `stack` (a stack that exports the backend service name) and `name` "
        "(the name itself), not both. [config.backend]",
    ),
    (
        "backend_with_neither",
        backend({"output": "backendServiceName"}),
        "gke-mtls:backend: set exactly one of `stack` (a stack that exports the backend service name) and `name` "
        "(the name itself); neither is set. [config.backend]",
    ),
    (
        "backend_output_with_name",
        backend({"name": "k8s1-0123abcd-default-web-80-5104b449", "output": "web"}),
        "gke-mtls:backend.output: applies only with `stack`; remove it or use `stack`. [config.backend]",
    ),
    (
        "backend_name_not_gce_syntax",
        backend({"name": "K8s_Backend"}),
        "gke-mtls:backend.name: 'K8s_Backend' is not valid: a GCE resource name starts with a lowercase letter, then "
        "up to 62 lowercase letters, digits or hyphens, and does not end with a hyphen. [config.syntax]",
    ),
    (
        "backend_stack_not_a_stack_reference",
        backend({"stack": "acme/gke/platform/dev"}),
        "gke-mtls:backend.stack: 'acme/gke/platform/dev' is not valid: a stack reference is "
        "<organization>/<project>/<stack> (or <stack> for the current project). [config.syntax]",
    ),
    *(
        (
            f"{section}_channel_of_{why}",
            edit,
            f"{key}.notificationChannels[0]: '{channel}' is not valid: a channel is "
            "projects/<project>/notificationChannels/<id>, where <project> is a project ID (6 to 30 lowercase letters, "
            "digits or hyphens, starting with a letter and not ending with a hyphen) or a project number. "
            "[config.syntax]",
        )
        for why, channel in [
            ("uppercase_project", "projects/Acme-Dev/notificationChannels/1"),
            ("short_project", "projects/acme/notificationChannels/1"),
            ("project_ending_in_a_hyphen", "projects/acme-dev-/notificationChannels/1"),
            ("project_starting_with_a_digit", "projects/1acme-dev/notificationChannels/1"),
            ("non_ascii_project", "projects/ácme-dev/notificationChannels/1"),
        ]
        for section, key, edit in [
            (
                "edge",
                "gke-mtls:edge.rejectedClientsAlert",
                edge(rejectedClientsAlert={"threshold": 1, "notificationChannels": [channel]}),
            ),
            (
                "mesh",
                "gke-mtls:mesh.plaintextAlert",
                lambda config, channel=channel: config["gke-mtls:mesh"].update(
                    plaintextAlert={"notificationChannels": [channel]}, migration={"legacy": "enforce"}
                ),
            ),
        ]
    ),
]


@pytest.mark.parametrize("edit, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_config_stops_the_program_with_its_message_and_registers_nothing(run_stack, dev_config, edit, message):
    from tests.conftest import PROJECT_ROOT

    edit(dev_config)
    recording = run_stack(dev_config)

    assert recording.messages("error") == [message.format(root=PROJECT_ROOT)]
    assert str(recording.error).startswith(
        "1 error(s) in the stack configuration (listed above); nothing was registered."
    )
    assert recording.resources == []  # not even the StackReference or the edge component


@pytest.mark.parametrize("project", ["acme-dev", "a23456", "a" * 30, "123456789012"])
def test_a_channel_of_a_project_id_or_number_is_accepted(run_stack, dev_config, project):
    dev_config["gke-mtls:edge"]["rejectedClientsAlert"] = {
        "threshold": 1,
        "notificationChannels": [f"projects/{project}/notificationChannels/42"],
    }
    assert run_stack(dev_config).error is None


def test_the_default_backend_output_beside_a_name_is_accepted(run_stack, dev_config):
    dev_config["gke-mtls:backend"] = {"name": "k8s1-0123abcd-default-web-80-5104b449", "output": "backendServiceName"}
    assert run_stack(dev_config).error is None


def test_a_bad_certificate_file_is_reported_together_with_the_other_problems_of_its_section(run_stack, dev_config):
    dev_config["gke-mtls:edge"].update(domains=["web_app.example.com"], trustAnchors=["certs/dev/missing.pem"])
    recording = run_stack(dev_config)
    assert [m.rsplit(" [", 1)[1] for m in recording.messages("error")] == ["config.domain]", "config.file]"]


def test_every_duplicate_domain_is_named(run_stack, dev_config):
    dev_config["gke-mtls:edge"]["domains"] = ["a.example.com", "A.example.com", "b.example.com", "b.example.com"]
    recording = run_stack(dev_config)
    assert recording.messages("error") == [
        "gke-mtls:edge.domains[1]: 'A.example.com': is listed twice; list each host name once. [config.domain]",
        "gke-mtls:edge.domains[3]: 'b.example.com': is listed twice; list each host name once. [config.domain]",
    ]


def test_all_problems_of_a_run_are_reported_together(run_stack, dev_config):
    dev_config["gke-mtls:edge"].update(domains=["web_app.example.com"], clientValidation="STRICT", httpsRedirect="no")
    dev_config["gke-mtls:backend"] = {}
    recording = run_stack(dev_config)

    # Rules on one value (the domain) report while the keys are read, in key order; rules between keys follow.
    assert [m.rsplit(" [", 1)[1] for m in recording.messages("error")] == [
        "config.domain]",
        "config.enum]",
        "config.type]",
        "config.backend]",
    ]
    assert str(recording.error).startswith("4 error(s) in the stack configuration")
    assert recording.resources == []
