"""What Istio refuses: the API server's CRD schemas and CEL rules, istiod's webhook, and the rules on each mesh
settings entry."""
