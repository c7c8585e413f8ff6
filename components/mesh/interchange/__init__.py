"""Istio objects in and out: read from YAML files and settings, and turned back into settings (`import`)."""
