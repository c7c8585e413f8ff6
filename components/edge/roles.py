"""The three lists of a Certificate Manager trust config a certificate can be meant for: what `cert --role` takes."""

ANCHOR, INTERMEDIATE, ALLOWLISTED = "anchor", "intermediate", "allowlisted"
ROLES = (ANCHOR, INTERMEDIATE, ALLOWLISTED)
