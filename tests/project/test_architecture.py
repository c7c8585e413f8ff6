"""The flow stays one way: the pure logic never imports Pulumi, so it is tested and run without the engine."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import PROJECT_ROOT

PURE = [
    "components.stack.settings",
    "components.core.config",
    "components.edge.certificates",
    "components.edge.client_check",
    "components.mesh.analysis",
    "components.mesh.settings",
    "components.gke.objects",
    "components.stack.preflight",
    "components.stack.istio_resources",
    "components.mesh.schema",
    "components.edge.monitoring",
]


def test_pure_logic_does_not_import_pulumi():
    code = f"import sys; import {', '.join(PURE)}; print(sorted(m for m in sys.modules if m.startswith('pulumi')))"
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
