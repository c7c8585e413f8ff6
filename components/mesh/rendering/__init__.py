"""The Istio objects the mesh settings ask for."""
