"""What the labs are asked (settings) and what they answer (results), as frozen dataclasses.

One dataclass per result kind: a code reference, an explanation, an observation of the
sockets, a lab's whole result, a recorded run and a recorded file.  `asdict()` of a result
is its `--json` and the `result` of a recorded run; `from_json(cls, data)` reads such JSON
back, checking every field's type, so an old or damaged file becomes one `ResultsDamaged`
line rather than a `KeyError` deep inside the site's rendering.

Light on purpose: no sockets, no index; the CLI imports it only to type its table.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from . import LabError

if TYPE_CHECKING:
    from .code import KernelCode

D = TypeVar("D")


class ResultsDamaged(LabError):
    """A results file (or JSON given as one) that is not what `kexplore lab record` writes."""


# ---------------------------------------------------------------- parts of a result


@dataclass(frozen=True)
class CodeRef:
    """A symbol and, when the index knows it, its definition's place in the vendored tree."""

    symbol: str
    path: str | None = None
    line: int | None = None
    end_line: int | None = None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.path else "not in the index"


@dataclass(frozen=True)
class VendoredKernel:
    """The vendored kernel whose code explains a result."""

    name: str
    title: str
    version: str | None
    indexed: bool


@dataclass(frozen=True)
class Explanation:
    """Why one observation came out as it did, and the code that decides it."""

    observation: str
    text: str
    code: tuple[CodeRef, ...]


def _flags(*options: tuple[str, int | bool | None]) -> str:
    """Command-line options in order: a switch when True, `--flag N` for a number, nothing when None or False."""
    parts = []
    for flag, value in options:
        if value is True:
            parts.append(flag)
        elif value is not None and value is not False:
            parts.append(f"{flag} {value}")
    return " ".join(parts)


# ---------------------------------------------------------------- the accept-queue lab


@dataclass(frozen=True)
class AcceptQueueObservation:
    """The lab's listener, its children and its clients, as sock_diag sees them at one moment."""

    queued: int  # the listener's accept queue (ss -lnt Recv-Q)
    effective_backlog: int  # the backlog the kernel applied (ss -lnt Send-Q)
    client_established: int = 0
    client_syn_sent: int = 0
    server_established: int = 0
    server_syn_recv: int = 0


@dataclass(frozen=True, kw_only=True)
class AcceptQueueResult:
    """One run of the accept-queue lab: what was asked, what was measured, predicted, and why."""

    lab: str = "accept-queue"
    kernel: str
    port: int
    backlog: int
    somaxconn: int
    clients: int
    effective_backlog: int
    queued: int
    syn_sent: int
    established_clients: int
    server_syn_recv: int
    connect_errors: int
    overflows: int
    drops: int
    counters: dict[str, int]
    seconds: float
    netns: str = "current"
    ipv6: bool = False
    v4_mapped: bool = False  # an IPv6 listener on ::ffff:127.0.0.1, IPv4 clients
    accepted_peer: str | None = None  # with v4_mapped: the peer address accept() gave for one child
    explanations: tuple[Explanation, ...] = ()
    predicted: dict[str, int] = field(default_factory=dict)
    agrees: dict[str, bool] = field(default_factory=dict)
    vendored_kernel: VendoredKernel | None = None


@dataclass(frozen=True)
class AcceptQueueSettings:
    """What the accept-queue lab is asked: `kexplore lab accept-queue`'s options."""

    backlog: int = 4
    clients: int | None = None
    private_netns: bool = False
    somaxconn: int | None = None
    ipv6: bool = False
    v4_mapped: bool = False

    @property
    def needs_root(self) -> bool:
        return self.private_netns

    def flags(self) -> str:
        """The command-line options that repeat this run."""
        return _flags(
            ("--netns", self.private_netns),
            ("--ipv6", self.ipv6),
            ("--v4-mapped", self.v4_mapped),
            ("--somaxconn", self.somaxconn),
            ("--backlog", self.backlog),
            ("--clients", self.clients),
        )

    def run(self, code: KernelCode | None) -> AcceptQueueResult:
        from .accept_queue import accept_queue_lab

        return accept_queue_lab(
            self.backlog, self.clients, code=code, private_netns=self.private_netns, somaxconn=self.somaxconn, ipv6=self.ipv6, v4_mapped=self.v4_mapped
        )


# ---------------------------------------------------------------- the SYN-queue lab


@dataclass(frozen=True)
class ListenerObservation:
    """The SYN-queue lab's listener at one moment."""

    syn_recv: int  # request sockets (SYN-RECV) of the listener
    accept_queue: int  # its accept-queue length
    effective_backlog: int  # the backlog listen() applied


@dataclass(frozen=True)
class SynQueueSysctls:
    """The sysctls of one run's namespace, as read back after setting them."""

    tcp_syncookies: int
    somaxconn: int
    tcp_max_syn_backlog: int
    tcp_synack_retries: int


@dataclass(frozen=True)
class SynQueueRun:
    """One SYN-queue run (cookies off or on), in a namespace of its own."""

    cookies: bool
    syn_recv: int
    drops: int
    cookies_sent: int
    overflows: int
    reqq_full_drop: int
    reqq_full_do_cookies: int
    accept_queue: int
    effective_backlog: int
    syns_sent: int
    port: int
    netns: str
    synacks_dropped: int | None
    sysctls: SynQueueSysctls
    counters: dict[str, int]
    seconds: float
    predicted: dict[str, int] = field(default_factory=dict)
    agrees: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class SynQueueResult:
    """The SYN-queue lab: the same SYNs with cookies off, then on."""

    lab: str = "syn-queue"
    kernel: str
    backlog: int
    syns: int
    somaxconn: int
    tcp_max_syn_backlog: int
    effective_backlog: int
    runs: tuple[SynQueueRun, SynQueueRun]
    seconds: float
    ipv6: bool = False
    explanations: tuple[Explanation, ...] = ()
    vendored_kernel: VendoredKernel | None = None


@dataclass(frozen=True)
class SynQueueSettings:
    """What the SYN-queue lab is asked: `kexplore lab syn-queue`'s options."""

    backlog: int = 16
    syns: int = 64
    somaxconn: int | None = None
    max_syn_backlog: int | None = None
    ipv6: bool = False

    @property
    def needs_root(self) -> bool:
        return True

    def flags(self) -> str:
        """The command-line options that repeat this run."""
        return _flags(
            ("--ipv6", self.ipv6), ("--backlog", self.backlog), ("--syns", self.syns), ("--somaxconn", self.somaxconn), ("--max-syn-backlog", self.max_syn_backlog)
        )

    def run(self, code: KernelCode | None) -> SynQueueResult:
        from .syn_queue import syn_queue_lab

        return syn_queue_lab(self.backlog, self.syns, code=code, somaxconn=self.somaxconn, max_syn_backlog=self.max_syn_backlog, ipv6=self.ipv6)


# ---------------------------------------------------------------- the final-ACK lab


@dataclass(frozen=True, kw_only=True)
class FinalAckResult:
    """The final-ACK lab: late clients' final ACKs meet a full accept queue, tcp_abort_on_overflow 0 or 1."""

    lab: str = "final-ack"
    kernel: str
    backlog: int
    clients: int
    abort_on_overflow: int
    established: int  # late clients still ESTABLISHED when the lab looked
    reset: int  # late clients whose connection was reset (SO_ERROR ECONNRESET)
    listen_overflows: int
    listen_drops: int
    synack_retransmits: int  # TcpExt TCPSynRetrans after the final ACKs were let through
    embryonic_rsts: int
    completed_after_accept: int | None  # with 0: waiting requests that completed once the lab accepted (None with 1)
    server_syn_recv: int  # the listener's requests from late clients (SYN-RECV)
    request_retransmits: int  # their num_retrans as sock_diag reports it
    bytes_sent: int
    filled: int  # connections the lab put in the accept queue
    queued: int  # the accept queue when the lab looked
    effective_backlog: int
    port: int
    netns: str
    counters: dict[str, int]
    watched_seconds: float
    seconds: float
    client_data: bool = True  # False (--no-data): the final ACK is the ACK of a retransmitted SYN-ACK
    completed_seconds: float | None = None  # with 0: seconds from the room to the last completion (None: none)
    synack_retransmits_after_accept: int | None = None  # with 0: TcpExt TCPSynRetrans from the room to the end
    # --fastopen Q: the late clients send their SYN with data (Fast Open); None and zeros without it
    fastopen: int | None = None  # the TCP_FASTOPEN limit the listener set
    fastopen_max_qlen: int | None = None  # the listener's fastopenq.max_qlen, as /proc/net/tcp shows it
    fastopen_children: int = 0  # children created from the SYN, in the accept queue before any final ACK
    fastopen_requests: int = 0  # SYNs handled without Fast Open: requests in the SYN queue
    fastopen_passive: int = 0  # TcpExt TCPFastOpenPassive
    fastopen_listen_overflow: int = 0  # TcpExt TCPFastOpenListenOverflow
    accepted_syn_recv: int = 0  # children accept() returned while still in SYN_RECV
    data_before_handshake: int = 0  # bytes read from them before their handshake completed
    established_after_release: int = 0  # accepted children ESTABLISHED once the clients' ACKs got through
    explanations: tuple[Explanation, ...] = ()
    predicted: dict[str, int] = field(default_factory=dict)
    agrees: dict[str, bool] = field(default_factory=dict)
    vendored_kernel: VendoredKernel | None = None


@dataclass(frozen=True)
class FinalAckSettings:
    """What the final-ACK lab is asked: `kexplore lab final-ack`'s options."""

    backlog: int = 2
    clients: int = 3
    abort_on_overflow: int = 0
    no_data: bool = False
    fastopen: int | None = None

    @property
    def needs_root(self) -> bool:
        return True

    def flags(self) -> str:
        if self.fastopen is not None:
            return _flags(("--fastopen", self.fastopen), ("--clients", self.clients))
        return _flags(("--backlog", self.backlog), ("--clients", self.clients), ("--abort-on-overflow", self.abort_on_overflow), ("--no-data", self.no_data))

    def run(self, code: KernelCode | None) -> FinalAckResult:
        from .final_ack import final_ack_lab

        return final_ack_lab(self.backlog, self.clients, self.abort_on_overflow, code=code, client_data=not self.no_data, fastopen=self.fastopen)


# ---------------------------------------------------------------- the SO_REUSEPORT lab


@dataclass(frozen=True, kw_only=True)
class ReuseportResult:
    """The SO_REUSEPORT lab: N listeners on one port, M connections, who accepted which."""

    lab: str = "reuseport"
    kernel: str
    listeners: int
    clients: int
    per_listener: tuple[int, ...]  # accepted connections per listener, in the order they listened
    same_listener_again: int  # second connections from the same source port that reached the same listener
    repeated: int  # how many second connections were made
    port: int
    netns: str
    seconds: float
    # --close-first: listener 1 closes with connections in its queues (all zero without it)
    close_first: bool = False
    migrate_req: int | None = None  # net.ipv4.tcp_migrate_req in the lab's namespace
    pending: int = 0  # late clients whose request waited in listener 1's SYN queue
    queued_at_close: int = 0  # listener 1's accept queue when it closed
    syn_recv_at_close: int = 0  # listener 1's requests (SYN-RECV) when it closed
    reset_queued: int = 0  # clients of that accept queue whose connection was reset
    reset_pending: int = 0  # late clients whose connection was reset
    migrated_queued: int = 0  # connections of that accept queue accepted on another listener
    migrated_pending: int = 0  # late clients accepted on another listener
    migrate_req_success: int = 0  # TcpExt TCPMigrateReqSuccess after the close
    migrate_req_failure: int = 0  # TcpExt TCPMigrateReqFailure after the close
    explanations: tuple[Explanation, ...] = ()
    predicted: dict[str, int] = field(default_factory=dict)
    agrees: dict[str, bool] = field(default_factory=dict)
    vendored_kernel: VendoredKernel | None = None


@dataclass(frozen=True)
class ReuseportSettings:
    """What the SO_REUSEPORT lab is asked: `kexplore lab reuseport`'s options."""

    listeners: int = 4
    clients: int = 64
    close_first: bool = False
    migrate_req: int | None = None
    pending: int | None = None

    @property
    def needs_root(self) -> bool:
        return True

    def flags(self) -> str:
        return _flags(
            ("--listeners", self.listeners), ("--clients", self.clients), ("--close-first", self.close_first), ("--migrate-req", self.migrate_req), ("--pending", self.pending)
        )

    def run(self, code: KernelCode | None) -> ReuseportResult:
        from .reuseport import reuseport_lab

        return reuseport_lab(self.listeners, self.clients, close_first=self.close_first, migrate_req=self.migrate_req, pending=self.pending, code=code)


# ---------------------------------------------------------------- the client-ports lab


@dataclass(frozen=True, kw_only=True)
class PortsResult:
    """The client-ports lab: source ports from a narrowed ip_local_port_range, and TIME-WAIT reuse."""

    lab: str = "ports"
    kernel: str
    ports: int  # how many ports the lab's ip_local_port_range holds
    port_range: tuple[int, int]  # net.ipv4.ip_local_port_range in the lab's namespace, as read back
    destinations: tuple[int, int]  # the two listeners' ports on 127.0.0.1
    source_ports_first: tuple[int, ...]  # the source ports of the first destination's clients, in order
    connected_first: int  # connections to the first destination before connect() failed
    first_error: str  # the errno name of that failure ("" if none failed)
    connected_second: int  # connections to the second destination
    second_error: str
    shared_ports: int  # source ports used towards both destinations at once
    first_pass_parity: int  # leading ports of the first destination with the range's low-end parity
    tw_reuse: int | None = None  # net.ipv4.tcp_tw_reuse for the TIME-WAIT step (None: not run)
    tcp_timestamps: int = 1
    tw_port: int | None = None  # the port whose 4-tuple waited in TIME-WAIT
    new_port: int | None = None  # the port of the connection made after it (None: connect() failed)
    tw_reused: int | None = None  # 1 if that connection took over the TIME-WAIT's 4-tuple
    tw_recycled: int | None = None  # TcpExt TWRecycled for it
    icmp_errors: dict[str, str] = field(default_factory=dict)  # --icmp: nftables' name of the ICMP code -> connect()'s errno name
    icmp_predicted: dict[str, str] = field(default_factory=dict)  # the errors the vendored icmp_err_convert gives
    icmp_seconds: float | None = None  # the slowest of those connect() calls
    netns: str = ""
    seconds: float = 0.0
    explanations: tuple[Explanation, ...] = ()
    predicted: dict[str, int] = field(default_factory=dict)
    agrees: dict[str, bool] = field(default_factory=dict)
    vendored_kernel: VendoredKernel | None = None


@dataclass(frozen=True)
class PortsSettings:
    """What the client-ports lab is asked: `kexplore lab ports`'s options."""

    ports: int = 8
    tw_reuse: int | None = None
    icmp: bool = False

    @property
    def needs_root(self) -> bool:
        return True

    def flags(self) -> str:
        return _flags(("--ports", self.ports), ("--tw-reuse", self.tw_reuse), ("--icmp", self.icmp))

    def run(self, code: KernelCode | None) -> PortsResult:
        from .ports import ports_lab

        return ports_lab(self.ports, tw_reuse=self.tw_reuse, icmp=self.icmp, code=code)


LabResult = AcceptQueueResult | SynQueueResult | FinalAckResult | ReuseportResult | PortsResult
LabSettings = AcceptQueueSettings | SynQueueSettings | FinalAckSettings | ReuseportSettings | PortsSettings
RESULT_TYPES: dict[str, type[AcceptQueueResult] | type[SynQueueResult] | type[FinalAckResult] | type[ReuseportResult] | type[PortsResult]] = {
    "accept-queue": AcceptQueueResult,
    "syn-queue": SynQueueResult,
    "final-ack": FinalAckResult,
    "reuseport": ReuseportResult,
    "ports": PortsResult,
}


def disagreements(result: LabResult) -> int:
    """How many predictions in one result (or its runs) the measurement contradicted."""
    parts: tuple[AcceptQueueResult | SynQueueRun | FinalAckResult | ReuseportResult | PortsResult, ...] = (
        result.runs if isinstance(result, SynQueueResult) else (result,)
    )
    return sum(1 for part in parts for ok in part.agrees.values() if not ok)


# ---------------------------------------------------------------- recordings


@dataclass(frozen=True)
class RecordedRun:
    """One run a lab page shows: its title, the command that repeats it, the lab's result."""

    title: str
    command: str
    result: LabResult


@dataclass(frozen=True)
class LabRecord:
    """A file written by `kexplore lab record`: one lab's recorded runs, or why it was skipped."""

    lab: str
    recorded_at: str
    kernel: str
    root: bool
    skipped: str | None = None
    runs: tuple[RecordedRun, ...] = ()


# ---------------------------------------------------------------- reading JSON back


def from_json(cls: type[D], data: object, where: str = "") -> D:
    """`data` (parsed JSON) as an instance of the dataclass `cls`, every field's type checked.

    Keys the dataclass does not know are ignored; a missing key takes the field's default or
    is an error.  Raises ResultsDamaged naming the first bad field.  The descent follows the
    dataclasses' declared types (a handful of levels), never the input's nesting.
    """
    value = _convert(cls, data, where or cls.__name__)
    assert isinstance(value, cls)
    return value


def load_record(data: object) -> LabRecord:
    """A parsed results file as a LabRecord; each run's result typed by the record's lab."""
    if not isinstance(data, dict):
        raise ResultsDamaged(f"expected a JSON object, found {_kind(data)}")
    runs = data.get("runs", [])
    head = from_json(LabRecord, {**data, "runs": []})
    result_type = RESULT_TYPES.get(head.lab)
    if result_type is None:
        raise ResultsDamaged(f"lab: no lab named {head.lab!r}")
    if not isinstance(runs, list):
        raise ResultsDamaged(f"runs: expected a list, found {_kind(runs)}")
    typed = []
    for i, run in enumerate(runs):
        if not isinstance(run, dict):
            raise ResultsDamaged(f"runs[{i}]: expected a JSON object, found {_kind(run)}")
        result = from_json(result_type, run.get("result"), f"runs[{i}].result")
        typed.append(RecordedRun(from_json(str, run.get("title"), f"runs[{i}].title"), from_json(str, run.get("command"), f"runs[{i}].command"), result))
    return dataclasses.replace(head, runs=tuple(typed))


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _convert(tp: object, data: object, where: str) -> object:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        options = typing.get_args(tp)
        if data is None and type(None) in options:
            return None
        others = [option for option in options if option is not type(None)]
        if len(others) != 1:
            raise TypeError(f"{where}: from_json reads unions of one type and None only")
        return _convert(others[0], data, where)
    if origin is dict:
        _key_type, value_type = typing.get_args(tp)
        if not isinstance(data, dict):
            raise ResultsDamaged(f"{where}: expected an object, found {_kind(data)}")
        return {str(key): _convert(value_type, value, f"{where}.{key}") for key, value in data.items()}
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(data, list):
            raise ResultsDamaged(f"{where}: expected a list, found {_kind(data)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], item, f"{where}[{i}]") for i, item in enumerate(data))
        if len(data) != len(args):
            raise ResultsDamaged(f"{where}: expected {len(args)} items, found {len(data)}")
        return tuple(_convert(arg, item, f"{where}[{i}]") for i, (arg, item) in enumerate(zip(args, data, strict=True)))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise ResultsDamaged(f"{where}: expected an object, found {_kind(data)}")
        hints = typing.get_type_hints(tp)
        kwargs: dict[str, object] = {}
        for f in dataclasses.fields(tp):
            if f.name in data:
                kwargs[f.name] = _convert(hints[f.name], data[f.name], f"{where}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ResultsDamaged(f"{where}: no {f.name!r}")
        return tp(**kwargs)
    if tp is float and isinstance(data, int | float) and not isinstance(data, bool):
        return float(data)
    if tp is int and isinstance(data, int) and not isinstance(data, bool):
        return data
    if (tp is str and isinstance(data, str)) or (tp is bool and isinstance(data, bool)):
        return data
    if tp not in (float, int, str, bool):
        raise TypeError(f"{where}: from_json cannot read {tp!r}")
    raise ResultsDamaged(f"{where}: expected {getattr(tp, '__name__', tp)}, found {_kind(data)}")
