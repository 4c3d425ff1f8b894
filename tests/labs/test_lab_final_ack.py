"""The final-ACK lab, run for real in its own network namespace (root), against the vendored tcp_check_req."""

from __future__ import annotations

import json
import os
import re

import pytest

from explorer.cli import main
from explorer.labs import LabError
from explorer.labs.final_ack import MAX_FINAL_ACK_CLIENTS, final_ack_lab
from explorer.labs.results import FinalAckResult, from_json

BACKLOG, CLIENTS = 2, 3
JSON_KEYS = ("backlog", "clients", "abort_on_overflow", "established", "reset", "listen_overflows", "kernel")


def _overflow_label(vendored_source) -> str:  # type: ignore[no-untyped-def]
    """The code of tcp_check_req from its listen_overflow label to the embryonic_reset label."""
    body = vendored_source("tcp_check_req")
    match = re.search(r"^listen_overflow:\n(.*?)^embryonic_reset:", body, re.S | re.M)
    assert match, "tcp_check_req has no listen_overflow label followed by embryonic_reset"
    return match.group(1)


def test_the_vendored_label_reads_the_sysctl(vendored_source) -> None:  # type: ignore[no-untyped-def]
    label = _overflow_label(vendored_source)
    # with the sysctl off: mark the request acked and return NULL (drop, keep the request)
    assert re.search(r"if \(!READ_ONCE\(sock_net\(sk\)->ipv4\.sysctl_tcp_abort_on_overflow\)\) \{\s*inet_rsk\(req\)->acked = 1;\s*return NULL;", label)
    assert "goto listen_overflow" in vendored_source("tcp_check_req")
    assert re.search(r"if \(sk_acceptq_is_full\(sk\)\)\s*goto exit_overflow;", vendored_source("tcp_v4_syn_recv_sock"))


@pytest.mark.usefixtures("netns_capable")
def test_abort_off_drops_the_final_ack_and_retries(code, lab_namespaces, capacity_extra) -> None:  # type: ignore[no-untyped-def]
    r = final_ack_lab(BACKLOG, CLIENTS, 0, code=code)
    assert r.abort_on_overflow == 0 and r.kernel == os.uname().release
    assert r.queued == BACKLOG + capacity_extra and r.effective_backlog == BACKLOG  # the queue really was full
    assert r.established == CLIENTS and r.reset == 0  # the clients think they are connected
    assert r.bytes_sent == CLIENTS  # and their send() succeeded
    assert r.server_syn_recv == CLIENTS  # the listener keeps every request
    assert r.synack_retransmits >= CLIENTS and r.request_retransmits >= CLIENTS  # and resends its SYN-ACKs
    assert r.listen_overflows > CLIENTS  # each byte, and its retries, counted
    assert r.listen_drops >= r.listen_overflows
    assert r.embryonic_rsts == 0
    assert r.agrees and all(r.agrees.values()), r.agrees
    assert lab_namespaces(os.getpid()) == []


@pytest.mark.usefixtures("netns_capable")
def test_abort_off_completes_the_waiting_requests_once_there_is_room(code, capacity_extra) -> None:  # type: ignore[no-untyped-def]
    backlog, clients = 1, 4  # more waiting than the emptied queue holds: only backlog + 1 complete
    r = final_ack_lab(backlog, clients, 0, code=code)
    room = backlog + capacity_extra
    assert r.filled == room and r.completed_after_accept == min(clients, room)
    assert r.agrees.get("completed_after_accept") is True


@pytest.mark.usefixtures("netns_capable")
def test_abort_on_resets_the_client(code, lab_namespaces) -> None:  # type: ignore[no-untyped-def]
    r = final_ack_lab(BACKLOG, CLIENTS, 1, code=code)
    assert r.abort_on_overflow == 1
    assert r.reset == CLIENTS and r.established == 0
    assert r.server_syn_recv == 0  # the requests were dropped
    assert r.embryonic_rsts == CLIENTS
    assert r.listen_overflows == CLIENTS  # one final ACK each, then nothing is left to retry
    assert r.completed_after_accept is None
    assert r.agrees and all(r.agrees.values()), r.agrees
    assert lab_namespaces(os.getpid()) == []


@pytest.mark.usefixtures("netns_capable")
def test_without_data_the_ack_of_a_retransmitted_synack_completes_the_connection(code, capacity_extra) -> None:  # type: ignore[no-untyped-def]
    """The late clients send nothing: only the listener's SYN-ACK retransmissions draw their final ACKs."""
    r = final_ack_lab(BACKLOG, CLIENTS, 0, code=code, client_data=False)
    assert r.client_data is False and r.bytes_sent == 0
    assert r.established == CLIENTS and r.server_syn_recv == CLIENTS and r.reset == 0
    assert r.synack_retransmits >= CLIENTS  # the SYN-ACKs sent again, whose ACKs met the full queue...
    assert r.listen_overflows >= CLIENTS  # ...and were dropped (acked, kept)
    room = BACKLOG + capacity_extra
    assert r.completed_after_accept == min(CLIENTS, room)
    # once there was room, only another SYN-ACK retransmission could draw the ACK that completed each
    assert r.synack_retransmits_after_accept is not None and r.synack_retransmits_after_accept >= r.completed_after_accept
    assert r.completed_seconds is not None and r.completed_seconds > 0
    assert r.agrees and all(r.agrees.values()), r.agrees


@pytest.mark.usefixtures("netns_capable")
def test_without_data_and_abort_on_the_ack_of_the_retransmitted_synack_is_reset(code) -> None:  # type: ignore[no-untyped-def]
    r = final_ack_lab(BACKLOG, CLIENTS, 1, code=code, client_data=False)
    assert r.bytes_sent == 0 and r.synack_retransmits >= CLIENTS  # nothing was sent but the ACKs of resent SYN-ACKs
    assert r.reset == CLIENTS and r.established == 0 and r.embryonic_rsts == CLIENTS
    assert r.completed_after_accept is None and r.synack_retransmits_after_accept is None
    assert r.agrees and all(r.agrees.values()), r.agrees


def test_the_vendored_fastopen_queue_check(vendored_source) -> None:  # type: ignore[no-untyped-def]
    check = vendored_source("tcp_fastopen_queue_check")
    assert re.search(r"if \(fastopenq->qlen >= max_qlen\)", check) and "LINUX_MIB_TCPFASTOPENLISTENOVERFLOW" in check
    assert "inet_csk_reqsk_queue_add(sk, req, fastopen_sk)" in vendored_source("tcp_conn_request")


@pytest.mark.usefixtures("netns_capable")
@pytest.mark.parametrize(("limit", "clients"), [(2, 5), (3, 3)])
def test_fastopen_children_wait_in_syn_recv_before_the_final_ack(limit, clients, code, lab_namespaces) -> None:  # type: ignore[no-untyped-def]
    from explorer.labs.fastopen import DATA

    r = final_ack_lab(clients=clients, code=code, fastopen=limit)
    assert r.fastopen == limit and r.fastopen_max_qlen == limit
    children = min(limit, clients)
    assert r.fastopen_children == children and r.queued == children  # in the accept queue before any final ACK
    assert r.fastopen_passive == children
    assert r.fastopen_listen_overflow == clients - children  # the Fast Open queue was full for the others...
    assert r.fastopen_requests == clients - children  # ...which became ordinary requests
    assert r.accepted_syn_recv == children  # accept() returned them still in SYN_RECV
    assert r.data_before_handshake == children * len(DATA)  # with the SYN's data readable
    assert r.established_after_release == children  # and the clients' ACKs completed them
    assert r.listen_overflows == 0 and r.reset == 0
    assert r.agrees and all(r.agrees.values()), r.agrees
    assert lab_namespaces(os.getpid()) == []


@pytest.mark.usefixtures("netns_capable")
def test_fastopen_sysctl_is_set_inside_the_namespace_only() -> None:
    with open("/proc/sys/net/ipv4/tcp_fastopen") as f:
        before = f.read()
    final_ack_lab(clients=1, fastopen=1)
    with open("/proc/sys/net/ipv4/tcp_fastopen") as f:
        assert f.read() == before


@pytest.mark.usefixtures("netns_capable")
def test_the_sysctl_is_set_inside_the_namespace_only() -> None:
    with open("/proc/sys/net/ipv4/tcp_abort_on_overflow") as f:
        before = f.read()
    final_ack_lab(1, 1, 1 - int(before))
    with open("/proc/sys/net/ipv4/tcp_abort_on_overflow") as f:
        assert f.read() == before


@pytest.mark.usefixtures("netns_capable")
def test_json_keys(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["lab", "final-ack", "--backlog", "1", "--clients", "2", "--abort-on-overflow", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in JSON_KEYS:
        assert key in data, key
    assert (data["backlog"], data["clients"], data["abort_on_overflow"]) == (1, 2, 1)
    assert data["reset"] + data["established"] == 2
    assert from_json(FinalAckResult, data).reset == data["reset"]
    assert data["client_data"] is True and data["completed_seconds"] is None  # with 1 nothing completes


def test_a_recording_from_before_no_data_still_loads() -> None:
    """Results recorded before --no-data existed lack its keys: they read as runs with data."""
    old = {
        "kernel": "6.1.0-x", "backlog": 2, "clients": 3, "abort_on_overflow": 0, "established": 3, "reset": 0,
        "listen_overflows": 9, "listen_drops": 9, "synack_retransmits": 3, "embryonic_rsts": 0, "completed_after_accept": 3,
        "server_syn_recv": 3, "request_retransmits": 3, "bytes_sent": 3, "filled": 3, "queued": 3, "effective_backlog": 2,
        "port": 1, "netns": "x", "counters": {}, "watched_seconds": 1.0, "seconds": 2.0,
    }
    r = from_json(FinalAckResult, old)
    assert r.client_data is True and r.completed_seconds is None and r.synack_retransmits_after_accept is None


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--abort-on-overflow", "2"], "--abort-on-overflow 2"),
        (["--abort-on-overflow", "-1"], "--abort-on-overflow -1"),
        (["--backlog", "-1"], "negative"),
        (["--clients", "0"], "--clients 0"),
        (["--clients", str(MAX_FINAL_ACK_CLIENTS + 1)], f"{MAX_FINAL_ACK_CLIENTS:,}"),
        (["--fastopen", "0"], "--fastopen 0"),
        (["--fastopen", "2", "--no-data"], "choose one"),
    ],
)
def test_nonsense_is_refused(argv, needle, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["lab", "final-ack", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.startswith("kexplore lab: ") and err.count("\n") == 1


def test_without_root_it_says_so_and_exits_2(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError) as info:
        final_ack_lab(2, 3, 0)
    assert info.value.exit_code == 2 and "needs root" in str(info.value)
    assert main(["lab", "final-ack"]) == 2
    assert "needs root" in capsys.readouterr().err
