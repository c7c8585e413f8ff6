"""The mesh: Istio PeerAuthentications, AuthorizationPolicies and DestinationRules for the cluster."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.core.manifest import Manifest


@dataclass(frozen=True)
class MeshArgs:
    manifests: list[Manifest]  # analysed and ready: the mesh's own and the GKE side's guard


class Mesh(pulumi.ComponentResource):
    resources: dict[str, k8s.apiextensions.CustomResource]

    def __init__(self, name: str, args: MeshArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-mtls:mesh:Mesh", name, None, opts)
        # Children inherit the cluster provider passed in `opts.providers`.
        self.resources = {
            m.logical_name: k8s.apiextensions.CustomResource(
                m.logical_name,
                api_version=m.api_version,
                kind=m.kind,
                metadata=m.metadata,
                spec=m.spec,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for m in args.manifests
        }
        self.register_outputs({"resources": sorted(self.resources)})
