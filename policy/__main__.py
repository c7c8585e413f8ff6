"""The gke-mtls policy pack. Building a PolicyPack starts the analyzer server, so the policies themselves live in
gke_mtls_policies.py, where the tests import them."""

from gke_mtls_policies import POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="gke-mtls",
    # Per stack, by config: policy/config/dev.json (advisory) and policy/config/prod.json (mandatory).
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=POLICIES,
)
