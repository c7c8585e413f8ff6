"""The layout's rules, checked over the folders (so a new module is covered the day it is added):

- a concern (edge, mesh, gke) imports only core and itself; stack composes them; core imports no concern;
- only the components (`component.py`), the program and the engine adapter import Pulumi;
- only the engine adapter touches Pulumi's internals;
- the rules never import the CLI, a component or the adapter.
"""

from __future__ import annotations

import ast
import functools
import gc
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

COMPONENTS = PROJECT_ROOT / "components"
CLI = PROJECT_ROOT / "mtls"
CONCERNS = ("edge", "mesh", "gke")
ADAPTER = COMPONENTS / "stack" / "engine.py"
PULUMI_PACKAGES = ("pulumi", "pulumi_gcp", "pulumi_kubernetes")


def modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


@functools.cache
def parsed(path: Path) -> ast.Module:
    """A module's syntax tree, parsed with the cycle collector paused. CPython 3.11's ast.parse keeps its recursion
    count in state the whole interpreter shares, and a finalizer that runs during a parse (an asyncio Future the mock
    engine left with an exception nobody read logs it with a traceback, which 3.11 formats with ast.parse) leaves that
    count off: "SystemError: AST constructor recursion depth mismatch". With the collector paused no finalizer runs."""
    source = path.read_text()
    gc.disable()
    try:
        return ast.parse(source, str(path))
    finally:
        gc.enable()


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def concern_of(module: str) -> str | None:
    """`edge` for `components.edge.settings`; None for anything outside components."""
    parts = module.split(".")
    return parts[1] if parts[0] == "components" and len(parts) > 1 else None


def relative(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT))


def test_every_concern_holds_its_settings_rules_and_component():
    for concern in CONCERNS:
        folder = COMPONENTS / concern
        assert (folder / "settings.py").is_file(), concern
        assert (folder / "component.py").is_file(), concern
        assert len(modules(folder)) > 3, f"{concern} should hold its rules too"


@pytest.mark.parametrize("concern", CONCERNS)
def test_a_concern_imports_only_core_and_itself(concern):
    for path in modules(COMPONENTS / concern):
        used = {concern_of(m) for m in imports(path)} - {None}
        assert used <= {"core", concern}, (relative(path), used)


def test_core_imports_no_concern_and_stack_composes_them():
    for path in modules(COMPONENTS / "core"):
        assert {concern_of(m) for m in imports(path)} - {None} <= {"core"}, relative(path)
    composed = set().union(*({concern_of(m) for m in imports(p)} for p in modules(COMPONENTS / "stack")))
    assert composed - {None} == {"core", "stack", *CONCERNS}


def test_only_components_the_program_and_the_adapter_import_pulumi():
    importers = {
        relative(path)
        for path in [*modules(COMPONENTS), *modules(CLI)]
        if any(m.split(".")[0] in PULUMI_PACKAGES for m in imports(path))
    }
    assert importers == {
        "components/edge/component.py",
        "components/gke/component.py",
        "components/mesh/component.py",
        relative(ADAPTER),
    }


def pulumi_internals(path: Path) -> list[str]:
    """Uses of the SDK beyond its documented program API: the runtime package, private modules, Output.future."""
    found = [m for m in imports(path) if m.split(".")[0] in PULUMI_PACKAGES and (".runtime" in m or "._" in m)]
    tree = parsed(path)
    found += [f".{n.attr}" for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr in ("runtime", "future")]
    return found


def test_only_the_adapter_uses_pulumi_internals():
    program = PROJECT_ROOT / "__main__.py"
    for path in [*modules(COMPONENTS), *modules(CLI), program]:
        if path != ADAPTER:
            assert pulumi_internals(path) == [], relative(path)
    assert pulumi_internals(ADAPTER), "the adapter is where the internals are; this check must be able to see them"


def test_the_rules_never_import_the_cli_or_a_component():
    for path in modules(COMPONENTS):
        used = imports(path)
        assert not any(m.split(".")[0] == "mtls" for m in used), relative(path)
        assert not any(".component" in m for m in used), relative(path)
        if path != ADAPTER:
            assert not any(m.startswith("components.stack.engine") for m in used), relative(path)


def test_sources_are_parsed_with_the_cycle_collector_paused(monkeypatch):
    """So that no finalizer runs during a parse (see `parsed`); reproduced here: 200 such futures collected during
    ast.parse of webhook.py broke 20 parses in 20."""
    during: list[bool] = []
    original = ast.parse

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        during.append(gc.isenabled())
        return original(*args, **kwargs)

    monkeypatch.setattr(ast, "parse", spy)
    parsed.cache_clear()
    assert parsed(COMPONENTS / "mesh" / "validation" / "webhook.py").body
    assert during == [False]
    assert gc.isenabled()
