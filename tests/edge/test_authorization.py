"""The allowed clients as the load balancer's authorization policies, within the AuthzPolicy limits: 5 rules per
policy, 5 principals per source, 10 paths and 10 methods per policy."""

from __future__ import annotations

from components.core.edge_backend import AllowedClient
from components.edge.authorization import http_rules, policies


def client(number: int, **fields) -> AllowedClient:
    return AllowedClient(uri_san=f"spiffe://acme.com/ns/shop/sa/client-{number}", **fields)


def test_clients_with_the_same_paths_and_methods_share_a_rule():
    rules = http_rules([client(1, methods=("GET",)), AllowedClient(dns_san="b.acme.com", methods=("GET",))])
    assert rules == [
        {
            "from_": {
                "sources": [
                    {
                        "principals": [
                            {
                                "principal_selector": "CLIENT_CERT_URI_SAN",
                                "principal": {"exact": "spiffe://acme.com/ns/shop/sa/client-1"},
                            },
                            {"principal_selector": "CLIENT_CERT_DNS_NAME_SAN", "principal": {"exact": "b.acme.com"}},
                        ]
                    }
                ]
            },
            "to": {"operations": [{"methods": ["GET"]}]},
        }
    ]


def test_a_client_allowed_everything_gets_a_rule_without_an_operation():
    principal = {"principal_selector": "CLIENT_CERT_URI_SAN", "principal": {"exact": client(1).identity}}
    assert http_rules([client(1)]) == [{"from_": {"sources": [{"principals": [principal]}]}}]


def test_a_sixth_principal_starts_a_new_rule():
    rules = http_rules([client(i) for i in range(6)])
    assert [len(r["from_"]["sources"][0]["principals"]) for r in rules] == [5, 1]


def test_a_sixth_rule_starts_a_new_policy():
    clients = [client(i, paths=(f"/p{i}/*",)) for i in range(6)]
    assert [len(p) for p in policies(clients)] == [5, 1]


def test_paths_beyond_ten_per_policy_start_a_new_policy():
    """Each client's two exact paths make four matches (each also with a query): three clients are twelve."""
    clients = [client(i, paths=(f"/a{i}", f"/b{i}")) for i in range(3)]
    assert [len(p) for p in policies(clients)] == [2, 1]


def test_methods_beyond_ten_per_policy_start_a_new_policy():
    every = ("GET", "PUT", "POST", "HEAD", "PATCH", "DELETE", "OPTIONS")
    clients = [client(i, paths=(f"/{i}/*",), methods=every) for i in range(2)]
    assert [len(p) for p in policies(clients)] == [1, 1]


def test_no_clients_no_policy():
    assert policies([]) == []
