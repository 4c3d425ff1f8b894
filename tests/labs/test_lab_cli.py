"""`kexplore lab ...` in-process: options, JSON keys, exit codes, messages."""

from __future__ import annotations

import json
import os

import pytest

from explorer.cli import main
from explorer.labs import MAX_CLIENTS, MAX_SYNS
from explorer.labs.record import recordings
from explorer.labs.results import AcceptQueueResult, SynQueueResult, from_json


def test_lab_list_json(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["lab", "list", "--json"]) == 0
    labs = {lab["name"]: lab for lab in json.loads(capsys.readouterr().out)}
    assert set(labs) == {"accept-queue", "syn-queue", "final-ack", "reuseport", "ports"}
    assert labs["syn-queue"]["needs_root"] is True and labs["accept-queue"]["needs_root"] is False
    assert labs["final-ack"]["needs_root"] is True and labs["reuseport"]["needs_root"] is True
    assert "tcp_check_req" in labs["final-ack"]["symbols"] and "reuseport_select_sock" in labs["reuseport"]["symbols"]
    assert "sk_acceptq_is_full" in labs["accept-queue"]["symbols"]
    assert "tcp_syn_flood_action" in labs["syn-queue"]["symbols"]


def test_lab_list_text(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["lab", "list"]) == 0
    out = capsys.readouterr().out
    assert "accept-queue" in out and "syn-queue (needs root)" in out


def test_lab_alone_prints_help(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["lab"]) == 2
    assert "accept-queue" in capsys.readouterr().err


def test_accept_queue_json_keys(capsys) -> None:  # type: ignore[no-untyped-def]
    backlog, clients = 2, 5
    assert main(["lab", "accept-queue", "--backlog", str(backlog), "--clients", str(clients), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("backlog", "effective_backlog", "queued", "syn_sent", "overflows", "drops", "kernel", "explanations"):
        assert key in data, key
    assert data["kernel"] == os.uname().release
    assert data["backlog"] == backlog and data["clients"] == clients
    assert data["queued"] + data["syn_sent"] == clients
    # the --json is the result's dataclass, field for field: it reads back as one
    assert from_json(AcceptQueueResult, data).queued == data["queued"]


def test_accept_queue_text_names_the_code(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["lab", "accept-queue", "--backlog", "1", "--clients", "3"]) == 0
    out = capsys.readouterr().out
    assert "effective backlog" in out and "sk_acceptq_is_full" in out and "__sys_listen" in out
    assert os.uname().release in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["lab", "accept-queue", "--backlog", "-1"], "negative"),
        (["lab", "accept-queue", "--clients", str(MAX_CLIENTS + 1)], f"{MAX_CLIENTS:,}"),
        (["lab", "syn-queue", "--syns", str(MAX_SYNS + 1)], f"{MAX_SYNS:,}"),
        (["lab", "syn-queue", "--backlog", "-5"], "negative"),
        (["lab", "accept-queue", "--somaxconn", "8"], "--netns"),
        (["lab", "final-ack", "--abort-on-overflow", "3"], "--abort-on-overflow 3"),
        (["lab", "reuseport", "--listeners", "0"], "--listeners 0"),
    ],
)
def test_refusals_exit_2_with_a_message(argv, needle, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.startswith("kexplore lab: ") and err.count("\n") == 1


def test_not_a_number_is_a_usage_error(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as info:
        main(["lab", "accept-queue", "--backlog", "many"])
    assert info.value.code == 2


def test_syn_queue_without_root_exits_2(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert main(["lab", "syn-queue"]) == 2
    assert "needs root" in capsys.readouterr().err


def test_accept_queue_netns_without_root_exits_2(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert main(["lab", "accept-queue", "--netns"]) == 2
    assert "root" in capsys.readouterr().err


@pytest.mark.usefixtures("netns_capable")
def test_syn_queue_json_keys(capsys) -> None:  # type: ignore[no-untyped-def]
    syns = 12
    assert main(["lab", "syn-queue", "--backlog", "4", "--syns", str(syns), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("backlog", "syns", "kernel", "runs"):
        assert key in data, key
    assert data["syns"] == syns and data["kernel"] == os.uname().release
    assert from_json(SynQueueResult, data).runs[1].cookies is True
    assert [run["cookies"] for run in data["runs"]] == [False, True]
    for run in data["runs"]:
        for key in ("cookies", "syn_recv", "drops", "cookies_sent"):
            assert key in run, key


def test_record_writes_one_file_per_lab(tmp_path, capsys, netns_missing) -> None:  # type: ignore[no-untyped-def]
    assert main(["lab", "record", "--out", str(tmp_path), "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert set(written) == {"accept-queue", "syn-queue", "final-ack", "reuseport", "ports"}
    accept = json.loads((tmp_path / "accept-queue.json").read_text())
    assert accept["lab"] == "accept-queue" and accept["kernel"] == os.uname().release
    assert accept["runs"] and all("kexplore lab accept-queue" in run["command"] for run in accept["runs"])
    clamp = accept["runs"][1]["result"]
    assert clamp["effective_backlog"] == clamp["somaxconn"] < clamp["backlog"]
    syn = json.loads((tmp_path / "syn-queue.json").read_text())
    if netns_missing is None:  # root with network namespaces (CI): recorded, cookies off and on
        assert syn["skipped"] is None
        assert len(syn["runs"]) == 3 and all(len(run["result"]["runs"]) == 2 for run in syn["runs"])
        assert [run["result"]["ipv6"] for run in syn["runs"]] == [False, False, True]
        assert all(run["command"].startswith("sudo kexplore lab syn-queue ") for run in syn["runs"])
    for lab in ("final-ack", "reuseport", "ports"):
        data = json.loads((tmp_path / f"{lab}.json").read_text())
        if netns_missing is None:
            assert data["skipped"] is None and len(data["runs"]) == len(recordings(lab, True))
            assert all(run["command"].startswith(f"sudo kexplore lab {lab} ") for run in data["runs"])
        else:
            assert data["runs"] == [] and data["skipped"]
    if netns_missing is None:
        final = [run["result"] for run in json.loads((tmp_path / "final-ack.json").read_text())["runs"]]
        assert [(r["abort_on_overflow"], r["client_data"], r["fastopen"]) for r in final] == [(0, True, None), (1, True, None), (0, False, None), (0, True, 2)]
        assert final[3]["fastopen_children"] == 2 and final[3]["fastopen_listen_overflow"] == final[3]["clients"] - 2
        assert final[0]["established"] == final[0]["clients"] and final[1]["reset"] == final[1]["clients"]
        assert final[2]["completed_after_accept"] and final[2]["synack_retransmits_after_accept"] >= final[2]["completed_after_accept"]
        closing = [run["result"] for run in json.loads((tmp_path / "reuseport.json").read_text())["runs"] if run["result"]["close_first"]]
        queued = closing[0]["clients"]
        assert [(r["migrate_req"], r["reset_queued"], r["migrated_queued"]) for r in closing] == [(0, queued, 0), (1, 0, queued)]
        ipv6 = [run for run in accept["runs"] if run["result"]["ipv6"]]
        assert len(ipv6) == 1 and "--ipv6" in ipv6[0]["command"]
        ports = [run["result"] for run in json.loads((tmp_path / "ports.json").read_text())["runs"]]
        assert [(r["tw_reuse"], r["tw_reused"]) for r in ports] == [(None, None), (2, 1), (0, 0)]
        assert ports[0]["icmp_errors"] and ports[0]["icmp_errors"] == ports[0]["icmp_predicted"]
        mapped = [run for run in accept["runs"] if run["result"]["v4_mapped"]]
        assert len(mapped) == 1 and mapped[0]["result"]["accepted_peer"] == "::ffff:127.0.0.1"
    elif os.geteuid() != 0:
        assert "root" in syn["skipped"] and syn["runs"] == []
    else:  # root in a place without network namespaces: skipped, with the reason
        assert syn["runs"] == [] and syn["skipped"]


def test_accept_queue_v4_mapped_json_keys(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["lab", "accept-queue", "--v4-mapped", "--backlog", "1", "--clients", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["v4_mapped"] is True and data["ipv6"] is False
    assert data["accepted_peer"] == "::ffff:127.0.0.1"
    assert from_json(AcceptQueueResult, data).accepted_peer == data["accepted_peer"]
