"""The explicit Kubernetes provider for the GKE cluster: never the ambient default one."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from mtls.mesh_settings import ClusterSettings


def cluster_provider(cluster: ClusterSettings) -> k8s.Provider:
    return k8s.Provider(
        "cluster",
        kubeconfig=cluster.kubeconfig,
        context=cluster.context,
    )
