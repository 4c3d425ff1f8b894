"""The SYN-queue lab: half-open connections (SYN-RECV), with SYN cookies off and then on.

Each run gets a private network namespace (root only), brings its loopback up, sets
net.ipv4.tcp_syncookies there, and adds an nftables rule that drops the namespace's outgoing
SYN-ACKs: otherwise the SYN-ACK would reach 127.0.0.1, find no socket, and the kernel's RST
would remove the request at once.  A raw socket (IP_HDRINCL) then sends `syns` SYNs from
distinct source ports to a listener on 127.0.0.1, and nothing ever completes them.

What the vendored code predicts (Linux 6.1, tcp_conn_request):

- `inet_csk_reqsk_queue_is_full` is `qlen > sk_max_ack_backlog`: once backlog + 1 requests
  wait, `tcp_syn_flood_action` decides.  Cookies off: TCPReqQFullDrop, and `goto drop`
  (ListenDrops).  Cookies on: TCPReqQFullDoCookies, and the SYN is answered with a cookie
  (`cookie_init_sequence` counts SyncookiesSent) without keeping a request.
- Cookies off only: a request is also dropped when fewer than a quarter of
  tcp_max_syn_backlog remain free ("max_syn_backlog - qlen < max_syn_backlog >> 2"),
  counted only as ListenDrops.
- The backlog is the one listen() applied: clamped to net.core.somaxconn by `__sys_listen` (`__sys_listen_socket` since 6.11).
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import struct
import time
from contextlib import ExitStack
from typing import TYPE_CHECKING

from . import MAX_SYNS, LabError, check_backlog, check_range
from .code import KernelCode, clamp_function, code_refs, vendored_kernel
from .observe import counter_deltas, kernel_release, read_netstat, read_sysctl, tcp_sockets, wait_until_stable, write_sysctl
from .results import Explanation, ListenerObservation, SynQueueResult, SynQueueRun, SynQueueSysctls

if TYPE_CHECKING:
    from .netns import PrivateNetns

LOOPBACK = "127.0.0.1"
LOOPBACK6 = "::1"
DEFAULT_BACKLOG = 16
DEFAULT_SYNS = 64
FIRST_SOURCE_PORT = 20_000  # below the ephemeral range (32768-60999), so never the listener's
SETTLE_S = 0.15
MAX_WAIT_S = 5.0
NFT_TABLE = "kexplore_lab"
NFT_RULESET = f"""
table inet {NFT_TABLE} {{
    chain output {{
        type filter hook output priority filter; policy accept;
        tcp flags & (syn | ack) == (syn | ack) counter drop comment "the lab's SYN-ACKs: leave every request half-open"
    }}
}}
"""


def check_arguments(backlog: int, syns: int, somaxconn: int | None = None, max_syn_backlog: int | None = None) -> None:
    check_backlog(backlog)
    check_range("--syns", syns, 1, MAX_SYNS)
    check_range("--somaxconn", somaxconn, 0)
    check_range("--max-syn-backlog", max_syn_backlog, 1)


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError(
            "the SYN-queue lab needs root: it creates a network namespace, sets sysctls and an nftables rule "
            "inside it, and sends raw SYNs. Run it as root (sudo kexplore lab syn-queue); nothing outside "
            "the lab's own namespace is touched.",
            exit_code=2,
        )


# ---------------------------------------------------------------- raw SYNs


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def build_syn(src: str, sport: int, dst: str, dport: int, seq: int) -> bytes:
    """An IPv4 + TCP SYN with an MSS option, checksums filled in."""
    saddr, daddr = socket.inet_aton(src), socket.inet_aton(dst)
    options = struct.pack("!BBH", 2, 4, 65495)  # MSS
    offset_words = (20 + len(options)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, offset_words << 4, 0x02, 65535, 0, 0) + options
    pseudo = saddr + daddr + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), sport & 0xFFFF, 0x4000, 64, socket.IPPROTO_TCP, 0, saddr, daddr)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return ip + tcp


def build_syn6_tcp(src: str, sport: int, dst: str, dport: int, seq: int) -> bytes:
    """A TCP SYN (with an MSS option) for an IPv6 raw socket, its checksum over the IPv6 pseudo-header.

    The kernel writes the IPv6 header itself (raw IPv6 sockets have no IP_HDRINCL).
    """
    options = struct.pack("!BBH", 2, 4, 65475)  # MSS
    offset_words = (20 + len(options)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, offset_words << 4, 0x02, 65535, 0, 0) + options
    pseudo = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + struct.pack("!IxxxB", len(tcp), socket.IPPROTO_TCP)
    return tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp)) + tcp[18:]


def _send_syns(raw: socket.socket, port: int, syns: int, ipv6: bool = False) -> int:
    sent = 0
    for i in range(syns):
        if ipv6:
            raw.sendto(build_syn6_tcp(LOOPBACK6, FIRST_SOURCE_PORT + i, LOOPBACK6, port, seq=0x10000 * (i + 1)), (LOOPBACK6, 0))
        else:
            packet = build_syn(LOOPBACK, FIRST_SOURCE_PORT + i, LOOPBACK, port, seq=0x10000 * (i + 1))
            raw.sendto(packet, (LOOPBACK, 0))
        sent += 1
        if i % 256 == 255:
            time.sleep(0.001)  # let softirq drain the loopback backlog (netdev_max_backlog)
    return sent


# ---------------------------------------------------------------- one run


def _observe(port: int, family: int = socket.AF_INET) -> ListenerObservation:
    """The listener's SYN-RECV requests, its accept-queue length and the backlog it applied."""
    syn_recv, rqueue, wqueue = 0, -1, -1
    for s in tcp_sockets(("LISTEN", "SYN-RECV"), family):
        if s.sport != port:
            continue
        if s.state == "LISTEN":
            rqueue, wqueue = s.rqueue, s.wqueue
        elif s.state == "SYN-RECV":
            syn_recv += 1
    if wqueue < 0:
        raise LabError("sock_diag did not report the lab's listener", exit_code=1)
    return ListenerObservation(syn_recv=syn_recv, accept_queue=rqueue, effective_backlog=wqueue)


def _nft_dropped(ns: PrivateNetns) -> int | None:
    try:
        data = json.loads(ns.exec(["nft", "-j", "list", "table", "inet", NFT_TABLE]))
    except (LabError, json.JSONDecodeError):
        return None
    for item in data.get("nftables", []) if isinstance(data, dict) else []:
        for expr in item.get("rule", {}).get("expr", []):
            if "counter" in expr:
                return int(expr["counter"]["packets"])
    return None


def _one_run(
    backlog: int, syns: int, cookies: bool, somaxconn: int | None, max_syn_backlog: int | None, max_wait: float, ipv6: bool = False
) -> SynQueueRun:
    from .netns import PrivateNetns

    with ExitStack() as stack:
        ns = stack.enter_context(PrivateNetns())
        ns.exec(["nft", "-f", "-"], stdin=NFT_RULESET)
        sockets: list[socket.socket] = []
        try:
            with ns.entered():
                write_sysctl("net.ipv4.tcp_syncookies", 1 if cookies else 0)
                if somaxconn is not None:
                    write_sysctl("net.core.somaxconn", somaxconn)
                if max_syn_backlog is not None:
                    write_sysctl("net.ipv4.tcp_max_syn_backlog", max_syn_backlog)
                sysctls = SynQueueSysctls(
                    tcp_syncookies=read_sysctl("net.ipv4.tcp_syncookies"),
                    somaxconn=read_sysctl("net.core.somaxconn"),
                    tcp_max_syn_backlog=read_sysctl("net.ipv4.tcp_max_syn_backlog"),
                    tcp_synack_retries=read_sysctl("net.ipv4.tcp_synack_retries"),
                )
                family = socket.AF_INET6 if ipv6 else socket.AF_INET
                listener = socket.socket(family, socket.SOCK_STREAM)
                sockets.append(listener)
                try:
                    listener.bind((LOOPBACK6 if ipv6 else LOOPBACK, 0))
                except OSError as exc:
                    raise LabError(f"cannot listen on {LOOPBACK6 if ipv6 else LOOPBACK}: {exc.strerror or exc}", exit_code=1) from None
                listener.listen(backlog)
                port = listener.getsockname()[1]
                # IPv4: the whole packet (IP_HDRINCL); IPv6: the TCP segment, the kernel adds the IPv6 header
                raw = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_TCP) if ipv6 else socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
                sockets.append(raw)
                before = read_netstat()
                started = time.monotonic()
                sent = _send_syns(raw, port, syns, ipv6)
                # wait until the counters and the queue stop moving (bounded), then look once
                seen, deltas = wait_until_stable(lambda: (_observe(port, family), counter_deltas(before, read_netstat())), max_wait, settle=SETTLE_S)
                elapsed = time.monotonic() - started
            synacks_dropped = _nft_dropped(ns)
        finally:
            for s in reversed(sockets):
                s.close()
    return SynQueueRun(
        cookies=cookies,
        syn_recv=seen.syn_recv,
        drops=deltas["ListenDrops"],
        cookies_sent=deltas["SyncookiesSent"],
        overflows=deltas["ListenOverflows"],
        reqq_full_drop=deltas["TCPReqQFullDrop"],
        reqq_full_do_cookies=deltas["TCPReqQFullDoCookies"],
        accept_queue=seen.accept_queue,
        effective_backlog=seen.effective_backlog,
        syns_sent=sent,
        port=port,
        netns=ns.name,
        synacks_dropped=synacks_dropped,
        sysctls=sysctls,
        counters=deltas,
        seconds=round(elapsed, 3),
    )


def syn_queue_lab(
    backlog: int = DEFAULT_BACKLOG,
    syns: int = DEFAULT_SYNS,
    *,
    code: KernelCode | None = None,
    somaxconn: int | None = None,
    max_syn_backlog: int | None = None,
    max_wait: float = MAX_WAIT_S,
    ipv6: bool = False,
) -> SynQueueResult:
    """Run the lab twice (cookies off, then on), each in a fresh namespace; return the result.

    `somaxconn` and `max_syn_backlog` set net.core.somaxconn and net.ipv4.tcp_max_syn_backlog
    inside the lab's namespaces (never outside).  With `ipv6` the listener is on ::1 and the
    SYNs are IPv6 (tcp_v6_conn_request hands them to the same tcp_conn_request).
    """
    check_arguments(backlog, syns, somaxconn, max_syn_backlog)
    require_root()
    from .netns import require_tool, signals_raise

    require_tool("ip", "iproute2")
    require_tool("nft", "nftables")
    started = time.monotonic()
    with signals_raise():
        off, on = (_one_run(backlog, syns, cookies, somaxconn, max_syn_backlog, max_wait, ipv6) for cookies in (False, True))
    result = SynQueueResult(
        kernel=kernel_release(),
        backlog=backlog,
        syns=syns,
        somaxconn=off.sysctls.somaxconn,
        tcp_max_syn_backlog=off.sysctls.tcp_max_syn_backlog,
        effective_backlog=off.effective_backlog,
        runs=(off, on),
        seconds=round(time.monotonic() - started, 3),
        ipv6=ipv6,
    )
    return _explain(result, code)


# ---------------------------------------------------------------- predictions and explanations

QUARTER_RULE = r"!syncookies\s*&&\s*\(\s*max_syn_backlog\s*-\s*inet_csk_reqsk_queue_len\(sk\)\s*<\s*\(\s*max_syn_backlog\s*>>\s*2\s*\)"


def predict(code: KernelCode | None, backlog: int, syns: int, somaxconn: int, max_syn_backlog: int, cookies: bool) -> dict[str, int]:
    """What the vendored tcp_conn_request implies for one run; {} when its source is unavailable."""
    if code is None:
        return {}
    clamps = code.clamps_backlog()
    full_op = code.comparison("inet_csk_reqsk_queue_is_full", "inet_csk_reqsk_queue_len(sk)")
    quarter = code.contains("tcp_conn_request", QUARTER_RULE)
    if not clamps or full_op not in (">", ">="):
        return {}
    effective = min(backlog, somaxconn)
    queue_cap = effective + (1 if full_op == ">" else 0)
    quarter_cap = max_syn_backlog - (max_syn_backlog >> 2) + 1 if (quarter and not cookies) else None
    kept = min(syns, queue_cap, quarter_cap if quarter_cap is not None else queue_cap)
    refused = syns - kept
    by_full = refused if (quarter_cap is None or queue_cap <= quarter_cap) else 0
    if cookies:
        return {"syn_recv": kept, "cookies_sent": refused, "reqq_full_do_cookies": refused, "drops": 0, "reqq_full_drop": 0}
    return {"syn_recv": kept, "cookies_sent": 0, "drops": refused, "reqq_full_drop": by_full, "reqq_full_do_cookies": 0}


def _judged(run: SynQueueRun, predicted: dict[str, int]) -> SynQueueRun:
    measured = dataclasses.asdict(run)
    return dataclasses.replace(run, predicted=predicted, agrees={key: measured[key] == value for key, value in predicted.items()})


def _explain(result: SynQueueResult, code: KernelCode | None) -> SynQueueResult:
    r = result
    off, on = (
        _judged(run, predict(code, r.backlog, r.syns, r.somaxconn, r.tcp_max_syn_backlog, run.cookies)) for run in r.runs
    )
    eff, max_syn, syns = r.effective_backlog, r.tcp_max_syn_backlog, r.syns
    quarter_cap = max_syn - (max_syn >> 2) + 1
    binding = "the backlog" if eff + 1 <= quarter_cap else "tcp_max_syn_backlog"
    explanations = (
        Explanation(
            "effective_backlog",
            f"listen() asked for backlog {r.backlog}; the listener applied {eff} "
            f"(net.core.somaxconn = {r.somaxconn} in the lab's namespace; {clamp_function(code)} clamps above it).",
            code_refs(code, clamp_function(code), "inet_listen"),
        ),
        Explanation(
            "syn_recv (cookies off)",
            f"With SYN cookies off, {off.syn_recv} of {syns} SYNs were kept as SYN-RECV requests. "
            f"tcp_conn_request refuses a SYN when inet_csk_reqsk_queue_is_full (qlen > sk_max_ack_backlog, so "
            f"backlog + 1 = {eff + 1} fit) and, with cookies off only, when less than a quarter of "
            f"tcp_max_syn_backlog = {max_syn} is free (at most {quarter_cap} fit): here {binding} is the limit. "
            f"Refused SYNs are dropped: ListenDrops +{off.drops}, of which TCPReqQFullDrop +{off.reqq_full_drop} "
            f"came from the full queue (tcp_syn_flood_action); the quarter rule's drops have no counter of their own."
            + (" The SYNs were IPv6, to ::1: tcp_v6_conn_request hands them to the same tcp_conn_request." if r.ipv6 else ""),
            code_refs(code, "tcp_conn_request", "inet_csk_reqsk_queue_is_full", "tcp_syn_flood_action", "tcp_listendrop"),
        ),
        Explanation(
            "syn_recv (cookies on)",
            f"With SYN cookies on, {on.syn_recv} of {syns} SYNs were kept as requests: once the queue is full "
            f"tcp_syn_flood_action answers with a cookie instead of dropping: TCPReqQFullDoCookies "
            f"+{on.reqq_full_do_cookies}, SyncookiesSent +{on.cookies_sent}, ListenDrops +{on.drops}. "
            f"A cookie keeps no state: the SYN-ACK's sequence number encodes the connection "
            f"(cookie_init_sequence counts SyncookiesSent, cookie_v4_init_sequence computes it), so the SYN queue "
            f"stays bounded however many SYNs arrive, and tcp_max_syn_backlog no longer matters.",
            code_refs(code, "tcp_syn_flood_action", "cookie_init_sequence", "cookie_v4_init_sequence", "tcp_conn_request"),
        ),
        Explanation(
            "half-open",
            "Every SYN-ACK is dropped by the lab's nftables rule, so no request completes or is reset; "
            f"each kept request is hashed with a retransmit timer (inet_csk_reqsk_queue_hash_add) and counted in the "
            f"listener's icsk_accept_queue.qlen (inet_csk_reqsk_queue_len; the queue is set up by reqsk_queue_alloc "
            f"at listen time). Requests would expire after tcp_synack_retries = {off.sysctls.tcp_synack_retries} "
            f"retransmissions, long after the lab has looked.",
            code_refs(code, "inet_csk_reqsk_queue_hash_add", "inet_csk_reqsk_queue_len", "reqsk_queue_alloc"),
        ),
    )
    return dataclasses.replace(result, runs=(off, on), explanations=explanations, vendored_kernel=vendored_kernel(code))
