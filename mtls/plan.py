"""Renders a recording of the program as a tree a reviewer reads like `pulumi preview`."""

from __future__ import annotations

from typing import Any

from cryptography import x509

from components.stack.engine import Recording, Registration, Secret
from mtls.offline import BACKEND_SERVICE_INVOKE, CERTIFICATES_INVOKE, NEG_INVOKE, SUBNETWORKS_INVOKE, Placeholders

SERVICE = "kubernetes:core/v1:Service"
DNS_AUTHORIZATION = "gcp:certificatemanager/dnsAuthorization:DnsAuthorization"

PEM_BEGIN = "-----BEGIN CERTIFICATE-----"


def _describe_pem(text: str) -> str:
    try:
        subject = x509.load_pem_x509_certificate(text.encode()).subject.rfc4514_string()
    except ValueError:
        return f"<PEM, {len(text)} bytes>"
    return f"<certificate {subject}, {len(text)} bytes PEM>"


def _lines(value: Any, path: str) -> list[str]:
    if isinstance(value, Secret):
        return [f"{path}: [secret]"]
    if isinstance(value, dict):
        if not value:
            return [f"{path}: {{}}"]
        return [line for k, v in value.items() for line in _lines(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        if not value:
            return [f"{path}: []"]
        if all(not isinstance(v, (dict, list)) for v in value):
            return [f"{path}: [{', '.join(_scalar(v) for v in value)}]"]
        return [line for i, v in enumerate(value) for line in _lines(v, f"{path}[{i}]")]
    first, *rest = _scalar(value).split("\n")
    # A multi-line value (a log filter, a query) goes on below its first line, indented under it, so that the
    # lines of the tree around it stay unbroken.
    return [f"{path}: {first}", *(" " * (len(path) + 2) + line for line in rest)]


def _scalar(value: Any) -> str:
    if isinstance(value, str) and PEM_BEGIN in value:
        return _describe_pem(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Pulumi's wire format carries every number as a float
    return str(value)


def _inputs(resource: Registration) -> dict[str, Any]:
    return {k: v for k, v in sorted(resource.inputs.items()) if not k.startswith("__")}


def render(recording: Recording, placeholders: Placeholders) -> str:
    children: dict[str, list[Registration]] = {}
    # Registration order varies from run to run (the engine is asynchronous); names give a stable order.
    for r in sorted(recording.resources, key=lambda r: (r.type.startswith("gcp:"), r.name)):
        children.setdefault(r.parent, []).append(r)
    roots = [p for p in children if not any(r.urn == p for r in recording.resources)]
    looked_up = {i.token for i in recording.invokes}
    stand_ins = [
        f"backend service {placeholders.backend_name!r} with scheme {placeholders.backend_scheme} (--backend-name, "
        "--backend-scheme)"
        if BACKEND_SERVICE_INVOKE in looked_up
        else "",
        f"the NEG's zones {', '.join(placeholders.neg_zones)} and its outputs"
        + (f" (made from {placeholders.neg_outputs_from})" if placeholders.neg_outputs_from else "")
        if NEG_INVOKE in looked_up
        else "",
        "the proxy-only subnet "
        + ", ".join(
            f"{name} ({ip_range}, network {network})"
            for name, network, ip_range in placeholders.proxy_only_subnets or ()
        )
        if SUBNETWORKS_INVOKE in looked_up
        else "",
        "the state of the stack's Certificate Manager certificate ("
        + ", ".join(state for _, state in placeholders.certificate_states)
        + ")"
        if CERTIFICATES_INVOKE in looked_up
        else "",
        "the DNS records the DNS authorizations ask for"
        if any(r.type == DNS_AUTHORIZATION for r in recording.resources)
        else "",
        "the live Service's ports (this stack's own)"
        if any(r.read and r.type == SERVICE for r in recording.resources)
        else "",
        f"GCP project {placeholders.project!r}" if placeholders.project == Placeholders.project else "",
        f"IP address {placeholders.ip_address}",
    ]
    out = [
        f"Offline plan of stack {recording.stack!r}: the real program under Pulumi's mock engine; nothing was sent "
        "to any cloud.",
        f"Placeholders (not real values): {', '.join(s for s in stand_ins if s)}; resources marked (auto-named) get a "
        "random suffix in the cloud."
        + ("" if placeholders.project == Placeholders.project else f" GCP project: {placeholders.project}."),
        "",
    ]

    def walk(resource: Registration, prefix: str, last: bool) -> None:
        flags = [
            f
            for f, on in (
                ("protect", resource.protect),
                ("read", resource.read),
                ("deleteBeforeReplace", resource.delete_before_replace),
            )
            if on
        ]
        if resource.custom and not resource.read and "name" not in resource.inputs and resource.type.startswith("gcp:"):
            flags.append("auto-named")
        out.append(
            f"{prefix}{'└── ' if last else '├── '}+ {resource.type} {resource.name}"
            + (f"  ({', '.join(flags)})" if flags else "")
        )
        inner = prefix + ("    " if last else "│   ")
        kids = children.get(resource.urn, [])
        detail = inner + ("│   " if kids else "    ")
        inputs = _inputs(resource)
        for line in _lines(inputs, "") if inputs else []:
            out.append(f"{detail}{line}")
        for i, kid in enumerate(kids):
            walk(kid, inner, i == len(kids) - 1)

    for root in roots:
        out.append(f"pulumi:pulumi:Stack gke-mtls-{recording.stack}")
        top = children[root]
        for i, r in enumerate(top):
            walk(r, "", i == len(top) - 1)
    if recording.invokes:
        out += ["", "Lookups:"]
        for inv in recording.invokes:
            args = ", ".join(f"{k}={v}" for k, v in inv.args.items())
            out.append(f"  {inv.token}({args})")
            out += [f"      {line}  <placeholder>" for line in _lines(inv.result, "")]
    if recording.outputs:
        out += ["", "Outputs:"]
        out += [f"  {line}" for line in _lines(dict(sorted(recording.outputs.items())), "")]
    created = recording.cloud_resources()
    protected = sum(1 for r in created if r.protect)
    out += [
        "",
        f"Resources: {len(created)} to create ({protected} protected), "
        f"{sum(1 for r in recording.resources if r.read)} read, {len(recording.invokes)} lookup(s).",
    ]
    return "\n".join(out)
