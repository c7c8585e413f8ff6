"""gke-mtls: mutual TLS for a GKE application, at the Google Cloud edge and in the Istio mesh.

    stack config -> typed settings -> preflight -> components -> stack outputs

Nothing is registered until the settings pass preflight and the backend service has been found.
"""

from pathlib import Path

import pulumi

from components.backend import find_backend_service
from components.cluster import cluster_provider
from components.edge import Edge, EdgeArgs
from components.mesh import Mesh, MeshArgs
from mtls import mesh, stack

PROJECT_ROOT = Path(__file__).resolve().parent


async def main() -> dict:
    settings = stack.load_settings(PROJECT_ROOT)  # every finding at once; errors stop here
    outputs: dict = {}
    if settings.edge is not None and settings.backend is not None:
        backend = await find_backend_service(settings.backend)
        edge = Edge("edge", EdgeArgs(settings=settings.edge, backend=backend))
        outputs |= {
            "ipAddress": edge.ip_address,
            "httpsUrls": edge.https_urls,
            "backendServiceSelfLink": backend.self_link,
            "trustConfigId": edge.trust_config_id,
            "serverTlsPolicyId": edge.server_tls_policy_id,
            "httpsForwardingRuleName": edge.https_forwarding_rule_name,
        }
    if settings.mesh is not None and settings.cluster is not None:
        cluster = cluster_provider(settings.cluster)
        istio = Mesh("mesh", MeshArgs(mesh.manifests(settings.mesh)), pulumi.ResourceOptions(providers=[cluster]))
        outputs["meshResources"] = sorted(istio.resources)
    return outputs


pulumi.run(main)
