"""The Istio objects the analysis reads, whatever they came from: the stack's settings (as manifests) or YAML files,
such as `kubectl get peerauthentications,authorizationpolicies,destinationrules -A -o yaml`. Each object remembers
where it came from, so a finding names the settings key or the file and document the user must change."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from components.core.files import UnreadableFileError, read_regular
from components.core.findings import Finding, error
from components.core.manifest import Manifest

KINDS = ("PeerAuthentication", "AuthorizationPolicy", "DestinationRule")
GROUPS = ("security.istio.io", "networking.istio.io")
# What places the policies, read from the same files without being analysed: the Services in front of workloads
# (DestinationRules name their hosts), the Gateways whose pods no PeerAuthentication applies to (the Gateway API's
# are also waypoints, and their GatewayClass may say what traffic they take), the Namespaces whose labels say which
# data plane their pods run, and the ServiceEntries a policy may be bound to. The core group is "" (apiVersion `v1`).
CONTEXT = {
    ("", "Service"),
    ("", "Namespace"),
    ("networking.istio.io", "Gateway"),
    ("networking.istio.io", "ServiceEntry"),
    ("gateway.networking.k8s.io", "Gateway"),
    ("gateway.networking.k8s.io", "GatewayClass"),
}
CLUSTER_SCOPED = ("Namespace", "GatewayClass")
DRY_RUN = "istio.io/dry-run"
# Go's strconv.ParseBool, which istiod parses the dry-run annotation with (pilot/pkg/security/authz/builder).
GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
# Where `kubectl apply` puts an object whose metadata names no namespace.
DEFAULT_NAMESPACE = "default"
NOTHING: Mapping[str, str] = MappingProxyType({})
# libyaml's safe loader when PyYAML was built with it: a cluster dump parses ten times faster.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_NESTING = 1000
_BRACKETS = re.compile(r"[\[\]{}]")


@dataclass(frozen=True)
class Origin:
    key: str  # a settings key ("gke-mtls:mesh.workloads[0]") or a document ("cluster.yaml[3]")
    from_settings: bool

    def at(self, settings_path: str, spec_path: str) -> str:
        """The key of one field: settings and Istio spell some fields differently (`ports` vs `portLevelMtls`)."""
        path = settings_path if self.from_settings else f"spec.{spec_path}"
        return f"{self.key}.{path}" if path else self.key


@dataclass(eq=False)  # never changed once made; compared by identity, as istiod's rivals are
class IstioObject:
    kind: str
    namespace: str
    name: str
    spec: Mapping[str, Any]
    origin: Origin
    annotations: Mapping[str, str] = field(default_factory=lambda: NOTHING)
    age: tuple[str, int] = ("", 0)  # (creationTimestamp, position): Istio lets the oldest of rivals win
    labels: Mapping[str, str] = field(default_factory=lambda: NOTHING)
    api_version: str = ""

    @property
    def title(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @functools.cached_property
    def selector(self) -> dict[str, str]:
        """The pod labels it applies to: `selector.matchLabels` of Istio's policies, `selector` itself of a Service
        and an Istio Gateway."""
        selector = self.spec.get("selector")
        plain = self.kind in ("Service", "Gateway")
        labels = selector if plain else selector.get("matchLabels") if isinstance(selector, dict) else None
        return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}

    @property
    def identity(self) -> tuple[str, str, str]:
        """What the API server keys it by."""
        return (self.kind, self.namespace, self.name)

    @property
    def managed_by_pulumi(self) -> bool:
        """pulumi-kubernetes labels what it creates (`app.kubernetes.io/managed-by: pulumi`)."""
        return self.labels.get("app.kubernetes.io/managed-by") == "pulumi"

    @property
    def dry_run(self) -> bool:
        """Istio evaluates and logs a dry-run AuthorizationPolicy but never enforces it. istiod reads the annotation
        with Go's strconv.ParseBool; a value it cannot parse is logged and the policy enforced (`isDryRun` in
        pilot/pkg/security/authz/builder/builder.go), though its webhook refuses such a value first."""
        return go_bool(self.annotations.get(DRY_RUN, "")) is True

    @property
    def targets_gateways(self) -> bool:
        """`targetRefs` binds a policy to gateways and waypoints, not to sidecars."""
        return bool(self.spec.get("targetRefs") or self.spec.get("targetRef"))


def go_bool(value: str) -> bool | None:
    """Go's strconv.ParseBool: True, False, or None for anything else."""
    return True if value in GO_TRUE else False if value in GO_FALSE else None


def listed(value: Any) -> list[Any]:
    """A rule's list field as written, or nothing: a malformed one is reported by the settings checks and matches
    nothing in the analysis."""
    return value if isinstance(value, list) else []


def from_manifests(manifests: Iterable[Manifest]) -> list[IstioObject]:
    return [
        IstioObject(
            m.kind,
            m.namespace,
            m.name,
            m.spec,
            Origin(m.origin or f"{m.kind} {m.namespace}/{m.name}", bool(m.origin)),
            m.annotations or NOTHING,
            ("", position),
        )
        for position, m in enumerate(manifests)
    ]


def group_of(document: Mapping[str, Any]) -> str:
    return str(document.get("apiVersion", "")).rpartition("/")[0]


def labels_text(labels: Mapping[str, str]) -> str:
    """Pod labels as the findings write them: {app: web, track: canary}."""
    return "{" + ", ".join(f"{k}: {v}" for k, v in labels.items()) + "}"


def is_context(document: Mapping[str, Any]) -> bool:
    return (group_of(document), document.get("kind")) in CONTEXT


def context_problem(document: Mapping[str, Any]) -> str | None:
    """Why a context object cannot place policies as it is (the analysis reads these fields only; no schema of theirs
    is checked), or None. A Namespace needs only its name, and labels that are a mapping."""
    metadata = document.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    spec = document.get("spec")
    if not isinstance(metadata.get("name"), str) or not metadata["name"]:
        return "metadata.name is not a non-empty string"
    if document.get("kind") == "Namespace":
        labels = metadata.get("labels")
        return None if labels is None or isinstance(labels, dict) else "metadata.labels is not a mapping"
    if "namespace" in metadata and not isinstance(metadata["namespace"], str):
        return "metadata.namespace is not a string"
    if not isinstance(spec, dict):
        return "spec is not a mapping"
    selector = spec.get("selector")
    if selector is not None and not (
        isinstance(selector, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in selector.items())
    ):
        return "spec.selector is not a mapping of label names to string values"
    if "ports" in spec and not isinstance(spec["ports"], list):
        return "spec.ports is not a list"
    if "clusterIP" in spec and not isinstance(spec["clusterIP"], str):
        return "spec.clusterIP is not a string"
    return None


def from_document(document: Mapping[str, Any], key: str, position: int) -> IstioObject | None:
    """None for a document that is not one of the three kinds nor context; `document` has passed schema validation
    (context: it has a name and its spec is a mapping)."""
    if not (document.get("kind") in KINDS and group_of(document) in GROUPS) and not is_context(document):
        return None
    metadata = document.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    labels = metadata.get("labels") or {}
    cluster_scoped = document["kind"] in CLUSTER_SCOPED  # its own namespace, as far as the analysis asks
    return IstioObject(
        str(document["kind"]),
        str(metadata.get("name", "") if cluster_scoped else metadata.get("namespace") or DEFAULT_NAMESPACE),
        str(metadata.get("name", "")),
        document.get("spec") or {},
        Origin(key, False),
        {str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, dict) else {},
        (str(metadata.get("creationTimestamp") or ""), position),
        {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
        str(document.get("apiVersion", "")),
    )


def by_age(objects: Iterable[IstioObject]) -> list[IstioObject]:
    """Oldest first, as istiod orders rivals; objects without a timestamp (files, settings) keep their order, after
    those that have one, since they would be created now."""
    return sorted(objects, key=lambda o: (o.age[0] == "", o.age[0], o.age[1]))


# --- files -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    key: str  # "path[index]", or "path[index].items[i]" inside a List
    body: Any


def _files(paths: Iterable[str]) -> Iterator[tuple[str, Path | None]]:
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            yield from ((str(p), p) for p in found)
            if not found:
                yield name, None
        else:
            yield name, path


class TooDeepError(yaml.YAMLError):
    pass


def load_yaml(text: str) -> list[Any]:
    """The documents of a YAML text. libyaml's parser recurses once per level of nesting and crashes the process
    (SIGSEGV) some tens of thousands of levels down, so flow nesting is bounded first; no Istio object comes near."""
    depth = deepest = 0
    for bracket in _BRACKETS.finditer(text):
        depth += 1 if bracket.group() in "[{" else -1
        deepest = max(deepest, depth)
    if deepest > MAX_NESTING:
        raise TooDeepError(f"it nests {deepest} levels deep, beyond the {MAX_NESTING} this reader accepts")
    try:
        return [d for d in yaml.load_all(text, Loader=SAFE_LOADER) if d is not None]
    except RecursionError as exc:
        raise TooDeepError("it nests deeper than this reader can follow") from exc


def as_json_keys(value: Any) -> Any:
    """Map keys as the API server stores them: YAML's `on`, `123` or `null` keys become the strings JSON has
    ("true", "123", "null"), so nothing downstream meets a key that is not a string."""
    if isinstance(value, dict):
        return {_json_key(k): as_json_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json_keys(v) for v in value]
    return value


def _json_key(key: Any) -> str:
    if isinstance(key, bool) or key is None:
        return {True: "true", False: "false", None: "null"}[key]
    return str(key)


# A `kubectl get -A -o yaml` of every Istio policy of a large mesh is a few MiB; a device or a runaway file is not.
CLUSTER_FILE_LIMIT = 256 * 1024 * 1024


def read_documents(paths: Iterable[str], code: str = "analyze.file") -> tuple[list[Document], list[Finding]]:
    """Every YAML document of the files and folders given, with each `List` opened into its items; a file that
    cannot be read is reported under `code`."""
    documents: list[Document] = []
    problems: list[Finding] = []
    for name, path in _files(paths):
        if path is None:
            problems.append(error(code, name, "the folder holds no .yaml or .yml file."))
            continue
        try:
            text = read_regular(path, CLUSTER_FILE_LIMIT, "a YAML file").decode("utf-8")
            loaded = [as_json_keys(body) for body in load_yaml(text)]
        except UnreadableFileError as problem:
            problems.append(error(code, name, str(problem)))
            continue
        except RecursionError:
            problems.append(error(code, name, "nests too deeply to be read; no Istio object does."))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(error(code, name, f"cannot be read ({exc.__class__.__name__}: {exc})."))
            continue
        except yaml.YAMLError as exc:
            problems.append(error(code, name, f"is not valid YAML: {exc}"))
            continue
        for i, body in enumerate(loaded):
            if isinstance(body, dict) and body.get("kind") == "List" and isinstance(body.get("items"), list):
                documents += [Document(f"{name}[{i}].items[{j}]", item) for j, item in enumerate(body["items"])]
            else:
                documents.append(Document(f"{name}[{i}]", body))
    return documents, problems
