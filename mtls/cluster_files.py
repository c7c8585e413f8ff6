"""Istio objects from YAML files or folders (a `kubectl get ... -o yaml` dump included), each validated as the API
server would before the analysis reads it; and the cluster as it will be once a stack is applied."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from components.core.batch import cycle_collection_paused
from components.core.findings import Finding, error, note, warning
from components.mesh.interchange import istio_objects
from components.mesh.interchange.istio_objects import GROUPS, KINDS, IstioObject


@dataclass
class Loaded:
    objects: list[IstioObject] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unreadable: bool = False  # a file could not be read at all


def load(paths: Sequence[str]) -> Loaded:
    """The three kinds' valid documents as objects; a finding for each invalid one, which the analysis skips."""
    from components.mesh.validation import (
        schema as istio_schema,  # loads Istio's CRDs: only the commands that read YAML
    )

    schemas = istio_schema.IstioSchemas.load()
    with cycle_collection_paused():
        return _load(paths, schemas)


def _load(paths: Sequence[str], schemas: Any) -> Loaded:
    documents, problems = istio_objects.read_documents(paths)
    loaded = Loaded(findings=list(problems), unreadable=bool(problems))
    skipped: dict[str, int] = {}
    context: dict[str, int] = {}
    for position, document in enumerate(documents):
        body = document.body
        if not isinstance(body, dict) or "kind" not in body or "apiVersion" not in body:
            loaded.findings.append(
                error("analyze.document", document.key, "is not a Kubernetes object (no apiVersion and kind).")
            )
            continue
        kind = f"{body['kind']} ({body['apiVersion']})"
        if istio_objects.is_context(body):
            problem = istio_objects.context_problem(body)
            if problem is not None:
                loaded.findings.append(
                    warning(
                        "analyze.context-invalid",
                        document.key,
                        f"{body['kind']}: {problem}, so it cannot place the policies and is left out; fix it, or "
                        "export it again with kubectl.",
                    )
                )
                continue
            context[kind] = context.get(kind, 0) + 1
            obj = istio_objects.from_document(body, document.key, position)
            loaded.objects += [obj] if obj is not None else []
            continue
        if body["kind"] not in KINDS or istio_objects.group_of(body) not in GROUPS:
            skipped[kind] = skipped.get(kind, 0) + 1
            continue
        verdict = schemas.admit(body)
        if verdict.errors:
            loaded.findings.append(
                error(
                    "analyze.invalid",
                    document.key,
                    f"the API server would refuse it, so the analysis leaves it out: {'; '.join(verdict.errors)}.",
                )
            )
            continue
        obj = istio_objects.from_document(body, document.key, position)
        if obj is not None:
            loaded.objects.append(obj)
            loaded.findings += [  # what `validate` and `kubectl apply` print
                warning("analyze.istiod-warning", document.key, f"istiod warns about {obj.title}: {w}")
                for w in verdict.warnings
            ]
    if context:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(context.items()))
        loaded.findings.append(
            note("analyze.context", ", ".join(paths), f"read to place the policies (hosts, gateways): {kinds}.")
        )
    if skipped:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(skipped.items()))
        loaded.findings.append(note("analyze.skipped", ", ".join(paths), f"not analysed: {kinds}."))
    return loaded


EXPORT = "kubectl get peerauthentications,authorizationpolicies,destinationrules -A -o yaml"


def _holds_policies(objects: Sequence[IstioObject]) -> bool:
    return any(o.kind in ("PeerAuthentication", "AuthorizationPolicy") for o in objects)


def _none_held(findings: Sequence[Finding]) -> str:
    left_out = sum(f.code == "analyze.invalid" for f in findings)
    if left_out:
        taken = "the API server would take"
        return f"holds no PeerAuthentication or AuthorizationPolicy {taken} ({left_out} left out above)"
    return "holds no PeerAuthentication or AuthorizationPolicy"


def nothing_to_analyse(
    objects: Sequence[IstioObject], findings: Sequence[Finding], paths: Sequence[str]
) -> list[Finding]:
    """An input without a PeerAuthentication or AuthorizationPolicy is most likely the wrong one (another context, a
    filter that matched nothing), so it is never called "ok"."""
    if _holds_policies(objects):
        return []
    message = (
        f"{_none_held(findings)}: if that is all the cluster has, Istio's defaults apply (PERMISSIVE, every "
        f"request allowed). Export its policies with `{EXPORT}`."
    )
    return [warning("analyze.no-policy", ", ".join(paths), message)]


def nothing_to_import(loaded: Loaded, paths: Sequence[str]) -> list[Finding]:
    if _holds_policies(loaded.objects):
        return []
    message = f"{_none_held(loaded.findings)}, so there is nothing to import. Export them with `{EXPORT}`."
    return [error("import.no-policy", ", ".join(paths), message)]


def after_up(
    cluster: list[IstioObject], stack: list[IstioObject], stack_name: str
) -> tuple[list[IstioObject], list[Finding]]:
    """The cluster once `pulumi up` has applied the stack: the stack's objects replace those Pulumi already manages
    under the same name, and are created after everything already there (so they lose to it where the oldest wins).
    A same-named object that Pulumi does not manage would make `pulumi up` fail. What the settings only declare (a
    workload's Service, the ingress gateway's pods) is not applied: the cluster's own object of that name wins."""
    there = {obj.identity for obj in cluster}
    # A Namespace the settings declare ambient stays beside the cluster's: the stack is checked as ztunnel will run it.
    stack = [obj for obj in stack if obj.kind in KINDS or obj.kind == "Namespace" or obj.identity not in there]
    ours = {obj.identity: obj for obj in stack if obj.kind in KINDS}
    kept, findings = [], []
    for obj in cluster:
        mine = ours.get(obj.identity)
        if mine is None:
            kept.append(obj)
        elif not obj.managed_by_pulumi:
            findings.append(
                error(
                    "analyze.conflict",
                    mine.origin.key,
                    f"{obj.title} already exists ({obj.origin.key}) and is not managed by Pulumi, so `pulumi up` of "
                    f"{stack_name} would fail to create it. Give the stack's a distinct name, or import the existing "
                    "one into the stack, or delete it.",
                )
            )
    offset = len(cluster)
    created = [dataclasses.replace(obj, age=("", offset + i)) for i, obj in enumerate(stack)]
    return kept + created, findings
