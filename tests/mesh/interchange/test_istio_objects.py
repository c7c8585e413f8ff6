"""Objects as the analysis reads them: what istiod reads from their metadata."""

from __future__ import annotations

import pytest

from components.mesh.interchange.istio_objects import IstioObject, Origin


def annotated(value: str) -> IstioObject:
    return IstioObject("AuthorizationPolicy", "shop", "p", {}, Origin("f.yaml[0]", False), {"istio.io/dry-run": value})


@pytest.mark.parametrize("value", ["1", "t", "T", "TRUE", "true", "True"])
def test_dry_run_is_every_true_of_gos_parse_bool(value):
    """istiod reads the annotation with strconv.ParseBool (`isDryRun`, pilot/pkg/security/authz/builder/builder.go
    of istio/istio), so "1", "t" and "TRUE" mean dry run too."""
    assert annotated(value).dry_run


@pytest.mark.parametrize("value", ["0", "f", "F", "FALSE", "false", "False", "yes", "on", ""])
def test_anything_else_is_enforced_as_istiod_enforces_it(value):
    """A false value is enforced; so is one ParseBool cannot read: `isDryRun` logs the error and returns false."""
    assert not annotated(value).dry_run
