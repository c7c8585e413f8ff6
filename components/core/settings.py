"""How settings are read. Each concern declares its keys once, as pydantic models; this module parses a section
and turns pydantic's errors into the project's findings, each naming the full config key, what is allowed and the fix.

Rules about one value are validators on its type (they raise `PydanticCustomError` with a finding code such as
`config.domain`, and run even when a sibling key is wrong). Rules that relate several keys are plain functions
that run after a section has parsed.
"""

from __future__ import annotations

import functools
import json
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, ValidationError
from pydantic.alias_generators import to_camel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import CoreSchema, ErrorDetails

from components.core.findings import Finding, closest, error, quoted
from components.core.names import SYNTAX_KEY

CONFIG_NAMESPACE = "gke-mtls"  # the project's name: every key is `gke-mtls:<section>`


def config_key(section: str) -> str:
    return child_key(CONFIG_NAMESPACE, section)


def child_key(key: str, name: str) -> str:
    return f"{key}:{name}" if key == CONFIG_NAMESPACE else f"{key}.{name}"


class SettingsModel(BaseModel):
    """Keys as users write them (camelCase, like Pulumi's own); no key unknown, no type coerced, no attribute
    reassigned. Code and tests may build settings by field name; a stack's config is read by alias only."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, alias_generator=to_camel, populate_by_name=True)


class _NotNull:
    """In a stack's config, a key written as null is a mistake, not a key left out: this validates the value against
    the key's type without its None, while leaving the key out still gives the default."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        schema = handler(source)
        return schema["schema"] if schema["type"] == "nullable" else schema


T = TypeVar("T")
Omittable = Annotated[T | None, _NotNull()]  # a key that may be left out (None), but not written as null


Model = TypeVar("Model", bound=SettingsModel)


def parse(
    model: type[Model], values: Any, key: str, context: dict[str, Any] | None = None
) -> tuple[Model | None, list[Finding]]:
    """The parsed section, or None and a finding for each problem. `values` are JSON values, as the engine sends
    them."""
    try:
        # JSON mode: a list may fill a tuple, and nothing else is converted.
        document = json.dumps(values)
        return model.model_validate_json(document, strict=True, context=context, by_alias=True, by_name=False), []
    except ValidationError as exc:
        schema = json_schema(model)
        problems = exc.errors(include_url=False)
        # A list whose only entries were refused is also "too short": the entries' own findings say it better.
        inner = {p["loc"][:-1] for p in problems if p["loc"]}
        problems = [p for p in problems if not (p["type"] == "too_short" and p["loc"] in inner)]
        return None, [_finding(details, schema, key) for details in problems]


@functools.cache
def json_schema(model: type[SettingsModel]) -> dict[str, Any]:
    """The model's JSON Schema with the keys as users write them: what messages and the config reference read."""
    return model.model_json_schema(by_alias=True, schema_generator=_AsDeclared)


class _AsDeclared(GenerateJsonSchema):
    """Keeps keys in the order they are declared and written (pydantic sorts examples and defaults)."""

    def sort(self, value: JsonSchemaValue, parent_key: str | None = None) -> JsonSchemaValue:
        return value


def _finding(details: ErrorDetails, schema: dict[str, Any], root: str) -> Finding:
    loc, value, kind, ctx = details["loc"], details["input"], details["type"], details.get("ctx", {})
    key = _key(root, loc)
    at = _at(schema, loc)
    if "." in kind:  # our own rule, raised by a validator with its finding code
        return error(kind, key + str(ctx.get("at", "")), details["msg"])
    if kind == "missing":
        return error("config.required", key, f"is required: {description(at)}")
    if kind == "extra_forbidden":
        known = list(_at(schema, loc[:-1]).get("properties", {}))
        hint = closest(str(loc[-1]), known)
        did_you_mean = f"did you mean {quoted(hint)}? " if hint else ""
        return error(
            "config.unknown-key", key, f"is not a known key; {did_you_mean}known keys here are {', '.join(known)}."
        )
    if kind.endswith("_type"):
        return error("config.type", key, _type_message(at.get("type"), value))
    if kind in ("literal_error", "enum"):
        allowed = ", ".join(str(v) for v in at.get("enum", ()))
        return error("config.enum", key, f"{quoted(value)} is not allowed; use one of {allowed}.")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        what = "an integer" if at.get("type") == "integer" else "a number"
        return error(
            "config.range",
            key,
            f"{value} is out of range; use {what} from {at.get('minimum')} to {at.get('maximum')}.",
        )
    if kind == "too_long":
        return error("config.range", key, f"has {len(value)} entries; at most {ctx['max_length']} are allowed.")
    if kind == "too_short":
        return error("config.range", key, f"has {len(value)} entries; at least {ctx['min_length']} are needed.")
    if kind in ("ip_any_network", "ip_v4_network", "ip_v6_network"):
        return error(
            "config.syntax",
            key,
            f"{quoted(value)} is not an IP range: write a CIDR such as 10.8.0.0/14, with no host bits set, or one "
            "address.",
        )
    if kind == "string_too_long":
        return error(
            "config.syntax",
            key,
            f"{quoted(value)} is {len(value)} characters; at most {ctx['max_length']} are allowed.",
        )
    if kind == "string_pattern_mismatch":
        return error("config.syntax", key, f"{quoted(value)} is not valid: {at.get(SYNTAX_KEY, 'see the reference')}.")
    return error("config.invalid", key, f"{details['msg']}.")


def _key(root: str, loc: tuple[int | str, ...]) -> str:
    key = root
    for part in loc:
        if part == "[key]":  # the error is in a map's key, which the previous part names
            continue
        key = f"{key}[{part}]" if isinstance(part, int) else child_key(key, part)
    return key


def _at(schema: dict[str, Any], loc: tuple[int | str, ...]) -> dict[str, Any]:
    """The JSON Schema of the value at `loc`: its description, type, bounds, allowed values and keys."""
    at = resolve(schema, schema)
    for i, part in enumerate(loc):
        if part == "[key]":
            continue
        if loc[i + 1 : i + 2] == ("[key]",):  # the problem is this map key itself, not its value
            at = at.get("propertyNames", {"type": "string"})
        elif isinstance(part, int):
            at = at.get("items", {})
        elif part in at.get("properties", {}):
            at = at["properties"][part]
        elif isinstance(at.get("additionalProperties"), dict):
            at = at["additionalProperties"]
        elif at.get("patternProperties"):
            at = next(iter(at["patternProperties"].values()))
        else:
            return {}
        at = resolve(schema, at)
    return at


def resolve(root: dict[str, Any], at: dict[str, Any]) -> dict[str, Any]:
    """Follows `$ref`, and sees through `X | None`, keeping the outer description."""
    if "anyOf" in at:
        chosen: dict[str, Any] = next((a for a in at["anyOf"] if a.get("type") != "null"), {})
        at = {**resolve(root, chosen), **{k: v for k, v in at.items() if k != "anyOf"}}
    if "$ref" in at:
        target = root["$defs"][at["$ref"].rsplit("/", 1)[1]]
        at = {**target, **{k: v for k, v in at.items() if k != "$ref"}}
    return at


def description(at: dict[str, Any]) -> str:
    """A key's description on one line (a model's docstring keeps its line breaks)."""
    return " ".join(at.get("description", "").split())


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _type_message(expected: Any, value: Any) -> str:
    got = _json_type(value)
    return {
        "boolean": f"must be true or false (a YAML boolean), got {got} {quoted(value)}.",
        "integer": f"must be an integer, got {got} {quoted(value)}.",
        "number": f"must be a number, got {got} {quoted(value)}.",
        "array": f"must be a list, got {got}.",
        "object": f"must be an object, got {got}.",
    }.get(str(expected), f"must be a string, got {got}.")
