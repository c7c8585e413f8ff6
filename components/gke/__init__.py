"""The GKE side: the cluster, and the objects that make GKE create the backend service the edge fronts."""
