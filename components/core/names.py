"""The syntax of the names and numbers the settings share, each written once: Kubernetes names, GCE names, stack
references, ports.

Character classes are spelled out in ASCII, so no Unicode class or case folding widens them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

# Kubernetes' own (apimachinery IsDNS1123Label, at most 63 characters; IsDNS1123Subdomain, at most 253).
DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = rf"{DNS1123_LABEL}(\.{DNS1123_LABEL})*"
SYNTAX_KEY = "x-syntax"  # where a JSON Schema carries a syntax's explanation


@dataclass(frozen=True)
class Syntax:
    """A string syntax, usable as a pydantic annotation: `Annotated[str, GCE_NAME]` is checked when settings are
    parsed, and its explanation goes into the JSON Schema, where messages and the config reference read it."""

    pattern: str  # the whole value must match
    explanation: str  # how the pattern reads to a person
    max_length: int | None = None

    def matches(self, text: str) -> bool:
        fits = self.max_length is None or len(text) <= self.max_length
        return fits and re.fullmatch(self.pattern, text) is not None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.str_schema(pattern=f"^(?:{self.pattern})$", max_length=self.max_length)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {**handler(schema), SYNTAX_KEY: self.explanation}


NAMESPACE_NAME = Syntax(
    DNS1123_LABEL,
    "a namespace is a lowercase RFC 1123 label: up to 63 lowercase letters, digits or hyphens, starting and ending "
    "with a letter or digit",
    max_length=63,
)
RESOURCE_NAME = Syntax(
    DNS1123_SUBDOMAIN,
    "a resource name is a lowercase RFC 1123 subdomain: lowercase letters, digits, '-' and '.', each dot-separated "
    "part starting and ending with a letter or digit",
    max_length=253,
)
SERVICE_NAME = Syntax(
    r"[a-z]([-a-z0-9]*[a-z0-9])?",
    "a Service name is a DNS-1035 label: up to 63 lowercase letters, digits or hyphens, starting with a letter and "
    "ending with a letter or digit",
    max_length=63,
)
GCE_NAME = Syntax(
    r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
    "a GCE resource name starts with a lowercase letter, then up to 62 lowercase letters, digits or hyphens, and "
    "does not end with a hyphen",
)
# ingress-gce refuses a custom NEG name over 56 characters (it keeps 7 for the subnet suffix of other subnets' NEGs).
NEG_NAME = Syntax(
    GCE_NAME.pattern,
    "a NEG name is a GCE resource name of at most 56 characters: a lowercase letter, then lowercase letters, digits "
    "or hyphens, not ending with a hyphen",
    max_length=56,
)
REGION_NAME = Syntax(r"[a-z]+(-[a-z]+)*[0-9]+", "a region is a Compute Engine region name such as europe-west1")
ZONE_NAME = Syntax(rf"{REGION_NAME.pattern}-[a-z]", "a zone is a Compute Engine zone name such as europe-west1-b")
STACK_REFERENCE = Syntax(
    r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}",
    "a stack reference is <organization>/<project>/<stack> (or <stack> for the current project)",
)

# Resource Manager's rule for a project ID (6 to 30 lowercase ASCII letters, digits or hyphens, starting with a letter,
# no trailing hyphen), or a project number; Monitoring names a channel projects/[PROJECT_ID_OR_NUMBER]/... and refuses
# an alert policy whose channel has any other project segment. The channel's id is the server's; any is taken.
PROJECT_ID = r"[a-z][-a-z0-9]{4,28}[a-z0-9]"
PROJECT_NUMBER = r"[1-9][0-9]{0,18}"
NOTIFICATION_CHANNEL = Syntax(
    rf"projects/({PROJECT_ID}|{PROJECT_NUMBER})/notificationChannels/[^/]+",
    "a channel is projects/<project>/notificationChannels/<id>, where <project> is a project ID (6 to 30 lowercase "
    "letters, digits or hyphens, starting with a letter and not ending with a hyphen) or a project number",
)

Namespace = Annotated[str, NAMESPACE_NAME]
NotificationChannel = Annotated[str, NOTIFICATION_CHANNEL]
ResourceName = Annotated[str, RESOURCE_NAME]
ServiceName = Annotated[str, SERVICE_NAME]
GceName = Annotated[str, GCE_NAME]
ZoneName = Annotated[str, ZONE_NAME]
RegionName = Annotated[str, REGION_NAME]
NegName = Annotated[str, NEG_NAME]
StackReference = Annotated[str, STACK_REFERENCE]


# Kubernetes' label rules (apimachinery's IsQualifiedName and IsValidLabelValue), ASCII only.
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]", re.ASCII)
MAX_LABELS = 4096  # Istio's CRDs cap matchLabels at 4096 entries


def label_key_problem(key: str) -> str | None:
    """Why Kubernetes refuses `key` as a label key, or None: an optional DNS subdomain prefix and `/`, then a name
    of up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit."""
    prefix, slash, name = key.rpartition("/")
    if slash and not (len(prefix) <= 253 and re.fullmatch(DNS1123_SUBDOMAIN, prefix)):
        return "its prefix (before '/') must be a lowercase DNS subdomain of at most 253 characters"
    if len(name) > 63:
        return f"its name part is {len(name)} characters; at most 63 are allowed"
    if not _LABEL_NAME.fullmatch(name):
        return "its name part must be letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
    return None


def label_value_problem(value: str) -> str | None:
    """Why Kubernetes refuses `value` as a label value, or None: empty, or up to 63 letters, digits, '-', '_' or
    '.', starting and ending with a letter or digit."""
    if len(value) > 63:
        return f"it is {len(value)} characters; at most 63 are allowed"
    if value and not _LABEL_NAME.fullmatch(value):
        return "it must be empty or letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
    return None


def is_host_label(text: str) -> bool:
    """One label of a host name: RFC 1123, any case, ASCII only, at most 63 characters."""
    return len(text) <= 63 and re.fullmatch(DNS1123_LABEL, text, re.IGNORECASE | re.ASCII) is not None


def word(what: str) -> Syntax:
    return Syntax(r"\S+", f"{what} is a non-empty word")


def file_path(what: str) -> Syntax:
    return Syntax(r".*\S.*", f"{what} is a non-empty file path")


MIN_PORT, MAX_PORT = 1, 65535
Port = Annotated[int, Field(ge=MIN_PORT, le=MAX_PORT)]
Labels = dict[str, str]  # each concern checks the label rules its consumer has (the mesh analysis: Istio's)
