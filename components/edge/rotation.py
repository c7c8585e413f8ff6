"""A rotation of the edge's client CAs, held against real client certificates: which clients the trust config of each
phase lets in, and a phase that would lock one of them out refused before it is deployed. Each client is judged by
the same check as `python -m mtls client` (components/edge/client_check.py), so Google's certificate rules apply.

A trust config holds one trust store, replaced whole ("Only one TrustStore specified is currently allowed",
Certificate Manager's REST reference), so a new CA is added beside the old one first, and the old one removed only
once every client has a certificate of the new one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from components.core.findings import Finding, error, warning
from components.edge import client_check
from components.edge.certificates import BEFORE, TrustConfig
from components.edge.pem import LoadedCertificate, read_pem_file
from components.edge.settings import KEY, EdgeSettings

ROTATION_KEY = f"{KEY}.trustRotation"
PHASES = (BEFORE, "add", "remove")
CLIENT_SUFFIXES = (".pem", ".crt")


@dataclass(frozen=True)
class Client:
    """A client certificate as the client presents it: the leaf, then its chain."""

    source: str
    certificates: tuple[LoadedCertificate, ...]

    @property
    def leaf(self) -> x509.Certificate:
        return self.certificates[0].certificate

    @property
    def chain(self) -> list[x509.Certificate]:
        return [c.certificate for c in self.certificates[1:]]

    @property
    def name(self) -> str:
        return f"{self.source} ({self.certificates[0].subject})"


def load_clients(paths: Sequence[str], key: str, root: Path | None = None) -> tuple[list[Client], list[Finding]]:
    """Each file a client (leaf first, then its chain); a folder, each of its .pem and .crt files."""
    clients: list[Client] = []
    findings: list[Finding] = []
    for i, path in enumerate(paths):
        where = f"{key}[{i}]" if root is not None else path
        folder = (root or Path()) / path
        if folder.is_dir():
            files = sorted(str(Path(path) / f.name) for f in folder.iterdir() if f.suffix in CLIENT_SUFFIXES)
            if not files:
                findings.append(
                    error("rotation.no-clients", where, f"{path}: holds no .pem or .crt file; name the clients' files.")
                )
        else:
            files = [path]
        for file in files:
            loaded, found = read_pem_file(file, where, root, "rotation.file" if root is None else "config.file")
            findings += found
            if loaded:
                clients.append(Client(file, tuple(loaded)))
    return clients, findings


def phases_ahead(edge: EdgeSettings) -> list[str]:
    """The phase the stack deploys, then each one still to come."""
    if edge.trust_rotation is None:
        return [BEFORE]
    return list(PHASES[PHASES.index(edge.trust_rotation.phase) :])


def verdicts(
    clients: Sequence[Client], trusts: Mapping[str, TrustConfig], phases: Sequence[str], now: dt.datetime
) -> dict[str, dict[str, list[str]]]:
    """phase -> client name -> the reasons its trust config refuses the client (none: it gets in)."""
    return {
        phase: {c.name: client_check.check_client(c.leaf, c.chain, trusts[phase], now) for c in clients}
        for phase in phases
    }


def locked_out(judged: Mapping[str, list[str]]) -> list[str]:
    return [name for name, reasons in judged.items() if reasons]


def preflight(edge: EdgeSettings, trusts: Mapping[str, TrustConfig], root: Path, now: dt.datetime) -> list[Finding]:
    """The clients of `trustRotation.clients`, held to the deployed phase: phase remove is refused while one of them
    would be locked out; in phase add, the plan warns of those phase remove would lock out."""
    rotation = edge.trust_rotation
    if rotation is None or not rotation.clients:
        return []
    clients, findings = load_clients(rotation.clients, f"{ROTATION_KEY}.clients", root)
    if findings:
        return findings
    judged = verdicts(clients, trusts, ["add", "remove"], now)
    out = locked_out(judged["remove"])
    if not out:
        return []
    listed = "; ".join(f"{name}: {judged['remove'][name][0]}" for name in out)
    if rotation.phase == "remove":
        return [
            error(
                "config.rotation",
                f"{ROTATION_KEY}.phase",
                f"remove would lock out {len(out)} client(s) of trustRotation.clients: {listed}. Re-issue them "
                "under the new CA (`python -m mtls rotation` shows each), or stay in phase add.",
            )
        ]
    return [
        warning(
            "config.rotation",
            f"{ROTATION_KEY}.clients",
            f"phase remove would lock out {len(out)} client(s): {listed}. Re-issue them under the new CA before it.",
        )
    ]
