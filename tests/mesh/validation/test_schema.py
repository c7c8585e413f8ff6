"""The validator against Istio's own fixtures, and every generated resource against Istio's CRDs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.mesh.validation import schema as istio_schema
from components.stack import istio_resources
from tests.conftest import PROJECT_ROOT, committed_config
from tests.mesh.configs import EDGE_BACKEND_WITH_CALLERS, EVERY_SHAPE, SEED, stack_of
from tests.mesh.validation.test_ambient import AMBIENT_SHOP

TESTDATA = Path(__file__).parent / "istio_webhook" / "crd-testdata"


@pytest.fixture(scope="module")
def schemas() -> istio_schema.IstioSchemas:
    try:
        return istio_schema.IstioSchemas.load()
    except istio_schema.CrdsMissingError as exc:
        pytest.fail(str(exc))


def fixture_documents(pattern: str) -> list[tuple[str, dict]]:
    files = sorted(TESTDATA.glob(pattern))
    if not files:
        pytest.fail(
            f"no Istio validation fixtures match {TESTDATA / pattern}; they come from "
            "pkg/config/validation/testdata/crds/ of istio/istio"
        )
    return [(f"{f.name}:{i}", d) for f in files for i, d in enumerate(yaml.safe_load_all(f.read_text())) if d]


VALID = fixture_documents("*-valid.yaml")
INVALID = fixture_documents("*-invalid.yaml")


@pytest.mark.parametrize("document", [d for _, d in VALID], ids=[i for i, _ in VALID])
def test_accepts_every_valid_istio_fixture(schemas, document):
    assert schemas.validate(document) == []


@pytest.mark.parametrize("document", [d for _, d in INVALID], ids=[i for i, _ in INVALID])
def test_rejects_every_invalid_istio_fixture_with_the_substance_of_its_error(schemas, document):
    document = dict(document)
    expected = document.pop("_err")
    problems = schemas.validate(document)
    assert problems, f"accepted, but Istio says: {expected}"
    assert any(expected.lower() in p.lower() for p in problems), (expected, problems)


def test_unknown_fields_are_refused(schemas):
    problems = schemas.validate(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": {"name": "x", "namespace": "y"},
            "spec": {"mtlz": {"mode": "STRICT"}},
        }
    )
    assert problems == ['spec.mtlz: unknown field "mtlz"']


def test_integer_ports_in_an_authorization_policy_are_refused(schemas):
    problems = schemas.validate(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": "x", "namespace": "y"},
            "spec": {"rules": [{"to": [{"operation": {"ports": [8080]}}]}]},
        }
    )
    assert problems == [
        "spec.rules[0].to[0].operation.ports[0]: Invalid value: 8080: "
        "spec.rules[0].to[0].operation.ports[0] in body must be of type string"
    ]


def test_names_must_be_dns_subdomains(schemas):
    problems = schemas.validate(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": {"name": "Bad_Name", "namespace": "y"},
            "spec": {},
        }
    )
    assert problems[0].startswith('metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain')


def test_unknown_kind_or_version_is_refused(schemas):
    problems = schemas.validate(
        {"apiVersion": "security.istio.io/v2", "kind": "PeerAuthentication", "metadata": {"name": "x"}, "spec": {}}
    )
    assert problems[0].startswith("apiVersion 'security.istio.io/v2' kind 'PeerAuthentication' is not served")


def test_missing_crds_file_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv(istio_schema.CRDS_ENV, str(tmp_path / "nope.yaml"))
    with pytest.raises(istio_schema.CrdsMissingError) as raised:
        istio_schema.IstioSchemas.load()
    assert "manifests/charts/base/files/crd-all.gen.yaml of istio/istio" in str(raised.value)


def generated(raw) -> list[dict]:
    return [m.document for m in istio_resources.for_stack(stack_of(raw))]


CONFIGS = {
    "seed": SEED,
    "every-shape": EVERY_SHAPE,
    "edge-backend-with-callers": EDGE_BACKEND_WITH_CALLERS,
    "migration": {
        "migration": {"legacy": "observe", "payments": "enforce"},
        "workloads": [{"namespace": "shop", "selector": {"app": "old"}, "stage": "observe"}],
    },
    "ambient": AMBIENT_SHOP,  # targetRefs
    "dev": committed_config("dev")["gke-mtls:mesh"],
    "prod": committed_config("prod")["gke-mtls:mesh"],
}


@pytest.mark.parametrize("raw", list(CONFIGS.values()), ids=list(CONFIGS))
def test_every_generated_resource_validates_against_istios_crds(schemas, raw):
    for document in generated(raw):
        assert schemas.validate(document) == [], document


def test_the_schema_test_covers_every_generated_kind():
    kinds = {(d["apiVersion"], d["kind"]) for raw in CONFIGS.values() for d in generated(raw)}
    assert kinds == {
        ("security.istio.io/v1", "PeerAuthentication"),
        ("security.istio.io/v1", "AuthorizationPolicy"),
        ("networking.istio.io/v1", "DestinationRule"),
    }


def test_every_mesh_test_configuration_validates_too(schemas):
    """Configurations the analysis tests accept without errors must also be valid Istio."""
    from tests.mesh.analysis.test_analysis import QUIET_CONFIGS

    for raw in QUIET_CONFIGS:
        for document in generated(raw):
            assert schemas.validate(document) == [], document


def test_the_crds_ship_with_the_program_so_pulumi_up_can_check_what_it_generates():
    assert PROJECT_ROOT / "components" / "mesh" / "istio-crds.yaml" == istio_schema.DEFAULT_CRDS
    served = istio_schema.IstioSchemas.load(istio_schema.DEFAULT_CRDS).versions
    assert {kind for _, kind in served} == {"AuthorizationPolicy", "PeerAuthentication", "DestinationRule"}


# --- each distinct body is checked once ---------------------------------------------------------------------------


def fresh() -> istio_schema.IstioSchemas:
    """Schemas loaded anew: no answer kept, fastjsonschema not compiled yet (jsonschema checks the first bodies)."""
    return istio_schema._load.__wrapped__(str(istio_schema.DEFAULT_CRDS))


def every_document() -> list[dict]:
    """Istio's fixtures (valid and invalid, errors dropped) and every generated resource of the test configurations."""
    fixtures = [{k: v for k, v in d.items() if k != "_err"} for _, d in VALID + INVALID]
    return fixtures + [d for raw in CONFIGS.values() for d in generated(raw)]


def test_a_kept_answer_is_the_one_a_new_check_gives():
    """The answer about a body is kept under the body itself; the metadata and istiod's webhook are checked for each
    document. So a document answered from what was kept gets the verdict a first check gives it."""
    first, again = fresh(), fresh()
    documents = every_document()
    for document in documents:
        again.admit(document)  # every body kept
    kept = sum(len(v.answers) for v in again.versions.values())
    assert kept > 30
    for document in documents:
        assert again.admit(document) == first.admit(document), document
    assert sum(len(v.answers) for v in again.versions.values()) == kept  # all of them answered from what was kept


def test_documents_that_differ_only_in_metadata_share_the_body_answer_not_the_verdict():
    schemas = fresh()
    body = {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "spec": {"mtls": {"mode": "STRICT"}}}
    assert schemas.validate({**body, "metadata": {"name": "default", "namespace": "shop"}}) == []
    assert schemas.validate({**body, "metadata": {"name": "Default", "namespace": "shop"}}) == [
        'metadata.name: Invalid value: "Default": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
    ]
    assert len(schemas.versions[("security.istio.io/v1", "PeerAuthentication")].answers) == 1


@pytest.mark.parametrize(
    "spec, other",
    [
        ({"portLevelMtls": {"8080": {"mode": "STRICT"}}}, {"portLevelMtls": {8080: {"mode": "STRICT"}}}),
        ({"mtls": {"mode": "STRICT"}}, {"mtls": {"mode": ["STRICT"]}}),
        ({"selector": {"matchLabels": {"a": "1", "b": "2"}}}, {"selector": {"matchLabels": {"b": "2", "a": "1"}}}),
        ({"x": 1}, {"x": 1.0}),
        ({"x": 1}, {"x": True}),
        ({"x": [1]}, {"x": (1,)}),
        ({"x": 0.0}, {"x": -0.0}),
    ],
    ids=["key-types", "value-types", "key-order", "int-float", "int-bool", "list-tuple", "signed-zero"],
)
def test_bodies_the_checks_can_tell_apart_are_kept_apart(spec, other):
    """The key is the body's pickle: what compares equal in Python but could be checked differently (1 and True,
    a list and a tuple, an int key and a string key, the order of keys in a message) gets its own answer."""
    version = fresh().versions[("security.istio.io/v1", "PeerAuthentication")]
    version.body_errors({"spec": spec})
    version.body_errors({"spec": other})
    assert len(version.answers) == 2


@pytest.mark.parametrize(
    "document", every_document(), ids=lambda d: f"{d.get('kind')}:{d.get('metadata', {}).get('name')}"
)
def test_fastjsonschema_accepts_exactly_what_jsonschema_accepts(document):
    """The structural check switches from jsonschema to fastjsonschema's compiled check after COMPILE_AFTER bodies of
    a kind; the verdict is jsonschema's either way only if the two agree, which they do on every document here."""
    schemas = istio_schema.IstioSchemas.load()
    version = schemas.versions[(document["apiVersion"], document["kind"])]
    body = {k: v for k, v in document.items() if k not in ("apiVersion", "kind", "metadata")}
    try:
        version.accepts(body)
        compiled = True
    except istio_schema.fastjsonschema.JsonSchemaException:
        compiled = False
    assert compiled == (list(version.validator.iter_errors(body)) == [])


# --- each CRD parsed when first needed ----------------------------------------------------------------------------


def test_a_kind_read_alone_is_the_kind_read_with_the_whole_file():
    """Asking for PeerAuthentication parses its CRD only; the answer is the one reading every CRD gives."""
    alone = fresh()
    peer = alone.version("security.istio.io/v1", "PeerAuthentication")
    assert [crd.__dict__.get("document") is not None for crd in alone._crds] == [False, False, True]
    read_whole = fresh().versions[("security.istio.io/v1", "PeerAuthentication")]
    assert peer is not None
    assert (peer.schema, peer.strict) == (read_whole.schema, read_whole.strict)
    assert alone.versions[("security.istio.io/v1", "PeerAuthentication")] is peer  # one object: its answers kept


def crd_file(tmp_path: Path, *documents: str) -> istio_schema.IstioSchemas:
    path = tmp_path / "crds.yaml"
    path.write_text("\n---\n".join(documents))
    return istio_schema._load.__wrapped__(str(path))


def peer_authentication_crd(modes: list[str], layout: str = "block") -> str:
    names = "  names:\n    kind: PeerAuthentication\n" if layout == "block" else "  names: {kind: PeerAuthentication}\n"
    return (
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: x\n"
        f"spec:\n  group: security.istio.io\n{names}  versions:\n  - name: v1\n    served: true\n    schema:\n"
        "      openAPIV3Schema:\n        type: object\n        properties:\n          spec:\n            type: object\n"
        "            properties:\n              mode:\n                type: string\n"
        f"                enum: {modes}\n"
    )


@pytest.mark.parametrize("layout", ["block", "flow"])
def test_a_kind_defined_twice_is_the_later_definition_however_the_file_is_laid_out(tmp_path, layout):
    schemas = crd_file(tmp_path, peer_authentication_crd(["A"], layout), peer_authentication_crd(["B"], layout))
    document = {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": {"name": "x"}}
    assert schemas.validate({**document, "spec": {"mode": "B"}}) == []
    assert schemas.validate({**document, "spec": {"mode": "A"}}) == [
        'spec.mode: Unsupported value: "A": supported values: "B"'
    ]


def test_a_file_without_crds_says_so_when_it_is_read(tmp_path):
    with pytest.raises(istio_schema.CrdsMissingError, match="holds no CustomResourceDefinition"):
        crd_file(tmp_path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
