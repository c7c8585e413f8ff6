"""The Istio mesh: PeerAuthentications, AuthorizationPolicies and DestinationRules, and their analysis."""
