"""The one translation of pydantic's errors into findings: each kind of problem names its full key, says what is
allowed, and keeps its stable code. A small model of its own keeps these tests about the translation alone."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from components.core.names import GCE_NAME, Namespace
from components.core.settings import CONFIG_NAMESPACE, SettingsModel, json_schema, parse, resolve
from components.stack.settings import StackConfig

KEY = "gke-mtls:example"


def _even(values: tuple[int, ...]) -> tuple[int, ...]:
    for i, value in enumerate(values):
        if value % 2:
            raise PydanticCustomError("example.even", f"{value} is odd; use an even number.", {"at": f"[{i}]"})
    return values


class Inner(SettingsModel):
    """An inner object."""

    port: Annotated[int, Field(ge=1, le=65535)] = Field(80, description="A port.", examples=[80])


class Example(SettingsModel):
    """A model with one key of each kind."""

    name: Annotated[str, GCE_NAME] = Field(description="A GCE name.", examples=["web"])
    mode: Literal["STRICT", "PERMISSIVE"] = Field("STRICT", description="A mode.", examples=["STRICT"])
    enabled: bool = Field(False, description="A switch.", examples=[True])
    rate: Annotated[float, Field(ge=0.0, le=1.0)] = Field(1.0, description="A share.", examples=[0.5])
    hosts: tuple[str, ...] = Field((), max_length=2, description="Host names.", examples=[["a.example.com"]])
    evens: Annotated[tuple[int, ...], AfterValidator(_even)] = Field((), description="Even numbers.", examples=[[2]])
    namespaces: dict[Namespace, str] = Field({}, description="Namespaces.", examples=[{"shop": "x"}])
    inner: Inner = Field(Inner(), description="An inner object.", examples=[{"port": 8080}])
    items: tuple[Inner, ...] = Field((), description="Inner objects.", examples=[[{"port": 8080}]])


def messages(values: dict[str, Any]) -> list[str]:
    parsed, findings = parse(Example, {"name": "web", **values}, KEY)
    assert parsed is None
    return [str(f) for f in findings]


def test_a_valid_section_parses_with_its_defaults():
    parsed, findings = parse(Example, {"name": "web", "hosts": ["a.example.com"]}, KEY)
    assert findings == []
    assert parsed == Example(name="web", hosts=("a.example.com",))
    assert parsed.inner.port == 80


@pytest.mark.parametrize(
    "values, message",
    [
        (
            {"nmae": "x"},
            f"{KEY}.nmae: is not a known key; did you mean 'name'? known keys here are name, mode, enabled, rate, "
            "hosts, evens, namespaces, inner, items. [config.unknown-key]",
        ),
        (
            {"inner": {"prot": 1}},
            f"{KEY}.inner.prot: is not a known key; did you mean 'port'? known keys here are port. "
            "[config.unknown-key]",
        ),
        ({"mode": "MUTUAL"}, f"{KEY}.mode: 'MUTUAL' is not allowed; use one of STRICT, PERMISSIVE. [config.enum]"),
        (
            {"enabled": "yes"},
            f"{KEY}.enabled: must be true or false (a YAML boolean), got a string 'yes'. [config.type]",
        ),
        ({"enabled": 1}, f"{KEY}.enabled: must be true or false (a YAML boolean), got a number 1. [config.type]"),
        ({"rate": "all"}, f"{KEY}.rate: must be a number, got a string 'all'. [config.type]"),
        ({"rate": 2}, f"{KEY}.rate: 2 is out of range; use a number from 0.0 to 1.0. [config.range]"),
        (
            {"inner": {"port": 0}},
            f"{KEY}.inner.port: 0 is out of range; use an integer from 1 to 65535. [config.range]",
        ),
        ({"inner": {"port": 80.5}}, f"{KEY}.inner.port: must be an integer, got a number 80.5. [config.type]"),
        ({"items": [{}, {"port": "80"}]}, f"{KEY}.items[1].port: must be an integer, got a string '80'. [config.type]"),
        ({"inner": "x"}, f"{KEY}.inner: must be an object, got a string. [config.type]"),
        ({"hosts": "a.example.com"}, f"{KEY}.hosts: must be a list, got a string. [config.type]"),
        ({"hosts": ["a", "b", "c"]}, f"{KEY}.hosts: has 3 entries; at most 2 are allowed. [config.range]"),
        ({"hosts": [1]}, f"{KEY}.hosts[0]: must be a string, got a number. [config.type]"),
        (
            {"name": "Web_1"},
            f"{KEY}.name: 'Web_1' is not valid: a GCE resource name starts with a lowercase letter, then up to 62 "
            "lowercase letters, digits or hyphens, and does not end with a hyphen. [config.syntax]",
        ),
        (
            {"namespaces": {"Shop": "x"}},
            f"{KEY}.namespaces.Shop: 'Shop' is not valid: a namespace is a lowercase RFC 1123 label: up to 63 "
            "lowercase letters, digits or hyphens, starting and ending with a letter or digit. [config.syntax]",
        ),
        (
            {"namespaces": {"n" * 64: "x"}},
            f"{KEY}.namespaces.{'n' * 64}: '{'n' * 64}' is 64 characters; at most 63 are allowed. [config.syntax]",
        ),
        ({"evens": [2, 4, 5]}, f"{KEY}.evens[2]: 5 is odd; use an even number. [example.even]"),
    ],
    ids=[
        "unknown-key",
        "unknown-nested-key",
        "enum",
        "string-for-boolean",
        "number-for-boolean",
        "string-for-number",
        "number-out-of-range",
        "integer-out-of-range",
        "fraction-for-integer",
        "list-item-key",
        "string-for-object",
        "string-for-list",
        "too-many-entries",
        "number-for-string",
        "pattern",
        "map-key-pattern",
        "map-key-too-long",
        "own-rule-with-its-code",
    ],
)
def test_each_kind_of_problem_names_its_key_and_what_is_allowed(values, message):
    assert messages(values) == [message]


def test_a_missing_key_quotes_its_description():
    _, findings = parse(Example, {}, KEY)
    assert [str(f) for f in findings] == [f"{KEY}.name: is required: A GCE name. [config.required]"]


def test_every_problem_of_a_section_is_reported_at_once():
    assert [m.rsplit(" [", 1)[1] for m in messages({"mode": "X", "enabled": "no", "rate": 5, "bogus": 1})] == [
        "config.enum]",
        "config.type]",
        "config.range]",
        "config.unknown-key]",
    ]


def test_a_top_level_key_is_named_with_a_colon():
    _, findings = parse(StackConfig, {"edeg": None}, CONFIG_NAMESPACE)
    assert [f.key for f in findings] == ["gke-mtls:edeg"]


def test_every_setting_has_a_description_and_an_example():
    schema = json_schema(StackConfig)
    for model in [schema, *schema["$defs"].values()]:
        for name, prop in model.get("properties", {}).items():
            described = resolve(schema, prop)
            assert described.get("description"), (model.get("title"), name)
            assert described.get("examples"), (model.get("title"), name)
