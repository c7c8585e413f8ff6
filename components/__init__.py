"""Pulumi components: thin translations of validated settings into cloud and cluster resources."""
