"""The floor: the program's resources registered directly through the mock engine, with the inputs the program
gave them. No settings, no preflight, no components: all that Pulumi itself needs."""

import json
import os
from pathlib import Path

import pulumi

recorded = json.loads(Path(os.environ["BENCH_FLOOR_RESOURCES"]).read_text())
for token, args in recorded["invokes"]:
    pulumi.runtime.invoke(token, args)
provider = None
for resource in recorded["resources"]:
    if resource["type"].startswith("pulumi:providers:"):
        provider = pulumi.ProviderResource(resource["type"].split(":")[-1], resource["name"], resource["inputs"])
for resource in recorded["resources"]:
    if resource["type"].startswith("pulumi:providers:"):
        continue
    opts = pulumi.ResourceOptions(protect=resource["protect"], provider=provider if resource["provider"] else None)
    pulumi.CustomResource(resource["type"], resource["name"], resource["inputs"], opts)
