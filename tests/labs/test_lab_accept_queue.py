"""The accept-queue lab, run for real on loopback, against what the vendored code says.

Expected numbers come from the arguments and from the vendored code (`capacity_extra`: 1 when
sk_acceptq_is_full lets the queue hold backlog + 1), never written in.
"""

from __future__ import annotations

import os
import re

import pytest

from explorer.labs import MAX_CLIENTS, LabError
from explorer.labs.accept_queue import accept_queue_lab
from explorer.labs.observe import read_sysctl, tcp_sockets

from .conftest import skip_unless_ci


def _no_sockets_left(port: int) -> None:
    left = [s for s in tcp_sockets(None) if port in (s.sport, s.dport)]
    assert left == [], f"the lab left sockets behind: {left}"


def test_accept_queue_holds_backlog_plus_one(capacity_extra, code) -> None:  # type: ignore[no-untyped-def]
    assert capacity_extra == 1, "Linux 6.1's sk_acceptq_is_full uses `>`: backlog + 1 fit"
    backlog, clients = 3, 8
    result = accept_queue_lab(backlog, clients, code=code)

    assert result.effective_backlog == backlog
    assert result.queued == backlog + capacity_extra
    assert result.syn_sent == clients - (backlog + capacity_extra)
    assert result.established_clients == result.queued
    # every stuck client's SYN was dropped at least once (retransmissions count again)
    assert result.overflows >= result.syn_sent
    assert result.drops >= result.overflows
    assert result.agrees and all(result.agrees.values()), result.agrees
    _no_sockets_left(result.port)


def test_backlog_zero_still_admits_one(capacity_extra, code) -> None:  # type: ignore[no-untyped-def]
    clients = 3
    result = accept_queue_lab(0, clients, code=code)
    assert result.effective_backlog == 0
    assert result.queued == capacity_extra
    assert result.syn_sent == clients - capacity_extra


def test_backlog_above_somaxconn_is_clamped(vendored_source, code) -> None:  # type: ignore[no-untyped-def]
    body = vendored_source("__sys_listen")
    assert "backlog > somaxconn" in body and "backlog = somaxconn" in body, body
    somaxconn = read_sysctl("net.core.somaxconn")
    clients = 3
    result = accept_queue_lab(somaxconn + 7, clients, code=code)
    assert result.somaxconn == somaxconn
    assert result.effective_backlog == somaxconn
    assert result.queued == min(clients, somaxconn + 1) and result.syn_sent == clients - result.queued
    assert result.agrees["effective_backlog"] is True
    _no_sockets_left(result.port)


@pytest.mark.usefixtures("netns_capable")
def test_clamp_and_capacity_in_a_private_namespace(capacity_extra, code, lab_namespaces) -> None:  # type: ignore[no-untyped-def]
    """With somaxconn lowered inside the lab's own namespace, the clamp and backlog + 1 show with few clients."""
    somaxconn, backlog, clients = 5, 50, 9
    result = accept_queue_lab(backlog, clients, code=code, private_netns=True, somaxconn=somaxconn)
    assert result.netns == "private"
    assert result.somaxconn == somaxconn
    assert result.effective_backlog == somaxconn
    assert result.queued == somaxconn + capacity_extra
    assert result.syn_sent == clients - (somaxconn + capacity_extra)
    assert result.overflows >= result.syn_sent
    assert lab_namespaces(os.getpid()) == []


def test_explanations_link_to_the_vendored_code(code, vendored_index) -> None:  # type: ignore[no-untyped-def]
    result = accept_queue_lab(1, 3, code=code)
    linked = {ref.symbol: ref for item in result.explanations for ref in item.code}
    for name in ("__sys_listen", "sk_acceptq_is_full", "tcp_conn_request"):
        definition = vendored_index.lookup(name)[0]
        assert (linked[name].path, linked[name].line) == (definition.path, definition.line), name
    assert result.vendored_kernel is not None and result.vendored_kernel.indexed


def test_without_the_index_symbols_are_named_and_predictions_left_out() -> None:
    result = accept_queue_lab(1, 3, code=None)
    assert result.predicted == {} and result.agrees == {}
    assert result.vendored_kernel is None
    names = [ref.symbol for item in result.explanations for ref in item.code]
    assert "sk_acceptq_is_full" in names
    assert all(ref.path is None for item in result.explanations for ref in item.code)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"backlog": -1}, "negative"),
        ({"backlog": 2**31}, "at most"),
        ({"backlog": 4, "clients": MAX_CLIENTS + 1}, f"{MAX_CLIENTS:,}"),
        ({"backlog": 4, "clients": -2}, f"{MAX_CLIENTS:,}"),
        ({"backlog": 4, "somaxconn": 8}, "--netns"),
    ],
)
def test_nonsense_is_refused(kwargs, needle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LabError) as info:
        accept_queue_lab(**kwargs)
    assert info.value.exit_code == 2
    assert needle in str(info.value)


@pytest.mark.usefixtures("netns_capable")
def test_ipv6_holds_backlog_plus_one_on_loopback6(capacity_extra, code, lab_namespaces) -> None:  # type: ignore[no-untyped-def]
    """Over IPv6 (::1, in the lab's own namespace) the listener holds the same backlog + 1."""
    import socket

    backlog, clients = 2, 6
    result = accept_queue_lab(backlog, clients, code=code, private_netns=True, ipv6=True)
    assert result.ipv6 is True
    assert result.effective_backlog == backlog
    assert result.queued == backlog + capacity_extra
    assert result.syn_sent == clients - result.queued
    assert result.overflows >= result.syn_sent
    assert result.agrees and all(result.agrees.values()), result.agrees
    assert any("::1" in item.text for item in result.explanations)
    assert lab_namespaces(os.getpid()) == []
    # the lab watched IPv6 sockets: an IPv4 query finds none of its port in this namespace
    assert not [s for s in tcp_sockets(None, socket.AF_INET) if result.port in (s.sport, s.dport)]


def test_ipv6_in_this_namespace_leaves_nothing_behind(capacity_extra, code) -> None:  # type: ignore[no-untyped-def]
    import socket

    result = accept_queue_lab(1, 4, code=code, ipv6=True)
    assert result.queued == 1 + capacity_extra and result.syn_sent == 4 - result.queued
    left = [s for s in tcp_sockets(None, socket.AF_INET6) if result.port in (s.sport, s.dport)]
    assert left == []


@pytest.mark.parametrize("kernel", ["linux-6.1", "linux-6.12"])
def test_the_clamp_is_read_where_each_kernel_has_it(project, vendored_index, kernel) -> None:  # type: ignore[no-untyped-def]
    """6.11 moved the clamp from __sys_listen into __sys_listen_socket: the prediction finds it in both kernels."""
    from explorer.labs.code import BACKLOG_CLAMP, KernelCode

    with KernelCode(project, kernel) as code:
        if not code.indexed:
            skip_unless_ci(f"{kernel} is not indexed: run `make index`")
        holders = [name for name in ("__sys_listen_socket", "__sys_listen") if code.contains(name, BACKLOG_CLAMP)]
        assert len(holders) == 1, holders  # the clamp is in exactly one of them
        assert code.clamp_function() == holders[0] and code.clamps_backlog() is True
        result = accept_queue_lab(1, 3, code=code)
        assert result.predicted["effective_backlog"] == 1
        linked = {ref.symbol for item in result.explanations for ref in item.code}
        assert holders[0] in linked


def test_v4_mapped_ipv4_clients_fill_an_ipv6_listeners_queue(capacity_extra, code, vendored_source) -> None:  # type: ignore[no-untyped-def]
    """An IPv6 listener with IPV6_V6ONLY off takes IPv4 SYNs: the same backlog + 1, and accept() gives a mapped peer."""
    import socket

    assert re.search(r"if \(skb->protocol == htons\(ETH_P_IP\)\)\s*return tcp_v4_conn_request\(sk, skb\);", vendored_source("tcp_v6_conn_request"))
    backlog, clients = 2, 6
    result = accept_queue_lab(backlog, clients, code=code, v4_mapped=True)
    assert result.v4_mapped and not result.ipv6
    assert result.effective_backlog == backlog
    assert result.queued == backlog + capacity_extra  # IPv4 connections in the IPv6 listener's accept queue
    assert result.syn_sent == clients - result.queued and result.overflows >= result.syn_sent
    assert result.accepted_peer == "::ffff:127.0.0.1"  # an IPv6 socket whose peer is v4-mapped
    assert result.agrees and all(result.agrees.values()), result.agrees
    linked = {ref.symbol for item in result.explanations for ref in item.code}
    assert {"tcp_v6_conn_request", "tcp_v4_conn_request", "tcp_v6_mapped_child_init"} <= linked
    _no_sockets_left(result.port)
    assert [s for s in tcp_sockets(None, socket.AF_INET6) if result.port in (s.sport, s.dport)] == []


def test_ipv6_and_v4_mapped_are_refused_together() -> None:
    with pytest.raises(LabError) as info:
        accept_queue_lab(1, 1, ipv6=True, v4_mapped=True)
    assert info.value.exit_code == 2 and "--v4-mapped" in str(info.value)
