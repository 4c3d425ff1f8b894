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
