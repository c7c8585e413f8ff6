"""The capability table: every fact of every load balancer type cites Google and quotes it, and each quote that this
machine holds (the Cloud SDK's generated messages and command code, Google's generated types stored in the project)
is found there word for word."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.core.load_balancer import CAPABILITIES, Fact, LoadBalancerType, Source
from tests.cloud_sdk import _sdk_root as sdk_root
from tests.conftest import PROJECT_ROOT

FACTS = [(kind, name, fact) for kind, row in CAPABILITIES.items() for name, fact in row.facts().items()]
GOOGLE = ("https://cloud.google.com/", "https://github.com/googleapis/googleapis/")


def _text(local: str) -> str:
    where, path = local.split(":", 1)
    root = {"cloud-sdk": sdk_root(), "project": PROJECT_ROOT}[where]
    return " ".join((Path(root) / path).read_text().split())


def test_the_table_has_every_type_and_every_fact():
    assert set(CAPABILITIES) == set(LoadBalancerType)
    assert {len(row.facts()) for row in CAPABILITIES.values()} == {11}


@pytest.mark.parametrize("kind, name, fact", FACTS, ids=[f"{k}-{n}" for k, n, _ in FACTS])
def test_every_fact_cites_a_google_page_and_quotes_it(kind, name, fact):
    assert isinstance(fact, Fact) and isinstance(fact.source, Source)
    assert fact.source.url.startswith(GOOGLE), fact.source.url
    assert len(fact.source.quote.split()) >= 5, "a quote is Google's sentence, not a word"


LOCAL = sorted({(f.source.local, f.source.quote) for _, _, f in FACTS if f.source.local})


@pytest.mark.parametrize("local, quote", LOCAL, ids=[q[:40] for _, q in LOCAL])
def test_a_quote_this_machine_holds_is_found_there_word_for_word(local, quote):
    assert " ".join(quote.split()) in _text(local)


def test_the_check_finds_a_quote_that_google_does_not_say():
    """The check above could pass by reading nothing."""
    local = CAPABILITIES[LoadBalancerType.GLOBAL_EXTERNAL].principals.source.local
    assert "This field is supported for global external Application Load Balancers." not in _text(local)


def test_a_row_without_its_source_cannot_be_written():
    with pytest.raises(TypeError):
        Fact("EXTERNAL")  # type: ignore[call-arg]


def test_google_documents_principals_for_the_regional_load_balancer_only():
    """The field's own text wins over the overview, and the table says why."""
    principals = {kind: row.principals.value for kind, row in CAPABILITIES.items()}
    assert principals[LoadBalancerType.REGIONAL_EXTERNAL] == (
        "CLIENT_CERT_URI_SAN",
        "CLIENT_CERT_DNS_NAME_SAN",
        "CLIENT_CERT_COMMON_NAME",
    )
    assert principals[LoadBalancerType.GLOBAL_EXTERNAL] == principals[LoadBalancerType.CLASSIC] == ()
    assert "the most specific and the newest" in CAPABILITIES[LoadBalancerType.GLOBAL_EXTERNAL].principals.source.why
