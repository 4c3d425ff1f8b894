"""The client-ports lab, run for real in its own network namespace (root), against the vendored __inet_hash_connect."""

from __future__ import annotations

import json
import os
import re

import pytest

from explorer.cli import main
from explorer.labs import LabError
from explorer.labs.ports import LOW, MAX_PORTS, ports_lab
from explorer.labs.results import PortsResult, from_json


def test_the_vendored_search_walks_an_even_half_open_range(vendored_source) -> None:  # type: ignore[no-untyped-def]
    """What the prediction rests on: [low, high] made half-open, its size rounded down to even, low parity first."""
    body = vendored_source("__inet_hash_connect")
    assert re.search(r"high\+\+;.*\n\s*remaining = high - low;\s*\n\s*if \(likely\(remaining > 1\)\)\s*\n\s*remaining &= ~1U;", body)
    assert "offset &= ~1U;" in body and re.search(r"for \(i = 0; i < remaining; i \+= 2, port \+= 2\)", body)
    unique = vendored_source("tcp_twsk_unique")
    assert "reuse == 2" in unique and "tw_ts_recent_stamp" in unique


@pytest.mark.usefixtures("netns_capable")
@pytest.mark.parametrize("ports", [2, 8])
def test_each_destination_gets_the_whole_range_and_shares_it(ports, code, lab_namespaces) -> None:  # type: ignore[no-untyped-def]
    r = ports_lab(ports, code=code)
    assert r.port_range == (LOW, LOW + ports - 1)
    assert r.connected_first == ports and r.first_error == "EADDRNOTAVAIL"  # the whole (even) range, then no port
    assert sorted(r.source_ports_first) == list(range(LOW, LOW + ports))
    assert r.first_pass_parity == ports // 2  # the low end's parity first
    assert all(p % 2 == LOW % 2 for p in r.source_ports_first[: ports // 2])
    assert r.connected_second == ports and r.shared_ports == ports  # the same ports again, for another destination
    assert r.tw_reuse is None and r.tw_reused is None
    assert r.agrees and all(r.agrees.values()), r.agrees
    assert lab_namespaces(os.getpid()) == []


@pytest.mark.usefixtures("netns_capable")
def test_an_odd_range_fits_at_least_all_but_one(code) -> None:  # type: ignore[no-untyped-def]
    ports = 5
    r = ports_lab(ports, code=code)
    assert ports - 1 <= r.connected_first <= ports and r.first_error == "EADDRNOTAVAIL"
    assert r.predicted.get("connected_first_at_least") == ports - 1  # what the vendored code promises
    assert r.agrees.get("connected_first") is True


@pytest.mark.usefixtures("netns_capable")
@pytest.mark.parametrize(("reuse", "taken"), [(2, 1), (1, 1), (0, 0)])
def test_time_wait_is_taken_over_as_tcp_tw_reuse_says(reuse, taken, code, lab_namespaces) -> None:  # type: ignore[no-untyped-def]
    r = ports_lab(4, tw_reuse=reuse, code=code)
    assert r.tw_reuse == reuse and r.tcp_timestamps == 1
    assert r.tw_port is not None  # the 4-tuple really waited in TIME-WAIT
    assert r.tw_reused == taken and r.tw_recycled == taken
    assert (r.new_port == r.tw_port) if taken else r.new_port is None  # the only port left was the TIME-WAIT's
    assert r.agrees and all(r.agrees.values()), r.agrees
    assert lab_namespaces(os.getpid()) == []


def test_the_vendored_tcp_v4_err_converts_unreachable_codes(vendored_source) -> None:  # type: ignore[no-untyped-def]
    assert "err = icmp_err_convert[code].errno;" in vendored_source("tcp_v4_err")


@pytest.mark.usefixtures("netns_capable")
def test_icmp_errors_end_the_attempt_in_syn_sent(code, lab_namespaces) -> None:  # type: ignore[no-untyped-def]
    from explorer.labs.ports import ICMP_CODES

    r = ports_lab(2, icmp=True, code=code)
    assert list(r.icmp_errors) == [name for name, _ in ICMP_CODES]
    # each attempt ended with the code's own error, not a timeout after retried SYNs
    assert all(error and error != "ETIMEDOUT" for error in r.icmp_errors.values()), r.icmp_errors
    assert r.icmp_errors["port-unreachable"] == "ECONNREFUSED" and r.icmp_errors["host-unreachable"] == "EHOSTUNREACH"
    assert r.icmp_predicted == r.icmp_errors and r.agrees.get("icmp_errors") is True  # as the vendored icmp_err_convert says
    assert lab_namespaces(os.getpid()) == []


@pytest.mark.usefixtures("netns_capable")
def test_the_sysctls_are_set_inside_the_namespace_only() -> None:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f, open("/proc/sys/net/ipv4/tcp_tw_reuse") as g:
        before = (f.read(), g.read())
    ports_lab(2, tw_reuse=1 if before[1].strip() != "1" else 0)
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f, open("/proc/sys/net/ipv4/tcp_tw_reuse") as g:
        assert (f.read(), g.read()) == before


@pytest.mark.usefixtures("netns_capable")
def test_json_keys(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["lab", "ports", "--ports", "4", "--tw-reuse", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("ports", "port_range", "source_ports_first", "connected_first", "first_error", "connected_second", "shared_ports",
                "first_pass_parity", "tw_reuse", "tw_port", "new_port", "tw_reused", "tw_recycled", "kernel"):
        assert key in data, key
    assert data["ports"] == 4 and data["kernel"] == os.uname().release
    assert from_json(PortsResult, data).source_ports_first == tuple(data["source_ports_first"])


@pytest.mark.parametrize(
    ("argv", "needle"),
    [(["--ports", "1"], "--ports 1"), (["--ports", str(MAX_PORTS + 1)], f"{MAX_PORTS:,}"), (["--tw-reuse", "3"], "--tw-reuse 3")],
)
def test_nonsense_is_refused(argv, needle, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["lab", "ports", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.startswith("kexplore lab: ") and err.count("\n") == 1


def test_without_root_it_says_so_and_exits_2(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError) as info:
        ports_lab(4)
    assert info.value.exit_code == 2 and "needs root" in str(info.value)
