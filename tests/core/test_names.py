"""Name syntax, written once: Kubernetes' DNS-1123 rules as apimachinery states them, GCE names, host names."""

from __future__ import annotations

import pytest

from components.core.names import GCE_NAME, NAMESPACE_NAME, RESOURCE_NAME, is_host_label


@pytest.mark.parametrize("name", ["web", "a", "web-1", "n" * 63])
def test_accepts_namespaces_kubernetes_accepts(name):
    assert NAMESPACE_NAME.matches(name)


@pytest.mark.parametrize("name", ["", "Web", "web_1", "-web", "web-", "a.b", "n" * 64])
def test_rejects_namespaces_kubernetes_rejects(name):
    assert not NAMESPACE_NAME.matches(name)


@pytest.mark.parametrize("name", ["web", "web.v1", "a" * 70, "a." * 126 + "a"])
def test_accepts_resource_names_kubernetes_accepts(name):
    # apimachinery's IsDNS1123Subdomain limits the whole name to 253 characters, not each dot-separated part.
    assert RESOURCE_NAME.matches(name)


@pytest.mark.parametrize("name", ["Web", "a..b", ".a", "a.", "a" * 254])
def test_rejects_resource_names_kubernetes_rejects(name):
    assert not RESOURCE_NAME.matches(name)


@pytest.mark.parametrize("name, valid", [("k8s1-0123abcd-default-web-80", True), ("1web", False), ("web-", False)])
def test_gce_names_start_with_a_letter_and_do_not_end_with_a_hyphen(name, valid):
    assert GCE_NAME.matches(name) is valid


@pytest.mark.parametrize("label", ["dev", "DEV", "x1", "a" * 63])
def test_accepts_host_labels_in_any_case(label):
    assert is_host_label(label)


@pytest.mark.parametrize("label", ["\u017fx", "\u212ak", "web_app", "-a", "a" * 64, ""])
def test_rejects_host_labels_that_case_folding_or_unicode_would_let_through(label):
    # U+017F (long s) and U+212A (Kelvin sign) match [a-z] under re.IGNORECASE unless the class is ASCII-only.
    assert not is_host_label(label)
