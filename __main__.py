"""gke-mtls: mutual TLS for a GKE application at the Google Cloud edge.

    stack config -> typed settings -> preflight -> components -> stack outputs

Nothing is registered until the settings are valid and the backend service has been found.
"""

from pathlib import Path

import pulumi

from components.backend import find_backend_service
from components.edge import Edge, EdgeArgs
from mtls import stack

PROJECT_ROOT = Path(__file__).resolve().parent


async def main() -> dict:
    settings = stack.load_settings(PROJECT_ROOT)  # every config error at once, or RunError
    backend = await find_backend_service(settings.backend)
    edge = Edge("edge", EdgeArgs(settings=settings.edge, backend=backend))
    return {
        "ipAddress": edge.ip_address,
        "httpsUrls": edge.https_urls,
        "backendServiceSelfLink": backend.self_link,
        "trustConfigId": edge.trust_config_id,
        "serverTlsPolicyId": edge.server_tls_policy_id,
        "httpsForwardingRuleName": edge.https_forwarding_rule_name,
    }


pulumi.run(main)
