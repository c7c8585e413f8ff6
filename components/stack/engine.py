"""The running Pulumi stack as the program sees it: its config map and where findings are reported."""

from __future__ import annotations

from pathlib import Path

import pulumi
from pulumi.runtime import config as runtime_config

from components.core.findings import Finding, Severity, errors
from components.stack import preflight, settings


def config_map() -> dict[str, str]:
    """Every config value of this run, so that a misspelt top-level key can be reported too."""
    # The CLI hands config over in PULUMI_CONFIG; the Automation API and the mock engine set it in-process.
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def report(findings: list[Finding]) -> None:
    """Warnings go to the engine's diagnostics; any error stops the program before it registers anything."""
    for finding in findings:
        if finding.severity is Severity.WARNING:
            pulumi.log.warn(f"{finding}")
        else:
            pulumi.log.error(f"{finding}")
    if errors(findings):
        raise pulumi.RunError(
            f"{len(errors(findings))} error(s) in the stack configuration (listed above); nothing was registered. "
            "Run `python -m mtls check --stack <stack>` to see them offline."
        )


def load_settings(project_root: Path) -> settings.StackSettings:
    """Settings that passed preflight; otherwise every finding is reported and the program stops."""
    stack_settings, findings = preflight.check_stack(config_map(), project_root)
    report(findings)
    assert stack_settings is not None  # report() raised otherwise
    return stack_settings
