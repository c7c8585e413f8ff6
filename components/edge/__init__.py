"""The Google Cloud edge: an external Application Load Balancer that validates client certificates (frontend mTLS)."""
