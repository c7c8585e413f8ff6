"""What the concerns share: findings, name syntax, the Kubernetes object type, and how settings are parsed."""
