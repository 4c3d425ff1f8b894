"""The SO_REUSEPORT lab, run for real in its own network namespace (root), against the vendored selection code."""

from __future__ import annotations

import json
import os
import re

import pytest

from explorer.cli import main
from explorer.labs import LabError
from explorer.labs.results import ReuseportResult, from_json
from explorer.labs.reuseport import MAX_LISTENERS, MAX_REUSEPORT_CLIENTS, reuseport_lab


def test_the_vendored_selection_is_by_hash(vendored_source) -> None:  # type: ignore[no-untyped-def]
    assert re.search(r"reciprocal_scale\(hash, num_socks\)", vendored_source("reuseport_select_sock_by_hash"))
    assert "reuseport_select_sock_by_hash(reuse, hash, socks)" in vendored_source("reuseport_select_sock")


@pytest.mark.usefixtures("netns_capable")
@pytest.mark.parametrize(("listeners", "clients"), [(1, 5), (3, 60)])
def test_every_connection_lands_on_one_listener_and_again_on_the_same(listeners, clients, code, lab_namespaces) -> None:  # type: ignore[no-untyped-def]
    r = reuseport_lab(listeners, clients, code=code)
    assert r.listeners == listeners and len(r.per_listener) == listeners
    assert sum(r.per_listener) == clients
    assert r.repeated == clients and r.same_listener_again == clients
    if listeners == 1:
        assert r.per_listener == (clients,)
    else:  # 60 hashed draws over 3 listeners: one getting none has probability 3 * (2/3)**60, about 1e-10
        assert all(n > 0 for n in r.per_listener), r.per_listener
    assert r.agrees and all(r.agrees.values()), r.agrees
    assert lab_namespaces(os.getpid()) == []


@pytest.mark.usefixtures("netns_capable")
def test_json_keys(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["lab", "reuseport", "--listeners", "2", "--clients", "10", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("listeners", "clients", "per_listener", "kernel"):
        assert key in data, key
    assert data["listeners"] == 2 and data["clients"] == 10 and data["kernel"] == os.uname().release
    assert isinstance(data["per_listener"], list) and sum(data["per_listener"]) == 10
    assert from_json(ReuseportResult, data).per_listener == tuple(data["per_listener"])


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--listeners", "0"], "--listeners 0"),
        (["--listeners", str(MAX_LISTENERS + 1)], f"--listeners {MAX_LISTENERS + 1}"),
        (["--clients", "-3"], "--clients -3"),
        (["--clients", str(MAX_REUSEPORT_CLIENTS + 1)], f"{MAX_REUSEPORT_CLIENTS:,}"),
    ],
)
def test_nonsense_is_refused(argv, needle, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["lab", "reuseport", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.startswith("kexplore lab: ") and err.count("\n") == 1


def test_without_root_it_says_so_and_exits_2(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError) as info:
        reuseport_lab(2, 4)
    assert info.value.exit_code == 2 and "needs root" in str(info.value)


def test_the_vendored_close_path_can_migrate(vendored_source) -> None:  # type: ignore[no-untyped-def]
    """What the close prediction rests on, read from the vendored code."""
    stop = vendored_source("inet_csk_listen_stop")
    assert "reuseport_migrate_sock(sk, child, NULL)" in stop and "inet_child_forget(sk, req, child)" in stop
    assert "sysctl_tcp_migrate_req" in vendored_source("reuseport_stop_listen_sock")
    assert "reuseport_migrate_sock(sk, req_to_sk(req), skb)" in vendored_source("tcp_v4_rcv")


@pytest.mark.usefixtures("netns_capable")
@pytest.mark.parametrize("migrate", [0, 1])
def test_closing_a_listener_resets_or_migrates_its_connections(migrate, code, lab_namespaces) -> None:  # type: ignore[no-untyped-def]
    listeners, clients, pending = 3, 5, 2
    r = reuseport_lab(listeners, clients, close_first=True, migrate_req=migrate, pending=pending, code=code)
    assert (r.close_first, r.migrate_req, r.pending) == (True, migrate, pending)
    assert r.queued_at_close == clients and r.syn_recv_at_close == pending  # both queues of listener 1 held them
    assert r.per_listener[0] == 0 and len(r.per_listener) == listeners  # the closed listener accepts nothing
    if migrate:
        assert (r.migrated_queued, r.migrated_pending) == (clients, pending)  # every one accepted on another member
        assert (r.reset_queued, r.reset_pending) == (0, 0)
        assert sum(r.per_listener) == clients + pending
        assert r.migrate_req_success >= clients and r.migrate_req_failure == 0
    else:
        assert (r.reset_queued, r.reset_pending) == (clients, pending)  # every client reset
        assert (r.migrated_queued, r.migrated_pending) == (0, 0) and sum(r.per_listener) == 0
        assert r.migrate_req_success == 0
    assert r.agrees and all(r.agrees.values()), r.agrees
    assert lab_namespaces(os.getpid()) == []


@pytest.mark.usefixtures("netns_capable")
def test_the_sysctl_is_set_inside_the_namespace_only() -> None:
    with open("/proc/sys/net/ipv4/tcp_migrate_req") as f:
        before = f.read()
    reuseport_lab(2, 1, close_first=True, migrate_req=1 - int(before), pending=0)
    with open("/proc/sys/net/ipv4/tcp_migrate_req") as f:
        assert f.read() == before


@pytest.mark.usefixtures("netns_capable")
def test_close_json_keys(capsys) -> None:  # type: ignore[no-untyped-def]
    argv = ["lab", "reuseport", "--listeners", "2", "--clients", "3", "--close-first", "--migrate-req", "1", "--pending", "1", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("close_first", "migrate_req", "pending", "queued_at_close", "syn_recv_at_close", "reset_queued", "reset_pending",
                "migrated_queued", "migrated_pending", "migrate_req_success", "migrate_req_failure", "per_listener", "kernel"):
        assert key in data, key
    assert data["migrate_req"] == 1 and data["migrated_queued"] + data["reset_queued"] == 3
    assert from_json(ReuseportResult, data).migrated_queued == data["migrated_queued"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--migrate-req", "1"], "add --close-first"),
        (["--pending", "3"], "add --close-first"),
        (["--close-first", "--listeners", "1"], "at least 2 listeners"),
        (["--close-first", "--migrate-req", "2"], "--migrate-req 2"),
        (["--close-first", "--pending", "-1"], "--pending -1"),
    ],
)
def test_close_nonsense_is_refused(argv, needle, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["lab", "reuseport", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.startswith("kexplore lab: ") and err.count("\n") == 1
