"""The accept-queue lab, run for real on loopback, against what the vendored code says."""

from __future__ import annotations

import os

import pytest

from explorer.labs import LabError
from explorer.labs.accept_queue import accept_queue_lab
from explorer.labs.observe import read_sysctl, tcp_sockets


def _capacity_extra(vendored_source, operator_after) -> int:  # type: ignore[no-untyped-def]
    """1 when sk_acceptq_is_full compares with `>` (the queue takes backlog + 1), 0 with `>=`."""
    body = vendored_source("sk_acceptq_is_full")
    return 1 if operator_after(body, "sk->sk_ack_backlog)") == ">" else 0


def _no_sockets_left(port: int) -> None:
    left = [s for s in tcp_sockets(None) if port in (s.sport, s.dport)]
    assert left == [], f"the lab left sockets behind: {left}"


def test_accept_queue_holds_backlog_plus_one(vendored_source, operator_after, code) -> None:  # type: ignore[no-untyped-def]
    extra = _capacity_extra(vendored_source, operator_after)
    assert extra == 1, "Linux 6.1's sk_acceptq_is_full uses `>`: backlog + 1 fit"
    backlog, clients = 3, 8
    result = accept_queue_lab(backlog, clients, code=code)

    assert result["effective_backlog"] == backlog
    assert result["queued"] == backlog + extra
    assert result["syn_sent"] == clients - (backlog + extra)
    assert result["established_clients"] == result["queued"]
    # every stuck client's SYN was dropped at least once (retransmissions count again)
    assert result["overflows"] >= result["syn_sent"]
    assert result["drops"] >= result["overflows"]
    assert all(result["agrees"].values()), result["agrees"]
    _no_sockets_left(int(result["port"]))


def test_backlog_zero_still_admits_one(vendored_source, operator_after, code) -> None:  # type: ignore[no-untyped-def]
    extra = _capacity_extra(vendored_source, operator_after)
    result = accept_queue_lab(0, 3, code=code)
    assert result["effective_backlog"] == 0
    assert result["queued"] == extra
    assert result["syn_sent"] == 3 - extra


def test_backlog_above_somaxconn_is_clamped(vendored_source, code) -> None:  # type: ignore[no-untyped-def]
    body = vendored_source("__sys_listen")
    assert "backlog > somaxconn" in body and "backlog = somaxconn" in body, body
    somaxconn = read_sysctl("net.core.somaxconn")
    result = accept_queue_lab(somaxconn + 7, 3, code=code)
    assert result["somaxconn"] == somaxconn
    assert result["effective_backlog"] == somaxconn
    assert result["queued"] == 3 and result["syn_sent"] == 0
    assert result["agrees"]["effective_backlog"] is True
    _no_sockets_left(int(result["port"]))


@pytest.mark.usefixtures("netns_capable")
def test_clamp_and_capacity_in_a_private_namespace(vendored_source, operator_after, code, lab_namespaces) -> None:  # type: ignore[no-untyped-def]
    """With somaxconn lowered inside the lab's own namespace, the clamp and backlog + 1 show with few clients."""
    extra = _capacity_extra(vendored_source, operator_after)
    result = accept_queue_lab(50, 9, code=code, private_netns=True, somaxconn=5)
    assert result["netns"] == "private"
    assert result["somaxconn"] == 5
    assert result["effective_backlog"] == 5
    assert result["queued"] == 5 + extra
    assert result["syn_sent"] == 9 - (5 + extra)
    assert result["overflows"] >= result["syn_sent"]
    assert lab_namespaces(os.getpid()) == []


def test_explanations_link_to_the_vendored_code(code) -> None:  # type: ignore[no-untyped-def]
    result = accept_queue_lab(1, 3, code=code)
    linked = {ref["symbol"]: ref for item in result["explanations"] for ref in item["code"]}
    for name in ("__sys_listen", "sk_acceptq_is_full", "tcp_conn_request"):
        assert name in linked
        if code.indexed:
            assert linked[name]["path"] and linked[name]["line"] > 0
    if code.indexed:
        assert linked["sk_acceptq_is_full"]["path"] == "include/net/sock.h"


def test_without_the_index_symbols_are_named_and_predictions_left_out() -> None:
    result = accept_queue_lab(1, 3, code=None)
    assert result["predicted"] == {} and result["agrees"] == {}
    names = [ref["symbol"] for item in result["explanations"] for ref in item["code"]]
    assert "sk_acceptq_is_full" in names
    assert all(ref["path"] is None for item in result["explanations"] for ref in item["code"])


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"backlog": -1}, "negative"),
        ({"backlog": 2**31}, "at most"),
        ({"backlog": 4, "clients": 10_001}, "10,000"),
        ({"backlog": 4, "clients": -2}, "10,000"),
        ({"backlog": 4, "somaxconn": 8}, "--netns"),
    ],
)
def test_nonsense_is_refused(kwargs, needle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LabError) as info:
        accept_queue_lab(**kwargs)
    assert info.value.exit_code == 2
    assert needle in str(info.value)
