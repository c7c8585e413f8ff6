"""requirements.txt holds what the program needs under `pulumi up`; requirements-dev.txt adds the tools and tests.
Every pin is exact."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import PROJECT_ROOT

# The program run under the mock engine in a fresh interpreter; then every top-level module it loaded (not those
# the interpreter loads on its own, such as setuptools' .pth hook).
PROBE = """
import sys
before = set(sys.modules)
import json
from mtls import offline, stack_files
recording = offline.run_program("dev", stack_files.read_stack_config(offline.PROJECT_ROOT, "dev"))
assert recording.error is None, recording.error
print(json.dumps(sorted({name.split(".")[0] for name in set(sys.modules) - before})))
"""


def pins(name: str) -> list[Requirement]:
    lines = (PROJECT_ROOT / name).read_text().splitlines()
    return [Requirement(line) for line in lines if line.strip() and not line.startswith(("#", "-r"))]


def closure(names: set[str]) -> set[str]:
    """The distributions `names` install, with everything they depend on."""
    seen: set[str] = set()
    todo = {canonicalize_name(n) for n in names}
    while todo:
        name = todo.pop()
        seen.add(name)
        for line in metadata.requires(name) or ():
            required = Requirement(line)
            applies = required.marker is None or required.marker.evaluate({"extra": ""})
            if applies and canonicalize_name(required.name) not in seen:
                todo.add(canonicalize_name(required.name))
    return seen


def test_every_pin_is_exact_and_dev_includes_the_program_requirements():
    for name in ("requirements.txt", "requirements-dev.txt"):
        for requirement in pins(name):
            assert re.fullmatch(r"==[\w.]+", str(requirement.specifier)), (name, str(requirement))
    assert "-r requirements.txt" in (PROJECT_ROOT / "requirements-dev.txt").read_text().splitlines()
    program = {canonicalize_name(r.name) for r in pins("requirements.txt")}
    assert program.isdisjoint({canonicalize_name(r.name) for r in pins("requirements-dev.txt")})


def test_the_program_imports_only_what_requirements_txt_installs():
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    providers = metadata.packages_distributions()
    needed = {canonicalize_name(dist) for module in loaded for dist in providers.get(module, ())}
    needed.discard(canonicalize_name("gke-mtls"))  # the project itself, once `pip install -e .` has installed it
    program = {canonicalize_name(r.name) for r in pins("requirements.txt")}
    assert needed - closure(program) == set()
    assert program <= needed  # nothing in requirements.txt is there for the tools alone
