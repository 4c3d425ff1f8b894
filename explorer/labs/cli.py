"""`kexplore lab list | accept-queue | syn-queue | record`.

`add_lab_parser` is the one hook explorer/cli.py calls; it imports nothing heavy, so
`kexplore lookup` stays fast.  The lab modules load inside the command that runs them.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from ..console import EXIT_OK, EXIT_USAGE, emit_json, err
from . import LABS, MAX_CLIENTS, MAX_SYNS, LabError
from .results import AcceptQueueSettings, FinalAckSettings, PortsSettings, ReuseportSettings, SynQueueSettings

if TYPE_CHECKING:
    from ..config import Project
    from .code import KernelCode
    from .results import (
        AcceptQueueResult,
        Explanation,
        FinalAckResult,
        PortsResult,
        ReuseportResult,
        SynQueueResult,
        VendoredKernel,
    )

PROG = "kexplore lab"
WIDTH = 100
R = TypeVar("R", "AcceptQueueResult", "SynQueueResult", "FinalAckResult", "ReuseportResult", "PortsResult")


def _int(text: str) -> int:
    """Any integer: the labs refuse nonsense values themselves, with a message saying why."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


@dataclass(frozen=True)
class Option:
    """One option of a lab command: an integer with a metavar, or (`switch`) a flag."""

    flag: str
    help: str
    default: int | None = None
    metavar: str = "N"
    switch: bool = False

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        if self.switch:
            parser.add_argument(self.flag, action="store_true", help=self.help)
        else:
            parser.add_argument(self.flag, type=_int, default=self.default, metavar=self.metavar, help=self.help)


@dataclass(frozen=True)
class LabCommand(Generic[R]):
    """A lab as a `kexplore lab` subcommand: its options, how they become a run, how its result prints."""

    name: str
    help: str
    description: str
    options: tuple[Option, ...]
    run: Callable[[argparse.Namespace, KernelCode], R]
    format: Callable[[R], str]

    def add_to(self, labs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
        p = labs.add_parser(self.name, parents=[common], help=self.help, description=self.description)
        for option in self.options:
            option.add_to(p)
        p.set_defaults(func=self.command)

    def command(self, project: Project, args: argparse.Namespace) -> int:
        """The one routine behind every lab command: run it against the vendored code, print text or JSON."""

        def body() -> int:
            from .code import KernelCode

            with KernelCode(project, args.kernel) as code:
                result = self.run(args, code)
            if args.json:
                emit_json(asdict(result))
            else:
                print(self.format(result))
            return EXIT_OK

        return _run(body)


def add_lab_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """Add `lab` and its subcommands to kexplore's subparsers; `common` gives --json/--kernel/--snippets."""
    lab = sub.add_parser(
        "lab",
        help="live loopback experiments: backlog, accept queue, SYN queue, final ACK, SO_REUSEPORT, client ports, on this machine's kernel",
        description="Run a small experiment on this machine's kernel and explain each observation with the "
        "vendored code that decides it. `kexplore lab list` shows the labs.",
    )
    # `kexplore lab` alone prints help; main() reads these attributes before dispatching.
    lab.set_defaults(func=_cmd_lab_help, json=False, kernel=None, snippets=None, _lab_parser=lab)
    labs = lab.add_subparsers(dest="lab", metavar="LAB")

    p = labs.add_parser("list", parents=[common], help="the labs, what they show, whether they need root")
    p.set_defaults(func=cmd_lab_list)

    ACCEPT_QUEUE.add_to(labs, common)
    SYN_QUEUE.add_to(labs, common)
    FINAL_ACK.add_to(labs, common)
    REUSEPORT.add_to(labs, common)
    PORTS.add_to(labs, common)

    p = labs.add_parser(
        "record",
        parents=[common],
        help="run every lab this user can run and write the results for the site",
        description="Run the labs with the settings the site shows and write one JSON file per lab "
        "(default build/labs/, git-ignored). The labs that need root are recorded as skipped without it.",
    )
    p.add_argument("--out", type=Path, metavar="DIR", help="where to write LAB.json (default: build/labs/ in the checkout)")
    p.set_defaults(func=cmd_lab_record)


def _cmd_lab_help(project: Project, args: argparse.Namespace) -> int:
    args._lab_parser.print_help(sys.stderr)
    return EXIT_USAGE


def _run(body: Callable[[], int]) -> int:
    from .netns import Terminated

    try:
        return int(body())
    except LabError as exc:
        err(str(exc), prog=PROG)
        return exc.exit_code
    except Terminated as exc:
        err(f"stopped by {exc}; the lab's sockets and namespace were cleaned up", prog=PROG)
        return 128 + 15


# ---------------------------------------------------------------- commands


def cmd_lab_list(project: Project, args: argparse.Namespace) -> int:
    if args.json:
        emit_json([asdict(lab) for lab in LABS])
        return EXIT_OK
    for lab in LABS:
        root = " (needs root)" if lab.needs_root else ""
        print(f"{lab.name}{root}: {lab.title}")
        print(textwrap.fill(lab.summary, WIDTH, initial_indent="    ", subsequent_indent="    "))
        print(f"    try: {lab.command}")
        print(f"    code: {', '.join(lab.symbols)}")
    return EXIT_OK


def cmd_lab_record(project: Project, args: argparse.Namespace) -> int:
    def body() -> int:
        from .record import record_labs

        written = record_labs(project, args.out, kernel=args.kernel)
        if args.json:
            emit_json({name: str(path) for name, path in written.items()})
        else:
            for name, path in written.items():
                print(f"{name}: {path}")
        return EXIT_OK

    return _run(body)


# ---------------------------------------------------------------- text output


def kernel_note(running: str, vendored: VendoredKernel | None) -> str:
    """One line: the running kernel, the vendored code the explanations quote, and whether they differ."""
    from .code import same_series

    if vendored is None:
        return f"running kernel {running}; no vendored kernel to compare with"
    version = vendored.version or vendored.name
    index = "" if vendored.indexed else " (not indexed: run `kexplore index` for file:line links)"
    if same_series(running, vendored.version):
        return f"running kernel {running}; code quoted from {vendored.name} ({version}), the same series{index}"
    return (
        f"running kernel {running}; code quoted from {vendored.name} ({version}): the running kernel differs "
        f"from the vendored one, so the code that decided these numbers may differ too{index}"
    )


def _mark(predicted: dict[str, int], agrees: dict[str, bool], key: str) -> str:
    if key not in agrees:
        return ""
    at_least = f"{key}_at_least" in predicted and key not in predicted
    want = predicted[f"{key}_at_least"] if at_least else predicted.get(key)
    return f"predicted {'at least ' if at_least else ''}{want}: " + ("agrees" if agrees[key] else "DIFFERS")


def _explanations(explanations: tuple[Explanation, ...]) -> list[str]:
    lines = ["", "Why:"]
    for item in explanations:
        lines.append(textwrap.fill(item.text, WIDTH, initial_indent="  * ", subsequent_indent="    "))
        lines += [f"      -> {ref.symbol}  {ref.path}:{ref.line}" if ref.path else f"      -> {ref.symbol}  (not in the index)" for ref in item.code]
    return lines


def format_accept_queue(r: AcceptQueueResult) -> str:
    where = "a private network namespace" if r.netns == "private" else "this network namespace"
    rows: list[tuple[str, int | str, str]] = [
        ("backlog asked", r.backlog, ""),
        ("net.core.somaxconn", r.somaxconn, ""),
        ("effective backlog", r.effective_backlog, "ss -lnt Send-Q; " + _mark(r.predicted, r.agrees, "effective_backlog")),
        ("queued (accept queue)", r.queued, "ss -lnt Recv-Q; " + _mark(r.predicted, r.agrees, "queued")),
        ("clients in SYN-SENT", r.syn_sent, _mark(r.predicted, r.agrees, "syn_sent")),
        ("ListenOverflows", f"+{r.overflows}", _mark(r.predicted, r.agrees, "overflows")),
        ("ListenDrops", f"+{r.drops}", ""),
    ]
    lines = [
        f"accept-queue lab: listen({'::1' if r.ipv6 else '::ffff:127.0.0.1' if r.v4_mapped else '127.0.0.1'}, backlog {r.backlog}), "
        f"{r.clients} {'IPv4 ' if r.v4_mapped else ''}clients connect, nobody accepts ({where})",
        kernel_note(r.kernel, r.vendored_kernel),
        "",
    ]
    lines += [f"  {label:<24}{value!s:>8}   {note}".rstrip() for label, value, note in rows]
    if r.server_syn_recv:
        lines.append(f"  {'server SYN-RECV':<24}{r.server_syn_recv:>8}   handshakes whose final ACK met a full queue")
    if r.v4_mapped:
        lines.append(f"  {'accepted peer':<24}{r.accepted_peer or '-':>8}   what accept() returned for one child, after looking")
    return "\n".join(lines + _explanations(r.explanations))


def format_syn_queue(r: SynQueueResult) -> str:
    lines = [
        f"syn-queue lab: {r.syns} {'IPv6' if r.ipv6 else 'IPv4'} SYNs that never complete, to a listener with backlog {r.backlog} "
        f"(applied: {r.effective_backlog}), in a private network namespace",
        f"somaxconn {r.somaxconn}, tcp_max_syn_backlog {r.tcp_max_syn_backlog}",
        kernel_note(r.kernel, r.vendored_kernel),
        "",
        f"  {'SYN cookies':<12}{'SYN-RECV':>9}{'ListenDrops':>13}{'ReqQFullDrop':>14}{'ReqQFullDoCookies':>19}{'SyncookiesSent':>16}   predicted",
    ]
    for run in r.runs:
        wrong = [key for key, ok in run.agrees.items() if not ok]
        verdict = "" if not run.agrees else ("DIFFERS: " + ", ".join(wrong) if wrong else "agrees")
        lines.append(
            f"  {'on' if run.cookies else 'off':<12}{run.syn_recv:>9}{run.drops:>13}{run.reqq_full_drop:>14}"
            f"{run.reqq_full_do_cookies:>19}{run.cookies_sent:>16}   {verdict}"
        )
    return "\n".join(lines + _explanations(r.explanations))


def _format_fastopen(r: FinalAckResult) -> str:
    rows: list[tuple[str, int | str, str]] = [
        ("TCP_FASTOPEN (max_qlen)", f"{r.fastopen} ({r.fastopen_max_qlen})", _mark(r.predicted, r.agrees, "fastopen_max_qlen")),
        ("Fast Open clients", r.clients, ""),
        ("children before final ACK", r.fastopen_children, _mark(r.predicted, r.agrees, "fastopen_children")),
        ("requests (no Fast Open)", r.fastopen_requests, _mark(r.predicted, r.agrees, "fastopen_requests")),
        ("TCPFastOpenPassive", f"+{r.fastopen_passive}", _mark(r.predicted, r.agrees, "fastopen_passive")),
        ("TCPFastOpenListenOverflow", f"+{r.fastopen_listen_overflow}", _mark(r.predicted, r.agrees, "fastopen_listen_overflow")),
        ("accepted in SYN_RECV", r.accepted_syn_recv, _mark(r.predicted, r.agrees, "accepted_syn_recv")),
        ("data read before ACK", r.data_before_handshake, _mark(r.predicted, r.agrees, "data_before_handshake")),
        ("ESTABLISHED after ACK", r.established_after_release, _mark(r.predicted, r.agrees, "established_after_release")),
    ]
    lines = [
        f"final-ack lab, Fast Open: {r.clients} clients send a SYN with data to a listener with TCP_FASTOPEN {r.fastopen}, "
        "their final ACKs held back (a private network namespace)",
        kernel_note(r.kernel, r.vendored_kernel),
        "",
    ]
    lines += [f"  {label:<27}{value!s:>8}   {note}".rstrip() for label, value, note in rows]
    return "\n".join(lines + _explanations(r.explanations))


def format_final_ack(r: FinalAckResult) -> str:
    if r.fastopen is not None:
        return _format_fastopen(r)
    rows: list[tuple[str, int | str, str]] = [
        ("accept queue filled", f"{r.queued}/{r.effective_backlog}", "Recv-Q/Send-Q: full"),
        ("late clients", r.clients, ""),
        ("still ESTABLISHED", r.established, _mark(r.predicted, r.agrees, "established")),
        ("reset (ECONNRESET)", r.reset, _mark(r.predicted, r.agrees, "reset")),
        ("server SYN-RECV", r.server_syn_recv, _mark(r.predicted, r.agrees, "server_syn_recv")),
        ("ListenOverflows", f"+{r.listen_overflows}", _mark(r.predicted, r.agrees, "listen_overflows")),
        ("TCPSynRetrans", f"+{r.synack_retransmits}", _mark(r.predicted, r.agrees, "synack_retransmits")),
        ("EmbryonicRsts", f"+{r.embryonic_rsts}", _mark(r.predicted, r.agrees, "embryonic_rsts")),
    ]
    if r.completed_after_accept is not None:
        rows.append(("completed after accept", r.completed_after_accept, _mark(r.predicted, r.agrees, "completed_after_accept")))
        rows.append(("last completed after", "-" if r.completed_seconds is None else f"{r.completed_seconds} s", "from the room to the last completion"))
        rows.append(("SYN-ACKs resent after", f"+{r.synack_retransmits_after_accept}", _mark(r.predicted, r.agrees, "synack_retransmits_after_accept") or "TCPSynRetrans once there was room"))
    lines = [
        f"final-ack lab: backlog {r.backlog}, accept queue full, {r.clients} more clients send their final ACK"
        + ("" if r.client_data else " (no data: the ACK of a retransmitted SYN-ACK)")
        + ", "
        f"net.ipv4.tcp_abort_on_overflow = {r.abort_on_overflow} (a private network namespace; watched {r.watched_seconds} s)",
        kernel_note(r.kernel, r.vendored_kernel),
        "",
    ]
    lines += [f"  {label:<24}{value!s:>8}   {note}".rstrip() for label, value, note in rows]
    return "\n".join(lines + _explanations(r.explanations))


def format_reuseport(r: ReuseportResult) -> str:
    if r.close_first:
        return _format_reuseport_close(r)
    lines = [
        f"reuseport lab: {r.listeners} SO_REUSEPORT listeners on 127.0.0.1:{r.port}, {r.clients} connections "
        "(a private network namespace)",
        kernel_note(r.kernel, r.vendored_kernel),
        "",
    ]
    lines += [f"  listener {i + 1:<15}{n:>8}" for i, n in enumerate(r.per_listener)]
    lines.append(f"  {'accepted in all':<24}{sum(r.per_listener):>8}   {_mark(r.predicted, r.agrees, 'accepted')}".rstrip())
    lines.append(
        f"  {'same listener again':<24}{r.same_listener_again:>8}   of {r.repeated} reconnections from the same port; "
        + _mark(r.predicted, r.agrees, "same_listener_again")
    )
    return "\n".join(lines + _explanations(r.explanations))


def _format_reuseport_close(r: ReuseportResult) -> str:
    rows: list[tuple[str, int | str, str]] = [
        ("tcp_migrate_req", r.migrate_req if r.migrate_req is not None else "-", ""),
        ("accept queue at close", r.queued_at_close, "listener 1's Recv-Q"),
        ("SYN queue at close", r.syn_recv_at_close, "listener 1's requests (SYN-RECV)"),
        ("queued: reset", r.reset_queued, _mark(r.predicted, r.agrees, "reset_queued")),
        ("queued: migrated", r.migrated_queued, _mark(r.predicted, r.agrees, "migrated_queued")),
        ("pending: reset", r.reset_pending, _mark(r.predicted, r.agrees, "reset_pending")),
        ("pending: migrated", r.migrated_pending, _mark(r.predicted, r.agrees, "migrated_pending")),
        ("TCPMigrateReqSuccess", f"+{r.migrate_req_success}", _mark(r.predicted, r.agrees, "migrate_req_success")),
        ("TCPMigrateReqFailure", f"+{r.migrate_req_failure}", ""),
    ]
    lines = [
        f"reuseport lab: listener 1 of {r.listeners} on 127.0.0.1:{r.port} closes with {r.clients} queued connections and "
        f"{r.pending} pending handshakes (a private network namespace)",
        kernel_note(r.kernel, r.vendored_kernel),
        "",
    ]
    lines += [f"  {label:<24}{value!s:>8}   {note}".rstrip() for label, value, note in rows]
    lines += [f"  listener {i + 1:<15}{n:>8}   accepted after the close" for i, n in enumerate(r.per_listener)]
    return "\n".join(lines + _explanations(r.explanations))


def format_ports(r: PortsResult) -> str:
    rows: list[tuple[str, int | str, str]] = [
        ("ip_local_port_range", f"{r.port_range[0]}-{r.port_range[1]}", f"{r.ports} ports"),
        ("first destination", r.connected_first, f"then {r.first_error or '-'}; " + _mark(r.predicted, r.agrees, "connected_first")),
        ("low-end parity first", r.first_pass_parity, _mark(r.predicted, r.agrees, "first_pass_parity")),
        ("second destination", r.connected_second, f"then {r.second_error or '-'}; " + _mark(r.predicted, r.agrees, "connected_second")),
        ("ports shared by both", r.shared_ports, _mark(r.predicted, r.agrees, "shared_ports")),
    ]
    if r.tw_reuse is not None:
        rows += [
            ("tcp_tw_reuse", r.tw_reuse, f"tcp_timestamps {r.tcp_timestamps}"),
            ("TIME-WAIT taken over", r.tw_reused if r.tw_reused is not None else "-", f"port {r.tw_port} -> {r.new_port}; " + _mark(r.predicted, r.agrees, "tw_reused")),
            ("TWRecycled", f"+{r.tw_recycled}", _mark(r.predicted, r.agrees, "tw_recycled")),
        ]
    lines = [
        f"ports lab: unbound clients connect to 127.0.0.1:{r.destinations[0]} and :{r.destinations[1]} with a range of {r.ports} "
        "ports (a private network namespace)",
        kernel_note(r.kernel, r.vendored_kernel),
        "",
        f"  source ports, first destination: {', '.join(str(p) for p in r.source_ports_first)}",
    ]
    lines += [f"  {label:<24}{value!s:>12}   {note}".rstrip() for label, value, note in rows]
    for name, error in r.icmp_errors.items():
        want = r.icmp_predicted.get(name)
        mark = "" if want is None else f"predicted {want}: " + ("agrees" if want == error else "DIFFERS")
        lines.append(f"  {'ICMP ' + name:<24}{error or '-':>12}   {mark}".rstrip())
    return "\n".join(lines + _explanations(r.explanations))


# ---------------------------------------------------------------- the table of lab commands


def _accept_queue(args: argparse.Namespace, code: KernelCode) -> AcceptQueueResult:
    return AcceptQueueSettings(args.backlog, args.clients, args.netns, args.somaxconn, args.ipv6, args.v4_mapped).run(code)


def _syn_queue(args: argparse.Namespace, code: KernelCode) -> SynQueueResult:
    return SynQueueSettings(args.backlog, args.syns, args.somaxconn, args.max_syn_backlog, args.ipv6).run(code)


def _final_ack(args: argparse.Namespace, code: KernelCode) -> FinalAckResult:
    return FinalAckSettings(args.backlog, args.clients, args.abort_on_overflow, args.no_data, args.fastopen).run(code)


def _ports(args: argparse.Namespace, code: KernelCode) -> PortsResult:
    return PortsSettings(args.ports, args.tw_reuse, args.icmp).run(code)


def _reuseport(args: argparse.Namespace, code: KernelCode) -> ReuseportResult:
    return ReuseportSettings(args.listeners, args.clients, args.close_first, args.migrate_req, args.pending).run(code)


ACCEPT_QUEUE = LabCommand(
    name="accept-queue",
    help="listen with backlog N, connect M clients, accept none, and look",
    description="Listen on 127.0.0.1 with backlog N, open M client connections without accepting, then "
    "observe the backlog the kernel applied, the accept queue, the clients stuck in SYN-SENT and the "
    "TcpExt ListenOverflows/ListenDrops deltas. Needs no root (except --netns).",
    options=(
        Option("--backlog", f"listen() backlog (default {AcceptQueueSettings.backlog})", default=AcceptQueueSettings.backlog),
        Option("--clients", f"client connections (default: backlog + 5, at most {MAX_CLIENTS:,})", metavar="M"),
        Option("--netns", "run in a private network namespace (root): counters count only the lab", switch=True),
        Option("--somaxconn", "set net.core.somaxconn inside the private namespace (with --netns)"),
        Option("--ipv6", "listen and connect on ::1 instead of 127.0.0.1", switch=True),
        Option("--v4-mapped", "an IPv6 listener (IPV6_V6ONLY off) on ::ffff:127.0.0.1, IPv4 clients; accepts one child to show its peer", switch=True),
    ),
    run=_accept_queue,
    format=format_accept_queue,
)
SYN_QUEUE = LabCommand(
    name="syn-queue",
    help="half-open connections (SYN-RECV), SYN cookies off then on (root)",
    description="In a private network namespace (root), send SYNs that never complete to a listener and "
    "count the SYN-RECV requests the kernel keeps against backlog, somaxconn and tcp_max_syn_backlog, "
    "with SYN cookies off and then on.",
    options=(
        Option("--backlog", f"listen() backlog (default {SynQueueSettings.backlog})", default=SynQueueSettings.backlog),
        Option("--syns", f"SYNs to send (default {SynQueueSettings.syns}, at most {MAX_SYNS:,})", default=SynQueueSettings.syns, metavar="M"),
        Option("--somaxconn", "net.core.somaxconn inside the lab's namespace"),
        Option("--max-syn-backlog", "net.ipv4.tcp_max_syn_backlog inside the lab's namespace"),
        Option("--ipv6", "listen on ::1 and send IPv6 SYNs (tcp_v6_conn_request) instead of IPv4", switch=True),
    ),
    run=_syn_queue,
    format=format_syn_queue,
)
FINAL_ACK = LabCommand(
    name="final-ack",
    help="final ACKs that meet a full accept queue: tcp_abort_on_overflow 0 (dropped, retried) or 1 (reset) (root)",
    description="In a private network namespace (root), fill the accept queue of a listener that never accepts, "
    "then let M more clients complete their handshakes, with net.ipv4.tcp_abort_on_overflow set to 0 or 1 inside "
    "the namespace; count the clients still ESTABLISHED and those reset, the listener's requests, SYN-ACK "
    "retransmissions and ListenOverflows.",
    options=(
        Option("--backlog", f"listen() backlog (default {FinalAckSettings.backlog}, at most 1,000)", default=FinalAckSettings.backlog),
        Option("--clients", f"late clients whose final ACK meets the full queue (default {FinalAckSettings.clients}, at most 1,000)", default=FinalAckSettings.clients, metavar="M"),
        Option("--abort-on-overflow", "net.ipv4.tcp_abort_on_overflow inside the namespace: 0 or 1 (default 0)", default=FinalAckSettings.abort_on_overflow, metavar="0|1"),
        Option(
            "--no-data",
            "the late clients send nothing: their final ACK is the one answering the listener's retransmitted SYN-ACK "
            "(takes a few seconds longer: SYN-ACKs are resent 1, 3, 7 s after the SYN)",
            switch=True,
        ),
        Option(
            "--fastopen",
            "the late clients send their SYN with data (TCP Fast Open) to a listener with TCP_FASTOPEN Q: children in "
            "SYN_RECV before the final ACK, TCPFastOpenListenOverflow beyond Q (at most 1,000)",
            metavar="Q",
        ),
    ),
    run=_final_ack,
    format=format_final_ack,
)
REUSEPORT = LabCommand(
    name="reuseport",
    help="N SO_REUSEPORT listeners on one port, M connections: who accepts which (root)",
    description="In a private network namespace (root), N sockets with SO_REUSEPORT listen on one port and M "
    "clients connect; count the connections each listener accepts (in the order they listened), then reconnect "
    "every client from the same source port and check it reaches the same listener. With --close-first: "
    "listener 1 alone gets M connections (its accept queue) and K pending handshakes (its SYN queue), the others join, "
    "listener 1 closes, and the lab shows what became of them with net.ipv4.tcp_migrate_req 0 (reset) or 1 (migrated).",
    options=(
        Option("--listeners", f"SO_REUSEPORT listeners (default {ReuseportSettings.listeners}, at most 64)", default=ReuseportSettings.listeners),
        Option("--clients", f"connections (default {ReuseportSettings.clients}, at most 2,000)", default=ReuseportSettings.clients, metavar="M"),
        Option("--close-first", "close listener 1 with M connections in its accept queue and K in its SYN queue (needs nftables)", switch=True),
        Option("--migrate-req", "net.ipv4.tcp_migrate_req inside the lab's namespace, 0 or 1 (default 0; with --close-first)", metavar="0|1"),
        Option("--pending", "handshakes waiting in listener 1's SYN queue when it closes (default 2, at most 1,000; with --close-first)", metavar="K"),
    ),
    run=_reuseport,
    format=format_reuseport,
)
PORTS = LabCommand(
    name="ports",
    help="the client's source port: a narrowed ip_local_port_range, EADDRNOTAVAIL, TIME-WAIT reuse (root)",
    description="In a private network namespace (root), narrow net.ipv4.ip_local_port_range to N ports and connect "
    "unbound clients to two destinations until connect() fails: which source ports they get, in which order, and how "
    "the two destinations share them. With --tw-reuse, one connection closed by its client waits in TIME-WAIT and a "
    "new connection to the same destination takes it over, or not, as net.ipv4.tcp_tw_reuse says.",
    options=(
        Option("--ports", f"ports in the lab's ip_local_port_range, 40000 and up (default {PortsSettings.ports}, 2 to 1,000)", default=PortsSettings.ports),
        Option("--tw-reuse", "net.ipv4.tcp_tw_reuse inside the namespace, 0, 1 or 2, and run the TIME-WAIT step (waits a second)", metavar="0|1|2"),
        Option("--icmp", "also answer SYNs with ICMP destination-unreachable errors (nftables) and show connect()'s error for each", switch=True),
    ),
    run=_ports,
    format=format_ports,
)
