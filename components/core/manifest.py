"""A Kubernetes object the program applies, as plain data: what the mesh and the GKE side hand the Mesh component."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The Istio APIs the program writes (Istio 1.22 or newer serves them).
ISTIO_SECURITY = "security.istio.io/v1"
ISTIO_NETWORKING = "networking.istio.io/v1"
# Pulumi's name for each kind, short so that `<kind>-<namespace>-<name>` stays readable in a plan.
SHORT_KINDS = {"PeerAuthentication": "pa", "AuthorizationPolicy": "ap", "DestinationRule": "dr"}


@dataclass(frozen=True)
class Manifest:
    api_version: str
    kind: str
    name: str
    namespace: str
    spec: dict[str, Any]
    origin: str = ""  # the settings key it was made from, so the analysis names what to change
    annotations: dict[str, str] | None = None

    @property
    def document(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": self.metadata,
            "spec": self.spec,
        }

    @property
    def metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if self.annotations:
            metadata["annotations"] = dict(self.annotations)
        return metadata

    @property
    def logical_name(self) -> str:
        """Unique per stack; Pulumi's name for it."""
        return f"{SHORT_KINDS[self.kind]}-{self.namespace}-{self.name}"
