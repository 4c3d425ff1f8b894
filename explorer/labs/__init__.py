"""Labs: live loopback experiments on the reader's own kernel, each observation linked to the code that decides it.

Importing this package is cheap (the CLI imports it to build its parser): the modules that
open sockets, enter namespaces or read the index load only when a lab runs.

Public surface:

- `LABS`, `lab_info(name)`: what labs exist (`kexplore lab list`).
- `explorer.labs.accept_queue.accept_queue_lab(...)`, `explorer.labs.syn_queue.syn_queue_lab(...)`,
  `final_ack.final_ack_lab`, `reuseport.reuseport_lab`, `ports.ports_lab`: run one lab, return its result (`explorer.labs.results`: frozen dataclasses, `asdict()` for JSON).
- `explorer.labs.render.render_lab_markdown(project, results)`: Markdown for a lab's page
  in the site (code excerpts from the vendored kernel and recorded results).
"""

from __future__ import annotations

from dataclasses import dataclass

# Bounds on what a lab may be asked to do (issue 6, "Safety").
MAX_CLIENTS = 10_000
MAX_SYNS = 10_000
MAX_BACKLOG = 2**31 - 1  # listen(2) takes an int


class LabError(Exception):
    """A lab refused to run or failed; exit_code 2 for refused arguments or missing root, 1 otherwise."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def check_backlog(backlog: int) -> None:
    """Refuse (exit 2) a backlog listen(2) cannot take as asked."""
    if backlog < 0:
        raise LabError(f"--backlog {backlog}: a backlog cannot be negative (listen(2) would treat it as huge and clamp it)", exit_code=2)
    if backlog > MAX_BACKLOG:
        raise LabError(f"--backlog {backlog}: listen(2) takes an int; at most {MAX_BACKLOG}", exit_code=2)


def check_range(option: str, value: int | None, low: int, high: int = MAX_BACKLOG) -> None:
    """Refuse (exit 2) an option's value outside low..high; None (not given) passes."""
    if value is not None and not low <= value <= high:
        raise LabError(f"{option} {value}: between {low:,} and {high:,}, please", exit_code=2)


@dataclass(frozen=True)
class LabInfo:
    """One lab, as `kexplore lab list` and the site describe it."""

    name: str
    title: str
    summary: str
    needs_root: bool
    command: str
    symbols: tuple[str, ...]


LABS: tuple[LabInfo, ...] = (
    LabInfo(
        name="accept-queue",
        title="The accept queue: what backlog means",
        summary="Listen on 127.0.0.1 with backlog N, connect M clients without accepting, and watch the "
        "accept queue hold N + 1 connections, the rest wait in SYN-SENT, and a backlog above "
        "net.core.somaxconn get clamped to it.",
        needs_root=False,
        command="kexplore lab accept-queue --backlog 4 --clients 9",
        symbols=(
            "__sys_listen",
            "inet_listen",
            "sk_acceptq_is_full",
            "tcp_conn_request",
            "tcp_listendrop",
            "tcp_v4_syn_recv_sock",
            "sk_acceptq_added",
            "tcp_diag_get_info",
        ),
    ),
    LabInfo(
        name="syn-queue",
        title="The SYN queue: pending connections and SYN cookies",
        summary="In a private network namespace, send SYNs that never complete to a listener, count the "
        "SYN-RECV entries the kernel keeps against backlog, somaxconn and tcp_max_syn_backlog, and "
        "see which counters count the drops; then turn SYN cookies on and watch them take over.",
        needs_root=True,
        command="sudo kexplore lab syn-queue --backlog 16 --syns 64",
        symbols=(
            "tcp_conn_request",
            "inet_csk_reqsk_queue_is_full",
            "inet_csk_reqsk_queue_len",
            "tcp_syn_flood_action",
            "cookie_init_sequence",
            "inet_csk_reqsk_queue_hash_add",
            "reqsk_queue_alloc",
        ),
    ),
)


LABS += (
    LabInfo(
        name="final-ack",
        title="The final ACK and a full accept queue: tcp_abort_on_overflow",
        summary="In a private network namespace, fill a listener's accept queue, then let more clients complete "
        "their handshakes: with net.ipv4.tcp_abort_on_overflow = 0 their final ACK is dropped and retried (the "
        "client thinks it is connected, the server keeps the request and retransmits its SYN-ACK, ListenOverflows "
        "grows); with 1 the client gets a reset.",
        needs_root=True,
        command="sudo kexplore lab final-ack --backlog 2 --clients 3 --abort-on-overflow 0",
        symbols=("tcp_check_req", "tcp_v4_syn_recv_sock", "sk_acceptq_is_full", "inet_csk_complete_hashdance", "inet_csk_reqsk_queue_add", "reqsk_timer_handler"),
    ),
    LabInfo(
        name="reuseport",
        title="SO_REUSEPORT: which listener gets the connection",
        summary="In a private network namespace, N listeners with SO_REUSEPORT share one port; M clients connect and "
        "the lab counts what each listener accepts, then reconnects every client from the same source port and sees "
        "it reach the same listener: the choice is a hash of the connection's addresses and ports.",
        needs_root=True,
        command="sudo kexplore lab reuseport --listeners 4 --clients 64",
        symbols=(
            "inet_lookup_reuseport",
            "reuseport_select_sock",
            "reuseport_select_sock_by_hash",
            "inet_ehashfn",
            "reuseport_add_sock",
            "inet_csk_listen_stop",
            "reuseport_migrate_sock",
        ),
    ),
    LabInfo(
        name="ports",
        title="The client's source port: ip_local_port_range and TIME-WAIT reuse",
        summary="In a private network namespace, ip_local_port_range is narrowed to N ports and unbound clients connect to "
        "two destinations until connect() fails with EADDRNOTAVAIL: each destination gets the whole range, the same ports "
        "shared, the low end's parity first; then a connection in TIME-WAIT is taken over by a new one, or not, as "
        "tcp_tw_reuse says.",
        needs_root=True,
        command="sudo kexplore lab ports --ports 8 --tw-reuse 2",
        symbols=("inet_hash_connect", "__inet_hash_connect", "__inet_check_established", "tcp_twsk_unique"),
    ),
)


def lab_info(name: str) -> LabInfo:
    for lab in LABS:
        if lab.name == name:
            return lab
    raise KeyError(name)
