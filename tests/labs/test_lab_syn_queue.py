"""The SYN-queue lab, run for real in its own network namespaces (root), against the vendored code."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from explorer.labs import MAX_SYNS, LabError
from explorer.labs.syn_queue import QUARTER_RULE, _checksum, build_syn, build_syn6_tcp, syn_queue_lab

IP_HEADER, TCP_HEADER, MSS_OPTION = 20, 20, 4  # bytes: no IP options, one TCP option


def _queue_extra(vendored_source, operator_after) -> int:  # type: ignore[no-untyped-def]
    body = vendored_source("inet_csk_reqsk_queue_is_full")
    return 1 if operator_after(body, "inet_csk_reqsk_queue_len(sk)") == ">" else 0


def _quarter_rule(vendored_source) -> bool:  # type: ignore[no-untyped-def]
    return re.search(QUARTER_RULE, vendored_source("tcp_conn_request")) is not None


def test_syn_packet_checksums() -> None:
    packet = build_syn("127.0.0.1", 20001, "127.0.0.1", 40000, seq=12345)
    assert len(packet) == IP_HEADER + TCP_HEADER + MSS_OPTION
    assert packet[9] == socket.IPPROTO_TCP and packet[IP_HEADER + 13] == 0x02  # TCP, flags: SYN only
    assert _checksum(packet[:IP_HEADER]) == 0  # a header with its checksum sums to zero
    tcp = packet[IP_HEADER:]
    pseudo = packet[12:20] + bytes([0, 6]) + len(tcp).to_bytes(2, "big")
    assert _checksum(pseudo + tcp) == 0


def test_ipv6_syn_checksum_over_the_pseudo_header() -> None:
    tcp = build_syn6_tcp("::1", 20001, "::1", 40000, seq=12345)
    assert len(tcp) == TCP_HEADER + MSS_OPTION and tcp[13] == 0x02
    loopback6 = socket.inet_pton(socket.AF_INET6, "::1")
    pseudo = loopback6 + loopback6 + len(tcp).to_bytes(4, "big") + bytes([0, 0, 0, socket.IPPROTO_TCP])
    assert _checksum(pseudo + tcp) == 0


@pytest.mark.usefixtures("netns_capable")
def test_ipv6_cookies_off_then_on(vendored_source, operator_after, code, lab_namespaces) -> None:  # type: ignore[no-untyped-def]
    """The same limits over IPv6: SYNs to ::1 reach the same tcp_conn_request."""
    kept = 6 + _queue_extra(vendored_source, operator_after)
    syns = 30
    result = syn_queue_lab(6, syns, code=code, ipv6=True)
    off, on = result.runs
    assert result.ipv6 is True
    assert off.syns_sent == on.syns_sent == syns
    assert off.syn_recv == on.syn_recv == kept
    assert off.drops == off.reqq_full_drop == syns - kept and off.cookies_sent == 0
    assert on.cookies_sent == on.reqq_full_do_cookies == syns - kept and on.drops == 0
    assert all(run.agrees and all(run.agrees.values()) for run in (off, on))
    assert lab_namespaces(os.getpid()) == []


def test_without_root_it_says_so_and_exits_2(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError) as info:
        syn_queue_lab(16, 64)
    assert info.value.exit_code == 2
    assert "needs root" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [({"backlog": -1}, "negative"), ({"syns": MAX_SYNS + 1}, f"{MAX_SYNS:,}"), ({"syns": 0}, f"{MAX_SYNS:,}"), ({"max_syn_backlog": 0}, "between")],
)
def test_nonsense_is_refused_before_anything_runs(kwargs, needle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LabError) as info:
        syn_queue_lab(**{"backlog": 16, "syns": 64, **kwargs})
    assert info.value.exit_code == 2 and needle in str(info.value)


@pytest.mark.usefixtures("netns_capable")
def test_cookies_off_then_on(vendored_source, operator_after, code, lab_namespaces) -> None:  # type: ignore[no-untyped-def]
    extra = _queue_extra(vendored_source, operator_after)
    assert extra == 1, "Linux 6.1's inet_csk_reqsk_queue_is_full uses `>`: backlog + 1 requests fit"
    backlog, syns = 8, 40
    result = syn_queue_lab(backlog, syns, code=code)
    off, on = result.runs
    assert (off.cookies, on.cookies) == (False, True)
    assert off.sysctls.tcp_syncookies == 0 and on.sysctls.tcp_syncookies == 1
    max_syn = result.tcp_max_syn_backlog
    assert backlog + extra <= max_syn - (max_syn >> 2) + 1, "the quarter rule must not bind in this test"
    kept = backlog + extra

    # cookies off: the queue stops at backlog + 1; the rest are dropped and counted as such
    assert off.syn_recv == kept
    assert off.drops == syns - kept
    assert off.reqq_full_drop == syns - kept
    assert off.cookies_sent == 0 and off.reqq_full_do_cookies == 0
    # cookies on: the queue is just as bounded, and cookies answer the rest instead of drops
    assert on.syn_recv == kept
    assert on.cookies_sent == syns - kept
    assert on.reqq_full_do_cookies == syns - kept
    assert on.drops == 0
    for run in (off, on):
        assert run.syns_sent == syns
        assert run.agrees and all(run.agrees.values()), run.agrees
    assert lab_namespaces(os.getpid()) == []


@pytest.mark.usefixtures("netns_capable")
def test_tcp_max_syn_backlog_matters_only_without_cookies(vendored_source, code) -> None:  # type: ignore[no-untyped-def]
    assert _quarter_rule(vendored_source), "tcp_conn_request keeps the last quarter of tcp_max_syn_backlog free"
    max_syn, backlog, syns = 64, 200, 150
    result = syn_queue_lab(backlog, syns, code=code, max_syn_backlog=max_syn)
    off, on = result.runs
    assert result.tcp_max_syn_backlog == max_syn
    quarter_cap = max_syn - (max_syn >> 2) + 1
    assert off.syn_recv == quarter_cap
    assert off.drops == syns - quarter_cap
    assert off.reqq_full_drop == 0  # the quarter rule has no counter of its own
    assert backlog + 1 > syns, "with cookies the quarter rule is skipped, and the backlog must not bind either"
    assert on.syn_recv == syns
    assert on.cookies_sent == 0 and on.drops == 0


@pytest.mark.usefixtures("netns_capable")
def test_backlog_clamped_in_the_namespace(vendored_source, operator_after, code) -> None:  # type: ignore[no-untyped-def]
    somaxconn, backlog, syns = 4, 100, 20
    result = syn_queue_lab(backlog, syns, code=code, somaxconn=somaxconn)
    assert result.somaxconn == somaxconn and result.effective_backlog == somaxconn
    off, on = result.runs
    assert off.syn_recv == on.syn_recv == somaxconn + _queue_extra(vendored_source, operator_after)


@pytest.mark.usefixtures("netns_capable")
@pytest.mark.parametrize(
    ("sig", "lab"),
    [
        (signal.SIGINT, ["syn-queue", "--backlog", "4096", "--syns", "10000"]),
        (signal.SIGTERM, ["syn-queue", "--backlog", "4096", "--syns", "10000"]),
        (signal.SIGTERM, ["final-ack", "--backlog", "50", "--clients", "500"]),
        (signal.SIGINT, ["reuseport", "--listeners", "8", "--clients", "2000"]),
        (signal.SIGTERM, ["reuseport", "--listeners", "8", "--clients", "2000", "--close-first", "--migrate-req", "1", "--pending", "1000"]),
        (signal.SIGTERM, ["final-ack", "--no-data", "--backlog", "50", "--clients", "500"]),
        (signal.SIGINT, ["final-ack", "--fastopen", "1000", "--clients", "1000"]),
        (signal.SIGINT, ["ports", "--ports", "1000", "--tw-reuse", "2"]),
    ],
)
def test_interrupted_run_removes_its_namespace(sig, lab, lab_namespaces) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.Popen(
        [sys.executable, "-m", "explorer", "lab", *lab],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(200):  # until its namespace exists (bounded), or it has finished
            if lab_namespaces(proc.pid) or proc.poll() is not None:
                break
            time.sleep(0.025)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode in (0, 130, 143), err
    assert lab_namespaces(proc.pid) == []
