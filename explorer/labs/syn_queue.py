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
- The backlog is the one listen() applied: clamped to net.core.somaxconn by `__sys_listen`.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time
from contextlib import ExitStack

from . import MAX_BACKLOG, MAX_SYNS, LabError
from .code import CodeRef, KernelCode
from .observe import counter_deltas, kernel_release, read_netstat, read_sysctl, tcp_sockets, wait_until_stable, write_sysctl

LOOPBACK = "127.0.0.1"
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


def check_arguments(backlog: int, syns: int) -> None:
    if backlog < 0:
        raise LabError(f"--backlog {backlog}: a backlog cannot be negative", exit_code=2)
    if backlog > MAX_BACKLOG:
        raise LabError(f"--backlog {backlog}: listen(2) takes an int; at most {MAX_BACKLOG}", exit_code=2)
    if not 1 <= syns <= MAX_SYNS:
        raise LabError(f"--syns {syns}: between 1 and {MAX_SYNS:,} SYNs, please", exit_code=2)


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


def _send_syns(raw: socket.socket, port: int, syns: int) -> int:
    sent = 0
    for i in range(syns):
        packet = build_syn(LOOPBACK, FIRST_SOURCE_PORT + i, LOOPBACK, port, seq=0x10000 * (i + 1))
        raw.sendto(packet, (LOOPBACK, 0))
        sent += 1
        if i % 256 == 255:
            time.sleep(0.001)  # let softirq drain the loopback backlog (netdev_max_backlog)
    return sent


# ---------------------------------------------------------------- one run


def _observe(port: int) -> tuple[int, int, int]:
    """(SYN-RECV requests on the listener, its accept-queue length, the backlog it applied)."""
    syn_recv, rqueue, wqueue = 0, -1, -1
    for s in tcp_sockets(("LISTEN", "SYN-RECV")):
        if s.sport != port:
            continue
        if s.state == "LISTEN":
            rqueue, wqueue = s.rqueue, s.wqueue
        elif s.state == "SYN-RECV":
            syn_recv += 1
    if wqueue < 0:
        raise LabError("sock_diag did not report the lab's listener", exit_code=1)
    return syn_recv, rqueue, wqueue


def _nft_dropped(ns) -> int | None:  # type: ignore[no-untyped-def]
    try:
        data = json.loads(ns.exec(["nft", "-j", "list", "table", "inet", NFT_TABLE]))
    except (LabError, json.JSONDecodeError):
        return None
    for item in data.get("nftables", []):
        for expr in item.get("rule", {}).get("expr", []):
            if "counter" in expr:
                return int(expr["counter"]["packets"])
    return None


def _one_run(
    backlog: int, syns: int, cookies: bool, somaxconn: int | None, max_syn_backlog: int | None, max_wait: float
) -> dict[str, object]:
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
                settings = {
                    "tcp_syncookies": read_sysctl("net.ipv4.tcp_syncookies"),
                    "somaxconn": read_sysctl("net.core.somaxconn"),
                    "tcp_max_syn_backlog": read_sysctl("net.ipv4.tcp_max_syn_backlog"),
                    "tcp_synack_retries": read_sysctl("net.ipv4.tcp_synack_retries"),
                }
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(listener)
                listener.bind((LOOPBACK, 0))
                listener.listen(backlog)
                port = listener.getsockname()[1]
                raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
                sockets.append(raw)
                before = read_netstat()
                started = time.monotonic()
                sent = _send_syns(raw, port, syns)
                # wait until the counters and the queue stop moving (bounded), then look once
                look = wait_until_stable(lambda: (_observe(port), counter_deltas(before, read_netstat())), max_wait, settle=SETTLE_S)
                elapsed = time.monotonic() - started
            synacks_dropped = _nft_dropped(ns)
        finally:
            for s in reversed(sockets):
                s.close()
    (syn_recv, rqueue, wqueue), deltas = look
    return {
        "cookies": cookies,
        "syn_recv": syn_recv,
        "drops": deltas["ListenDrops"],
        "cookies_sent": deltas["SyncookiesSent"],
        "overflows": deltas["ListenOverflows"],
        "reqq_full_drop": deltas["TCPReqQFullDrop"],
        "reqq_full_do_cookies": deltas["TCPReqQFullDoCookies"],
        "accept_queue": rqueue,
        "effective_backlog": wqueue,
        "syns_sent": sent,
        "port": port,
        "netns": ns.name,
        "synacks_dropped": synacks_dropped,
        "sysctls": settings,
        "counters": deltas,
        "seconds": round(elapsed, 3),
    }


def syn_queue_lab(
    backlog: int = DEFAULT_BACKLOG,
    syns: int = DEFAULT_SYNS,
    *,
    code: KernelCode | None = None,
    somaxconn: int | None = None,
    max_syn_backlog: int | None = None,
    max_wait: float = MAX_WAIT_S,
) -> dict[str, object]:
    """Run the lab twice (cookies off, then on), each in a fresh namespace; return the JSON-ready result.

    `somaxconn` and `max_syn_backlog` set net.core.somaxconn and net.ipv4.tcp_max_syn_backlog
    inside the lab's namespaces (never outside).
    """
    check_arguments(backlog, syns)
    if somaxconn is not None and not 0 <= somaxconn <= MAX_BACKLOG:
        raise LabError(f"--somaxconn {somaxconn}: between 0 and {MAX_BACKLOG}", exit_code=2)
    if max_syn_backlog is not None and not 1 <= max_syn_backlog <= MAX_BACKLOG:
        raise LabError(f"--max-syn-backlog {max_syn_backlog}: between 1 and {MAX_BACKLOG}", exit_code=2)
    require_root()
    from .netns import require_tool, signals_raise

    require_tool("ip", "iproute2")
    require_tool("nft", "nftables")
    started = time.monotonic()
    with signals_raise():
        runs = [_one_run(backlog, syns, cookies, somaxconn, max_syn_backlog, max_wait) for cookies in (False, True)]
    result: dict[str, object] = {
        "lab": "syn-queue",
        "kernel": kernel_release(),
        "backlog": backlog,
        "syns": syns,
        "somaxconn": runs[0]["sysctls"]["somaxconn"],  # type: ignore[index]
        "tcp_max_syn_backlog": runs[0]["sysctls"]["tcp_max_syn_backlog"],  # type: ignore[index]
        "effective_backlog": runs[0]["effective_backlog"],
        "runs": runs,
        "seconds": round(time.monotonic() - started, 3),
    }
    return _explain(result, code)


# ---------------------------------------------------------------- predictions and explanations


def predict(code: KernelCode | None, backlog: int, syns: int, somaxconn: int, max_syn_backlog: int, cookies: bool) -> dict[str, int]:
    """What the vendored tcp_conn_request implies for one run; {} when its source is unavailable."""
    if code is None:
        return {}
    clamps = code.contains("__sys_listen", r"\(unsigned int\)\s*backlog\s*>\s*somaxconn")
    full_op = code.comparison("inet_csk_reqsk_queue_is_full", "inet_csk_reqsk_queue_len(sk)")
    quarter = code.contains("tcp_conn_request", r"!syncookies\s*&&\s*\(\s*max_syn_backlog\s*-\s*inet_csk_reqsk_queue_len\(sk\)\s*<\s*\(\s*max_syn_backlog\s*>>\s*2\s*\)")
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


def _explain(result: dict[str, object], code: KernelCode | None) -> dict[str, object]:
    backlog, syns = int(result["backlog"]), int(result["syns"])  # type: ignore[arg-type]
    somaxconn, max_syn = int(result["somaxconn"]), int(result["tcp_max_syn_backlog"])  # type: ignore[arg-type]
    eff = int(result["effective_backlog"])  # type: ignore[arg-type]
    for run in result["runs"]:  # type: ignore[attr-defined]
        run["predicted"] = predict(code, backlog, syns, somaxconn, max_syn, bool(run["cookies"]))
        run["agrees"] = {key: run[key] == value for key, value in run["predicted"].items()}

    def refs(*names: str) -> list[dict[str, object]]:
        return [(code.ref(n) if code else CodeRef(n)).as_dict() for n in names]

    off, on = result["runs"]  # type: ignore[misc]
    quarter_cap = max_syn - (max_syn >> 2) + 1
    binding = "the backlog" if eff + 1 <= quarter_cap else "tcp_max_syn_backlog"
    result["explanations"] = [
        {
            "observation": "effective_backlog",
            "text": f"listen() asked for backlog {backlog}; the listener applied {eff} "
            f"(net.core.somaxconn = {somaxconn} in the lab's namespace; __sys_listen clamps above it).",
            "code": refs("__sys_listen", "inet_listen"),
        },
        {
            "observation": "syn_recv (cookies off)",
            "text": f"With SYN cookies off, {off['syn_recv']} of {syns} SYNs were kept as SYN-RECV requests. "
            f"tcp_conn_request refuses a SYN when inet_csk_reqsk_queue_is_full (qlen > sk_max_ack_backlog, so "
            f"backlog + 1 = {eff + 1} fit) and, with cookies off only, when less than a quarter of "
            f"tcp_max_syn_backlog = {max_syn} is free (at most {quarter_cap} fit): here {binding} is the limit. "
            f"Refused SYNs are dropped: ListenDrops +{off['drops']}, of which TCPReqQFullDrop +{off['reqq_full_drop']} "
            f"came from the full queue (tcp_syn_flood_action); the quarter rule's drops have no counter of their own.",
            "code": refs("tcp_conn_request", "inet_csk_reqsk_queue_is_full", "tcp_syn_flood_action", "tcp_listendrop"),
        },
        {
            "observation": "syn_recv (cookies on)",
            "text": f"With SYN cookies on, {on['syn_recv']} of {syns} SYNs were kept as requests: once the queue is full "
            f"tcp_syn_flood_action answers with a cookie instead of dropping: TCPReqQFullDoCookies "
            f"+{on['reqq_full_do_cookies']}, SyncookiesSent +{on['cookies_sent']}, ListenDrops +{on['drops']}. "
            f"A cookie keeps no state: the SYN-ACK's sequence number encodes the connection "
            f"(cookie_init_sequence counts SyncookiesSent, cookie_v4_init_sequence computes it), so the SYN queue "
            f"stays bounded however many SYNs arrive, and tcp_max_syn_backlog no longer matters.",
            "code": refs("tcp_syn_flood_action", "cookie_init_sequence", "cookie_v4_init_sequence", "tcp_conn_request"),
        },
        {
            "observation": "half-open",
            "text": "Every SYN-ACK is dropped by the lab's nftables rule, so no request completes or is reset; "
            f"each kept request is hashed with a retransmit timer (inet_csk_reqsk_queue_hash_add) and counted in the "
            f"listener's icsk_accept_queue.qlen (inet_csk_reqsk_queue_len; the queue is set up by reqsk_queue_alloc "
            f"at listen time). Requests would expire after tcp_synack_retries = {off['sysctls']['tcp_synack_retries']} "
            f"retransmissions, long after the lab has looked.",
            "code": refs("inet_csk_reqsk_queue_hash_add", "inet_csk_reqsk_queue_len", "reqsk_queue_alloc"),
        },
    ]
    result["vendored_kernel"] = code.describe() if code else None
    return result
