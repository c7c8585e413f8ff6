"""`graph`: the stack's mTLS intent as Mermaid. The nodes and edges of the dev stack are pinned, and the dev stack's
graph is rendered by the real `mermaid` package (npm) in headless Chromium (Debian), both installed by this test's
own setup when missing. Where they cannot be fetched (no network, not root, no npm), the browser test is skipped and
says why; CI sets GKE_MTLS_REQUIRE_BROWSER=1, which turns that skip into a failure."""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from mtls.__main__ import main
from tests.conftest import PROJECT_ROOT

MERMAID = "12.3.0"
CACHE = Path.home() / ".cache" / "gke-mtls" / f"mermaid-{MERMAID}"
CHROMIUM = "/usr/bin/chromium"
# The flags Chromium needs on this machine's closed network (the machine notes): no background connections.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-file-access-from-files",
    "--virtual-time-budget=20000",
]

DEV_GRAPH = """flowchart LR
  n0("clients with a certificate")
  n1["load balancer: REJECT_INVALID<br/>trust anchors: CN=gke-mtls dev example root CA,O=gke-mtls example"]
  n0 -->|"TLS 1.2+"| n1
  n2["backend service (stack acme/gke-platform/dev)"]
  n1 -->|"verified requests, with the mTLS headers"| n2
  subgraph mesh["mesh: 🔒 STRICT"]
  subgraph ns_6["default: 🔒 STRICT"]
  n3["{app: web}<br/>🔒 STRICT · 🔓 8080"]
  n4["{app: httpbin}<br/>🔒 STRICT"]
  end
  subgraph ns_10["legacy: 🔓 PERMISSIVE"]
  end
  subgraph ns_12["my-namespace: 🔒 STRICT"]
  n5["{app: my-special-app}<br/>🔓 PERMISSIVE · 🚫 8080"]
  end
  end
  n2 -->|"plaintext :8080 allowed"| n3
  n6("cluster.local/ns/default/sa/sleep")
  n6 -->|"mTLS, ALLOW httpbin-policy"| n4
"""


def test_the_dev_graph_pins_its_nodes_and_edges(capsys):
    assert main(["graph", "--stack", "dev"]) == 0
    assert capsys.readouterr().out == DEV_GRAPH


def test_a_large_namespace_is_grouped_and_says_so(tmp_path, capsys):
    import yaml

    shutil.copytree(PROJECT_ROOT / "certs", tmp_path / "certs")
    config = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
    config["config"]["gke-mtls:mesh"]["workloads"] += [
        {"namespace": "batch", "selector": {"app": f"job-{i}"}, "mode": "PERMISSIVE"} for i in range(20)
    ]
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(config))
    assert main(["--project-root", str(tmp_path), "graph", "--stack", "dev"]) == 0
    assert '["20 workloads (grouped): 20 🔓 PERMISSIVE"]' in capsys.readouterr().out


def test_a_sidecar_callers_edge_says_what_it_sends_to_each_port(tmp_path, capsys):
    """The dev stack's my-special-app has port 8080 DISABLE: a caller with a sidecar sends it plaintext there (auto
    mTLS reads the port's mode, pilot/pkg/xds/endpoints/mtls_checker.go) and mTLS to its other ports."""
    import yaml

    shutil.copytree(PROJECT_ROOT / "certs", tmp_path / "certs")
    config = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
    target = {"namespace": "my-namespace", "selector": {"app": "my-special-app"}, "ports": [8080, 9090]}
    config["config"]["gke-mtls:mesh"]["callers"] = [
        {"name": "checkout", "from": {"principal": "cluster.local/ns/shop/sa/checkout"}, "to": target}
    ]
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(config))
    assert main(["--project-root", str(tmp_path), "graph", "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert '  n6 -->|"plaintext :8080 allowed"| n5\n  n6 -->|"mTLS :9090 allowed"| n5\n' in out


REQUIRE = "GKE_MTLS_REQUIRE_BROWSER"


def unavailable(reason: str) -> None:
    """Skip, saying why and how to run it; fail instead where the browser test must run (CI)."""
    message = f"{reason}; the browser rendering of the graph was not checked (it needs network access once)"
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{message}, and {REQUIRE}=1 requires it")
    pytest.skip(message)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


@pytest.fixture(scope="module")
def renderer() -> tuple[str, Path]:
    return find_renderer(CHROMIUM, CACHE)


def find_renderer(chromium: str, cache: Path) -> tuple[str, Path]:
    """Debian's Chromium and npm's mermaid bundle, installed here when missing."""
    if not Path(chromium).exists():
        if shutil.which("apt-get") is None:
            unavailable(f"Chromium is not at {chromium} and there is no apt-get to install it")
        installed = subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], capture_output=True, text=True)
        if installed.returncode != 0:
            unavailable(
                f"Chromium is not at {chromium} and `apt-get install chromium` failed ({_last_line(installed.stderr)})"
            )
    bundle = cache / "mermaid.min.js"
    if not bundle.exists():
        if shutil.which("npm") is None:
            unavailable(f"mermaid@{MERMAID} is not in {cache} and npm is not installed to fetch it")
        cache.mkdir(parents=True, exist_ok=True)
        packed = subprocess.run(
            ["npm", "pack", f"mermaid@{MERMAID}", "--pack-destination", str(cache)], capture_output=True, text=True
        )
        if packed.returncode != 0:
            unavailable(f"`npm pack mermaid@{MERMAID}` could not fetch it ({_last_line(packed.stderr)})")
        with tarfile.open(cache / f"mermaid-{MERMAID}.tgz") as archive:
            member = archive.extractfile("package/dist/mermaid.min.js")
            assert member is not None
            bundle.write_bytes(member.read())
    return chromium, bundle


def test_the_dev_graph_renders_in_a_real_browser(renderer, tmp_path):
    chromium, bundle = renderer
    page = tmp_path / "graph.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>pending</title></head><body>"
        f"<pre class='mermaid'>{html.escape(DEV_GRAPH)}</pre>"
        f"<script src='{bundle.as_uri()}'></script>"
        "<script>mermaid.initialize({startOnLoad: false});"
        "mermaid.run().then(() => { document.title = 'rendered'; })"
        ".catch((e) => { document.title = 'failed: ' + e; });</script></body></html>",
        encoding="utf-8",
    )
    profile = tmp_path / "profile"
    done = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    dom = done.stdout
    assert "<title>rendered</title>" in dom, (dom[:500], done.stderr[-1500:])
    assert "<svg" in dom
    assert "Syntax error" not in dom
    assert "load balancer: REJECT_INVALID" in dom and "httpbin-policy" in dom


def test_the_readme_shows_the_dev_graph_as_it_is():
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert f"```mermaid\n{DEV_GRAPH}```" in readme


@pytest.mark.parametrize(
    "missing, reason",
    [
        ("apt-get", "Chromium is not at {chromium} and there is no apt-get to install it"),
        ("npm", "mermaid@12.3.0 is not in {cache} and npm is not installed to fetch it"),
    ],
)
def test_without_a_way_to_fetch_the_browser_the_test_says_why_it_is_skipped(tmp_path, monkeypatch, missing, reason):
    chromium = str(tmp_path / "no-chromium") if missing == "apt-get" else CHROMIUM
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv(REQUIRE, raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        find_renderer(chromium, tmp_path / "cache")
    expected = reason.format(chromium=chromium, cache=tmp_path / "cache")
    assert (
        str(skipped.value)
        == f"{expected}; the browser rendering of the graph was not checked (it needs network access once)"
    )
    monkeypatch.setenv(REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception, match=f"and {REQUIRE}=1 requires it"):
        find_renderer(chromium, tmp_path / "cache")
