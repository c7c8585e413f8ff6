"""Validates Istio resources the way a cluster does: the Kubernetes API server with Istio's CRDs (the OpenAPI v3
schema, with unknown fields refused, and every `x-kubernetes-validations` CEL rule, evaluated by the `cel` package:
Rust's cel-interpreter, some 50 times faster than a pure Python CEL), then istiod's validating webhook
(`webhook.py`).

What the API server answers about an object's body (every field but apiVersion, kind and metadata) is a function of
that body alone, so each distinct body gets it once (`_Version.body_errors`). The structural check starts with
jsonschema and compiles fastjsonschema's faster check for a kind once it has seen about as many distinct bodies of
that kind as compiling costs (`_Version.compile_after`): a stack with one DestinationRule never compiles its schema,
a mesh of thousands of policies does early.

Messages follow the API server's wording ("Unsupported value", "Required value", the rule's own message).
"""

from __future__ import annotations

import difflib
import functools
import importlib.machinery
import importlib.util
import json
import os
import pickle
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
import yaml

from components.core.findings import Finding, error
from components.core.names import NAMESPACE_NAME, RESOURCE_NAME
from components.mesh.validation import webhook

# Istio's CRDs for the three kinds this project writes, so `pulumi up` can check what it generates anywhere.
DEFAULT_CRDS = Path(__file__).resolve().parent.parent / "istio-crds.yaml"
CRDS_ENV = "GKE_MTLS_ISTIO_CRDS"
WHERE_TO_GET = (
    "get Istio's CRDs from manifests/charts/base/files/crd-all.gen.yaml of istio/istio (the release you run) "
    f"and put them at {DEFAULT_CRDS} or point {CRDS_ENV} at the file"
)


class CrdsMissingError(Exception):
    pass


def crds_path() -> Path:
    return Path(os.environ.get(CRDS_ENV) or DEFAULT_CRDS)


# Bytes of a kind's schema per body checked by jsonschema before fastjsonschema's check is compiled: compiling takes
# about 1.5 ms per kilobyte of schema, and jsonschema some 0.1 to 0.5 ms per body (measured on Istio 1.30's CRDs).
SCHEMA_BYTES_PER_BODY = 1000
# Bodies whose answer is kept, per kind; past this many the kept answers are dropped and kept afresh.
KEPT_BODIES = 20_000


@dataclass
class _Version:
    schema: dict[str, Any]  # as published, for the CEL rules
    strict: dict[str, Any]  # unknown fields refused, for jsonschema
    status_subresource: bool = False  # the API server then ignores `status` on create and update
    checked: int = field(default=0, compare=False)  # bodies checked so far
    source: Any = field(default=None, compare=False, repr=False)  # the CRD file's version entry it was made from
    answers: dict[bytes, tuple[tuple[str, ...], bool]] = field(default_factory=dict, compare=False)

    def body_errors(self, body: dict[str, Any]) -> tuple[tuple[str, ...], bool]:
        """The API server's errors about a body: its structural errors (then True), or else those of its CEL rules
        (False). Both read the body and nothing else, so the answer is kept under the body's pickle, which tells apart
        whatever the checks can tell apart: every type (1, 1.0, True, "1"; a list and a tuple), value and key order.
        Equal bytes are an equal body, so a kept answer is the one a new check would give."""
        try:
            key: bytes | None = pickle.dumps(body, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, ValueError, AttributeError, RecursionError):
            key = None  # not a plain body (or nested past pickle's recursion): checked every time
        if key is not None and (kept := self.answers.get(key)) is not None:
            return kept
        structural = self.structural_errors(body)
        # Like the API server, the CEL rules run on a structurally valid object only.
        answer = (tuple(structural), True) if structural else (tuple(_rule_errors(self.rules, body, "")), False)
        if key is not None:
            if len(self.answers) >= KEPT_BODIES:
                self.answers.clear()
            self.answers[key] = answer
        return answer

    @functools.cached_property
    def rules(self) -> dict[str, Any]:
        """The schema cut down to the nodes that hold CEL rules or lead to one: most of a spec has none."""
        return _with_rules(self.schema) or {}

    @functools.cached_property
    def validator(self) -> jsonschema.Draft7Validator:
        return jsonschema.Draft7Validator(self.strict)  # built once: a cluster dump holds many of each kind

    @functools.cached_property
    def accepts(self) -> Callable[[Any], Any]:
        """fastjsonschema's compiled check (some 20 times faster); jsonschema then explains the rare refusal, so the
        compiled check needs no details of its own (without them it compiles four times faster), and it fills in no
        defaults: it only answers."""
        return fastjsonschema.compile(self.strict, use_default=False, detailed_exceptions=False)

    @functools.cached_property
    def compile_after(self) -> int:
        """How many bodies jsonschema checks before the compiled check takes over."""
        return max(1, len(json.dumps(self.strict)) // SCHEMA_BYTES_PER_BODY)

    def structural_errors(self, body: Any) -> list[str]:
        """jsonschema's errors, in the API server's words. fastjsonschema only answers "accepted" sooner (it agrees
        with jsonschema on these schemas: the Istio fixtures pass through both)."""
        self.checked += 1
        if self.checked > self.compile_after:
            try:
                self.accepts(body)
            except fastjsonschema.JsonSchemaException:
                pass
            else:
                return []
        return sorted(_k8s_message(e) for e in self.validator.iter_errors(body))


def _strict(schema: Any) -> Any:
    """The API server prunes (or, with strict field validation, refuses) fields a structural schema does not
    list; jsonschema needs that said explicitly."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items() if k != "x-kubernetes-validations"}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if schema.get("nullable") and isinstance(schema.get("type"), str):
        out["type"] = [schema["type"], "null"]
    return out


class IstioSchemas:
    """The served versions of a CRD file's kinds. Each CRD is parsed when a kind of its group is first asked for
    (Istio's DestinationRule alone is two thirds of the file); `versions` parses them all."""

    def __init__(self, crds: list[_Crd]):
        self._crds = crds
        self._parsed: dict[tuple[str, str], _Version] = {}
        self._found: dict[tuple[str, str], _Version | None] = {}

    @functools.cached_property
    def versions(self) -> dict[tuple[str, str], _Version]:
        """(apiVersion, kind) -> schema, of every CRD in the file."""
        return _versions(self._crds, self._parsed)

    def version(self, api_version: str, kind: str) -> _Version | None:
        key = (api_version, kind)
        if key not in self._found:
            self._found[key] = self._lookup(api_version, kind)
        return self._found[key]

    def _lookup(self, api_version: str, kind: str) -> _Version | None:
        group = api_version.rpartition("/")[0]
        named = [crd for crd in self._crds if crd.hint in ((group, kind), None)]
        if "versions" in self.__dict__ or any(crd.hint is None for crd in named):
            return self.versions.get((api_version, kind))
        # Only the CRDs whose text names this group and kind, in file order as `versions` would read them.
        found = _versions(named, self._parsed)
        if any((crd.group, crd.kind) != crd.hint for crd in named):  # the text misled: read the whole file
            return self.versions.get((api_version, kind))
        return found.get((api_version, kind))

    @classmethod
    def load(cls, path: Path | None = None) -> IstioSchemas:
        path = path or crds_path()
        return _load(str(path))

    def skipped(self, document: Any) -> str | None:
        """Why a cluster's other objects (a Service, a Deployment, an Istio kind these CRDs do not define) are not
        checked here; None for a document this verdict covers, a misspelt Istio kind and a missing version included."""
        if not isinstance(document, dict) or "kind" not in document or "apiVersion" not in document:
            return None
        api_version, kind = str(document["apiVersion"]), str(document["kind"])
        kinds = {k for _, k in self.versions}
        group = api_version.split("/")[0] if "/" in api_version else ""
        if kind in kinds or (group.endswith(".istio.io") and difflib.get_close_matches(kind, kinds, cutoff=0.8)):
            return None
        if group.endswith(".istio.io"):
            return (
                f"these CRDs do not define {api_version} {kind}; point {CRDS_ENV} at Istio's crd-all.gen.yaml to "
                "check it"
            )
        return "not an Istio object"

    def validate(self, document: Any) -> list[str]:
        """Every reason the cluster would refuse one resource; empty when it would be accepted."""
        return self.admit(document).errors

    def admit(self, document: Any) -> webhook.Verdict:
        """The cluster's whole verdict: the API server's schema and CEL rules, then istiod's webhook."""
        if not isinstance(document, dict):
            return webhook.Verdict(["the document is not a mapping of fields"])
        api_version, kind = document.get("apiVersion"), document.get("kind")
        version = self.version(str(api_version), str(kind))
        if version is None:
            known = sorted({f"{a} {k}" for a, k in self.versions})
            close = difflib.get_close_matches(str(kind), sorted({k for _, k in self.versions}), n=1, cutoff=0.8)
            hint = f" (did you mean {close[0]}?)" if close and close[0] != kind else ""
            return webhook.Verdict(
                [
                    f"apiVersion {api_version!r} kind {kind!r} is not served by these CRDs{hint} (known: "
                    f"{', '.join(known)})"
                ]
            )
        # A `kubectl get -o yaml` dump carries the status istiod wrote; with the status subresource the API server
        # ignores it on create and update, whatever it holds.
        ignored = ("apiVersion", "kind", "metadata", *(("status",) if version.status_subresource else ()))
        body = {k: v for k, v in document.items() if k not in ignored}
        found, structural = version.body_errors(body)
        errors = _metadata_errors(document.get("metadata")) + list(found)
        if structural:  # istiod's webhook sees only what the API server let through
            return webhook.Verdict(errors)
        verdict = webhook.check(document)
        return webhook.Verdict(errors + verdict.errors, verdict.warnings)


def nothing_to_validate(paths: list[str]) -> Finding:
    """An input of other kinds only: most likely the wrong path, and a check that checks nothing must not pass."""
    return error(
        "validate.nothing",
        ", ".join(paths),
        "holds no Istio object these CRDs define, so nothing was validated; name the files or folders that hold "
        "your PeerAuthentications, AuthorizationPolicies and DestinationRules.",
    )


# Where Istio's CRD files (crd-all.gen.yaml) name a CRD's group (spec.group) and kind (spec.names.kind), each in one
# line; a hint, checked once the CRD is parsed. A document laid out otherwise is parsed when the file is read.
_DOCUMENT_START = re.compile(r"^---[ \t]*$", re.MULTILINE)
_GROUP = re.compile(r"^  group: *['\"]?([\w.-]+)['\"]? *$", re.MULTILINE)
_KIND = re.compile(r"^  names:\n(?:    .*\n|      .*\n)*?    kind: *['\"]?(\w+)['\"]? *$", re.MULTILINE)


class _Crd:
    """One document of the CRD file, parsed when first needed."""

    def __init__(self, text: str):
        self.text = text
        group, kind = _GROUP.search(text), _KIND.search(text)
        self.hint = (group[1], kind[1]) if group and kind else None

    @functools.cached_property
    def document(self) -> Any:
        return yaml.load(self.text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))

    @property
    def is_crd(self) -> bool:
        return isinstance(self.document, dict) and self.document.get("kind") == "CustomResourceDefinition"

    @property
    def group(self) -> str | None:
        return self.document["spec"]["group"] if self.is_crd else None

    @property
    def kind(self) -> str | None:
        return self.document["spec"]["names"]["kind"] if self.is_crd else None


def _versions(crds: list[_Crd], parsed: dict[tuple[str, str], _Version]) -> dict[tuple[str, str], _Version]:
    """The served versions of these CRDs; a later CRD of the same kind replaces an earlier one, as when the file is
    read whole. A version parsed before is the same object (it keeps its answers)."""
    versions: dict[tuple[str, str], _Version] = {}
    for crd in crds:
        if not crd.is_crd:
            continue
        for version in crd.document["spec"]["versions"]:
            if version.get("served", True):
                key = (f"{crd.group}/{version['name']}", str(crd.kind))
                if key not in parsed or parsed[key].source is not version:
                    schema = dict(version["schema"]["openAPIV3Schema"])
                    schema["properties"] = {k: v for k, v in schema.get("properties", {}).items() if k != "status"}
                    status = "status" in (version.get("subresources") or {})
                    parsed[key] = _Version(schema, _strict(schema), status, source=version)
                versions[key] = parsed[key]
    return versions


@functools.cache
def _load(path: str) -> IstioSchemas:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CrdsMissingError(f"{path}: cannot be read ({exc.strerror}); {WHERE_TO_GET}.") from exc
    crds = [_Crd(chunk) for chunk in _DOCUMENT_START.split(text) if chunk.strip()]
    schemas = IstioSchemas(crds)
    # A file whose text names no CRD (another layout, or not CRDs at all) is read whole at once, to say so now.
    if not any(crd.hint for crd in crds) and not schemas.versions:
        raise CrdsMissingError(f"{path}: holds no CustomResourceDefinition; {WHERE_TO_GET}.")
    return schemas


def _metadata_errors(metadata: Any) -> list[str]:
    if not isinstance(metadata, dict) or not metadata.get("name"):
        return ["metadata.name: Required value: name or generateName is required"]
    errors = [
        f"metadata.{field}.{key}: Invalid value: a {_json_type(value)}: {field} are strings; quote the value"
        for field in ("annotations", "labels")
        if isinstance(metadata.get(field), dict)
        for key, value in metadata[field].items()
        if not isinstance(value, str)
    ]
    name, namespace = metadata["name"], metadata.get("namespace")
    if not isinstance(name, str) or not RESOURCE_NAME.matches(name):
        errors.append(
            f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower '
            "case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        )
    if namespace is not None and (not isinstance(namespace, str) or not NAMESPACE_NAME.matches(namespace)):
        errors.append(
            f'metadata.namespace: Invalid value: "{namespace}": a lowercase RFC 1123 label must consist of '
            "lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
        )
    return errors


def _json_type(value: Any) -> str:
    kinds = ((bool, "boolean"), (int, "number"), (float, "number"), (dict, "map"), (list, "list"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "null")


def _path(parts: Iterator[Any] | Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _k8s_message(error: jsonschema.ValidationError) -> str:
    path = _path(error.absolute_path)
    value = error.instance
    shown = f'"{value}"' if isinstance(value, str) else repr(value)
    v = error.validator
    if v == "enum":
        supported = ", ".join(f'"{s}"' for s in error.validator_value)
        return f"{path}: Unsupported value: {shown}: supported values: {supported}"
    if v == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        field = missing.group(1) if missing else "?"
        return f"{_path([*error.absolute_path, field])}: Required value"
    if v == "additionalProperties":
        extra = sorted(set(value) - set(error.schema.get("properties", {})))
        return "; ".join(f'{_path([*error.absolute_path, e])}: unknown field "{e}"' for e in extra)
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        relation = "greater than or equal to" if v == "minimum" else "less than or equal to" if v == "maximum" else v
        return f"{path}: Invalid value: {shown}: {path} in body should be {relation} {error.validator_value}"
    if v == "minProperties":
        return f"{path} in body should have at least {error.validator_value} properties"
    if v == "maxProperties":
        return f"{path} in body should have at most {error.validator_value} properties"
    if v in ("maxLength", "maxItems"):
        return f"{path}: Too long: may not be more than {error.validator_value}"
    if v in ("minLength", "minItems"):
        return f"{path}: Invalid value: {shown}: {path} in body should be at least {error.validator_value} long"
    if v == "type":
        return f"{path}: Invalid value: {shown}: {path} in body must be of type {error.validator_value}"
    if v == "pattern":
        return f"{path}: Invalid value: {shown}: {path} in body should match '{error.validator_value}'"
    return f"{path}: Invalid value: {shown}: {error.message}"


@functools.cache
def _cel() -> Any:
    """The `cel` package's compiled evaluator (its `cel.cel` extension) without the package's `__init__`, which also
    imports the package's interactive command line (typer, rich, prompt_toolkit: some 0.2 s that no check uses). The
    evaluator is the same either way; another layout of the package gets the whole package."""
    package = importlib.util.find_spec("cel")
    locations = package.submodule_search_locations if package is not None else None
    spec = importlib.machinery.PathFinder.find_spec("cel.cel", list(locations)) if locations else None
    if spec is None or not isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
        import cel

        return cel
    if "cel.cel" not in sys.modules:  # a later `import cel` then finds this module instead of loading it again
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["cel.cel"] = module
    return sys.modules["cel.cel"]


@functools.cache
def _program(rule: str) -> Any:
    return _cel().compile(rule)


def _with_rules(schema: Any) -> dict[str, Any] | None:
    if not isinstance(schema, dict):
        return None
    kept: dict[str, Any] = {}
    if schema.get("x-kubernetes-validations"):
        kept["x-kubernetes-validations"] = schema["x-kubernetes-validations"]
    properties = {k: sub for k, v in schema.get("properties", {}).items() if (sub := _with_rules(v))}
    if properties:
        kept["properties"] = properties
    for key in ("items", "additionalProperties"):
        if sub := _with_rules(schema.get(key)):
            kept[key] = sub
    return kept or None


def _rule_errors(schema: dict[str, Any], value: Any, path: str) -> Iterator[str]:
    for rule in schema.get("x-kubernetes-validations", ()):
        problem = _evaluate(rule["rule"], value)
        if problem is not None:
            shown = '"object"' if isinstance(value, dict) else f'"{value}"' if isinstance(value, str) else repr(value)
            yield f"{path or '<root>'}: Invalid value: {shown}: {rule.get('message') if problem is False else problem}"
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = properties.get(key) or (extra if isinstance(extra, dict) else None)
            if sub is not None:
                yield from _rule_errors(sub, item, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            yield from _rule_errors(schema["items"], item, f"{path}[{i}]")


@functools.cache
def _fields_read(rule: str) -> frozenset[str] | None:
    """The fields of `self` a rule reads, when it reads `self` only as `self.<field>`; None otherwise (`self.all(...)`,
    `self` alone). Handing the rule just those fields gives the same result, and spares converting a whole spec
    into CEL values for every rule on it."""
    uses = re.findall(r"\bself\b(\.[A-Za-z_]\w*(?:\s*\()?)?", rule)
    if not uses or any(not use or use.endswith("(") for use in uses):
        return None
    return frozenset(use.removeprefix(".") for use in uses)


def _evaluate(rule: str, value: Any) -> bool | str | None:
    """None when the rule holds, False when it does not, or the evaluation error in the API server's words."""
    fields = _fields_read(rule) if isinstance(value, dict) else None
    if fields is not None:
        value = {k: v for k, v in value.items() if k in fields}
    try:
        result = _program(rule).execute({"self": value})
    except (RuntimeError, ValueError, TypeError) as exc:
        return _describe(exc)
    return None if result is True else False


def _describe(error: Exception) -> str:
    text = str(error)
    if "Function 'int' error" in text:  # the conversion failure Kubernetes' CEL reports in these words
        return "type conversion error from string to int"
    undefined = re.search(r"Undefined variable or function: '([^']+)'", text)
    if undefined:
        return f"rule uses {undefined.group(1)!r}, a Kubernetes CEL extension the CEL library lacks; not checked here"
    return f"rule could not be evaluated: {text.splitlines()[0][:200]}"
