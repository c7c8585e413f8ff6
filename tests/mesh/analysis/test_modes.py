"""What ztunnel enforces of PeerAuthentications (components/mesh/analysis/modes.py), against istiod's own tests of
pilot/pkg/serviceregistry/ambient/authorization.go of istio/istio @86c9f01fd: the goldens of TestRBACConvert
(pilot/pkg/serviceregistry/ambient/testdata/peer-authn-*.yaml, transcribed: which ports the converted DENY policy
guards one by one, which it leaves out of its policy-wide rule) and the references of TestAmbientIndex_Policy
(ambientindex_test.go:1123-1500). Each case where ztunnel's modes differ from the sidecars' has a quiet twin."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from components.mesh.analysis.modes import (
    DISABLE_IGNORED,
    STRICT_LOST,
    TAKEN_AS_PERMISSIVE,
    ConvertedPolicy,
    PeerAuthentications,
    converted_peer_authentication,
    references_converted,
    ztunnel_changes,
    ztunnel_modes,
)
from components.mesh.interchange.istio_objects import IstioObject, Origin

ROOT = "istio-system"


def pa(namespace: str, mode: str | None, ports: Mapping[str, str] | None = None, app: str | None = None) -> IstioObject:
    spec: dict = {}
    if mode is not None:
        spec["mtls"] = {"mode": mode}
    if ports:
        spec["portLevelMtls"] = {port: {"mode": m} for port, m in ports.items()}
    if app is not None:
        spec["selector"] = {"matchLabels": {"app": app}}
    return IstioObject("PeerAuthentication", namespace, app or "default", spec, Origin(f"{namespace}/{app}", False))


def workload(mode: str | None, ports: Mapping[str, str] | None = None) -> IstioObject:
    return pa("foo", mode, ports, app="a")


# (testdata file, mesh mode, namespace mode, workload, (ports guarded one by one, ports left out) or None: no policy)
GOLDENS = [
    ("peer-authn-disable-port-mtls-strict", None, None, workload("DISABLE", {"9090": "STRICT"}), ({"9090"}, set())),
    (
        "peer-authn-permissive-port-mtls-strict",
        None,
        None,
        workload("PERMISSIVE", {"9090": "STRICT"}),
        ({"9090"}, set()),
    ),
    (
        "peer-authn-permissive-port-mtls-strict-and-permissive",
        None,
        None,
        workload("PERMISSIVE", {"9090": "STRICT", "8080": "PERMISSIVE"}),
        ({"9090"}, set()),
    ),
    (
        "peer-authn-permissive-root-permissive-namespace-strict-workload-ports",
        "PERMISSIVE",
        "PERMISSIVE",
        workload(None, {"9090": "STRICT", "8080": "STRICT"}),
        ({"8080", "9090"}, set()),
    ),
    (
        "peer-authn-permissive-root-permissive-workload",
        "PERMISSIVE",
        None,
        workload(None, {"9090": "PERMISSIVE"}),
        None,
    ),
    (
        "peer-authn-permissive-root-strict-namespace-permissive-workload",
        "PERMISSIVE",
        "STRICT",
        workload(None, {"9090": "PERMISSIVE"}),
        (set(), {"9090"}),
    ),
    (
        "peer-authn-permissive-root-unset-namespace-mixed-workload-ports",
        "PERMISSIVE",
        "UNSET",
        workload(None, {"9090": "STRICT", "8080": "PERMISSIVE"}),
        ({"9090"}, set()),
    ),
    ("peer-authn-strict-and-disable-port-mtls", None, None, workload("STRICT", {"9090": "DISABLE"}), (set(), {"9090"})),
    (
        "peer-authn-strict-and-permissive-port-mtls",
        None,
        None,
        workload("STRICT", {"9090": "PERMISSIVE"}),
        (set(), {"9090"}),
    ),
    ("peer-authn-strict-and-strict-port-mtls", None, None, workload("STRICT", {"8080": "STRICT"}), None),
    (
        "peer-authn-strict-port-mtls-strict-and-permissive",
        None,
        None,
        workload("STRICT", {"9090": "STRICT", "8080": "PERMISSIVE"}),
        (set(), {"8080"}),
    ),
    (
        "peer-authn-strict-root-permissive-namespace-strict-workload",
        "STRICT",
        "PERMISSIVE",
        workload(None, {"9090": "STRICT"}),
        ({"9090"}, set()),
    ),
    (
        "peer-authn-strict-root-permissive-workload",
        "STRICT",
        None,
        workload(None, {"9090": "PERMISSIVE"}),
        (set(), {"9090"}),
    ),
    (
        "peer-authn-strict-root-unset-workload-port-mtls-strict-and-permissive",
        "STRICT",
        None,
        workload(None, {"9090": "PERMISSIVE", "8080": "STRICT"}),
        (set(), {"9090"}),
    ),
    ("peer-authn-strict-workload", None, None, workload("STRICT"), None),
    ("peer-authn-unset-port-mtls-strict", None, None, workload("UNSET", {"8080": "STRICT"}), ({"8080"}, set())),
]


@pytest.mark.parametrize(("golden", "mesh", "namespace", "policy", "expected"), GOLDENS, ids=[g[0] for g in GOLDENS])
def test_the_workload_policy_converts_as_istiods_goldens_say(golden, mesh, namespace, policy, expected):
    converted = converted_peer_authentication(
        policy,
        pa("foo", namespace) if namespace else None,
        pa(ROOT, mesh) if mesh else None,
    )
    if expected is None:
        assert converted is None
    else:
        assert converted == ConvertedPolicy(frozenset(expected[0]), frozenset(expected[1]))


# TestAmbientIndex_Policy: (the line, mesh, namespace, workload, the static STRICT policy?, the converted one?)
REFERENCES = [
    (1154, "PERMISSIVE", "STRICT", None, True, False),
    (1166, "PERMISSIVE", "STRICT", workload("STRICT"), True, False),
    (1178, "PERMISSIVE", "STRICT", workload("PERMISSIVE"), False, False),
    (1190, "PERMISSIVE", "STRICT", workload("PERMISSIVE", {"9090": "STRICT"}), False, True),
    (1247, "PERMISSIVE", "STRICT", workload("PERMISSIVE", {"9090": "PERMISSIVE"}), False, False),
    (1265, "PERMISSIVE", "PERMISSIVE", workload("PERMISSIVE", {"9090": "PERMISSIVE"}), False, False),
    (1279, "PERMISSIVE", "PERMISSIVE", workload("STRICT"), True, False),
    (1294, "PERMISSIVE", "PERMISSIVE", workload("STRICT", {"9090": "PERMISSIVE"}), False, True),
    (1315, "PERMISSIVE", "PERMISSIVE", workload(None, {"9090": "STRICT"}), False, True),
    (1335, "PERMISSIVE", "STRICT", workload(None, {"9090": "STRICT"}), True, False),
    (1348, "PERMISSIVE", "STRICT", workload(None, {"9090": "PERMISSIVE"}), False, True),
    (1425, "STRICT", None, None, True, False),
    (1451, "STRICT", None, workload("PERMISSIVE"), False, False),
    (1464, "STRICT", None, workload("DISABLE"), False, False),
    (1477, "STRICT", None, workload("STRICT", {"9090": "PERMISSIVE"}), False, True),
]


@pytest.mark.parametrize(("line", "mesh", "namespace", "policy", "static", "referenced"), REFERENCES)
def test_a_pod_references_what_istiods_index_test_expects(line, mesh, namespace, policy, static, referenced):
    ns = pa("foo", namespace) if namespace else None
    assert references_converted(policy, ns, pa(ROOT, mesh)) == (static, referenced)


def modes(*objects: IstioObject, ambient: bool = True) -> dict[str, str]:
    peers = PeerAuthentications(objects, ROOT, frozenset({"foo"}) if ambient else frozenset())
    return peers.at("foo", {"app": "a"}).all()


STRICT_NAMESPACE = pa("foo", "STRICT")


def test_a_disable_port_under_an_inherited_strict_stays_strict_at_ztunnel():
    """authorization.go:175-195: a workload policy without a mode, under a STRICT namespace, is an exception only for
    a PERMISSIVE port; a DISABLE port keeps the static STRICT policy. The sidecars take plaintext there."""
    disable = workload(None, {"9090": "DISABLE"})
    assert modes(STRICT_NAMESPACE, disable) == {"*": "STRICT", "9090": "STRICT"}
    assert modes(STRICT_NAMESPACE, disable, ambient=False) == {"*": "STRICT", "9090": "DISABLE"}
    # Quiet: PERMISSIVE is exempted, and so is DISABLE beside it (the converted policy leaves out both, 316-334),
    # or beside the workload's own STRICT (140-157).
    assert modes(STRICT_NAMESPACE, workload(None, {"9090": "PERMISSIVE"})) == {"*": "STRICT", "9090": "PERMISSIVE"}
    both = workload(None, {"9090": "PERMISSIVE", "9091": "DISABLE"})
    assert modes(STRICT_NAMESPACE, both) == {"*": "STRICT", "9090": "PERMISSIVE", "9091": "PERMISSIVE"}
    assert modes(STRICT_NAMESPACE, workload("STRICT", {"9090": "DISABLE"})) == {"*": "STRICT", "9090": "PERMISSIVE"}


def test_a_strict_port_under_the_workloads_permissive_is_lost_when_only_the_mesh_is_strict():
    """authorization.go:281-285 as Go groups it: with the namespace unset and the mesh STRICT, the STRICT port is
    skipped whatever the workload's own mode, while 134-136 and 158-174 dropped the static STRICT for it."""
    policy = workload("PERMISSIVE", {"9090": "STRICT"})
    assert modes(pa(ROOT, "STRICT"), policy) == {"*": "PERMISSIVE", "9090": "PERMISSIVE"}
    assert modes(pa(ROOT, "STRICT"), policy, ambient=False) == {"*": "PERMISSIVE", "9090": "STRICT"}
    # Quiet: the namespace's own STRICT, or a mesh that is not STRICT, keeps the port's group (290-306).
    assert modes(pa(ROOT, "STRICT"), STRICT_NAMESPACE, policy) == {"*": "PERMISSIVE", "9090": "STRICT"}
    assert modes(pa(ROOT, "PERMISSIVE"), policy) == {"*": "PERMISSIVE", "9090": "STRICT"}


def test_a_namespace_policy_without_a_mode_loses_the_meshs_strict_beside_a_permissive_port():
    """authorization.go:175-195 drop the static STRICT for the PERMISSIVE port's sake; 316-323 then skip that port,
    since the namespace policy is not STRICT, so the converted policy has nothing and every port takes plaintext."""
    modeless = pa("foo", None)
    policy = workload(None, {"9090": "PERMISSIVE"})
    assert modes(pa(ROOT, "STRICT"), modeless, policy) == {"*": "PERMISSIVE", "9090": "PERMISSIVE"}
    assert modes(pa(ROOT, "STRICT"), modeless, policy, ambient=False) == {"*": "STRICT", "9090": "PERMISSIVE"}
    # Quiet: without the namespace policy (the golden peer-authn-strict-root-permissive-workload), or with its STRICT.
    assert modes(pa(ROOT, "STRICT"), policy) == {"*": "STRICT", "9090": "PERMISSIVE"}
    assert modes(pa(ROOT, "STRICT"), STRICT_NAMESPACE, policy) == {"*": "STRICT", "9090": "PERMISSIVE"}


def test_ztunnel_takes_disable_as_permissive_and_never_enforces_a_mode_of_its_own():
    assert ztunnel_modes(pa(ROOT, "DISABLE"), None, None).all() == {"*": "PERMISSIVE"}
    assert ztunnel_modes(pa(ROOT, "STRICT"), pa("foo", "DISABLE"), None).all() == {"*": "PERMISSIVE"}
    assert ztunnel_modes(None, None, None).all() == {"*": "PERMISSIVE"}
    assert ztunnel_modes(pa(ROOT, "STRICT"), pa("foo", "UNSET"), None).all() == {"*": "STRICT"}


def test_the_changes_are_named_by_kind_and_an_inherited_disable_is_left_to_its_own_policy():
    def changes(*objects: IstioObject, labels: Mapping[str, str] = {"app": "a"}) -> list[tuple[str, str]]:
        peers = PeerAuthentications(objects, ROOT, frozenset({"foo"}))
        return [(c.port, c.kind) for c in ztunnel_changes(peers, "foo", labels)]

    assert changes(STRICT_NAMESPACE, workload(None, {"9090": "DISABLE"})) == [("9090", DISABLE_IGNORED)]
    assert changes(pa(ROOT, "STRICT"), workload("PERMISSIVE", {"9090": "STRICT"})) == [("9090", STRICT_LOST)]
    assert changes(pa("foo", "DISABLE"), labels={}) == [("*", TAKEN_AS_PERMISSIVE)]
    # The workload inherits the namespace's DISABLE: the namespace policy's change, not the workload policy's.
    assert changes(pa("foo", "DISABLE"), workload(None, {"9090": "STRICT"})) == []
    assert changes(pa("foo", "DISABLE"), workload("DISABLE", {"9090": "STRICT"})) == [("*", TAKEN_AS_PERMISSIVE)]
    assert changes(STRICT_NAMESPACE, workload(None, {"9090": "PERMISSIVE"})) == []
