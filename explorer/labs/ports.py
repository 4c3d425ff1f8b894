"""The client-ports lab: connect() picks source ports from ip_local_port_range, and may take over a TIME-WAIT.

In a private network namespace (root only), net.ipv4.ip_local_port_range is narrowed to N
ports (40000 to 40000 + N - 1), two listeners wait on 127.0.0.1 ports 20001 and 20002 (outside
the range), and unbound clients connect:

1. to the first destination until connect() fails: each takes a port of the range;
2. to the second destination as many times: the same ports again, since a port made by
   connect() is shared whenever the 4-tuple is unique;
3. with `tw_reuse` (net.ipv4.tcp_tw_reuse inside the namespace): one connection of the first
   destination is closed by the client first, so its 4-tuple waits in TIME-WAIT; after the
   one second the reuse rule asks for, one more client connects to the first destination:
   the TIME-WAIT's port is the only candidate left;
4. with `icmp`: nftables rules answer SYNs to 127.0.0.3 with ICMP destination-unreachable
   errors (one code per destination port), and a client connects to each: tcp_v4_err ends the
   attempt in SYN-SENT at once with the error icmp_err_convert gives for the code.

What the vendored code predicts (Linux 6.1, __inet_hash_connect and tcp_twsk_unique):

- the search walks `remaining = high + 1 - low` ports, rounded down to an even number, first
  the ports of the low end's parity, then the others: with N even, N ports per destination, the
  first half of them of the low end's parity, then EADDRNOTAVAIL (with N odd each search walks
  N - 1 of them, which ones depending on where it starts: at least N - 1 fit);
- a port whose bind bucket was made by connect() (fastreuse -1) is shared when
  __inet_check_established finds the 4-tuple unique: the second destination gets the same ports;
- tcp_twsk_unique lets the new connection take the TIME-WAIT's place when the old connection
  used timestamps, at least a second has passed, and tcp_tw_reuse is 1, or 2 on loopback
  (TWRecycled); with 0, connect() fails with EADDRNOTAVAIL.
"""

from __future__ import annotations

import dataclasses
import errno
import re
import socket
import time
from contextlib import ExitStack
from typing import TYPE_CHECKING

from . import LabError, check_range
from .accept_queue import _raise_fd_limit
from .code import KernelCode, code_refs, vendored_kernel
from .observe import (
    LINGER_RST,
    close_with_reset,
    counter_deltas,
    kernel_release,
    read_netstat,
    read_sysctl,
    tcp_sockets,
    wait_until_stable,
    write_sysctl,
)
from .results import Explanation, PortsResult

if TYPE_CHECKING:
    from .netns import PrivateNetns

SERVER = "127.0.0.1"
LOW = 40_000  # the range's low end (even); the listeners' ports are outside it
DESTINATIONS = (20_001, 20_002)
DEFAULT_PORTS = 8
MAX_PORTS = 1_000
MAX_WAIT_S = 5.0
TW_REUSE_DELAY_S = 1.1  # tcp_twsk_unique asks for a second since the TIME-WAIT's last timestamp


ICMP_TARGET = "127.0.0.3"
ICMP_FIRST_PORT = 21_000
# nftables' names for ICMP destination-unreachable codes, and the codes (include/uapi/linux/icmp.h)
ICMP_CODES = (("net-unreachable", 0), ("host-unreachable", 1), ("prot-unreachable", 2), ("port-unreachable", 3), ("admin-prohibited", 13))
NFT_TABLE = "kexplore_lab"


def icmp_ruleset() -> str:
    rules = "\n".join(
        f"        ip daddr {ICMP_TARGET} tcp dport {ICMP_FIRST_PORT + i} tcp flags & (syn | ack) == syn reject with icmp type {name}"
        for i, (name, _code) in enumerate(ICMP_CODES)
    )
    return f"""
table inet {NFT_TABLE} {{
    chain output {{
        type filter hook output priority filter; policy accept;
{rules}
    }}
}}
"""


def check_arguments(ports: int, tw_reuse: int | None) -> None:
    check_range("--ports", ports, 2, MAX_PORTS)
    check_range("--tw-reuse", tw_reuse, 0, 2)


def ports_lab(
    ports: int = DEFAULT_PORTS, *, tw_reuse: int | None = None, icmp: bool = False, code: KernelCode | None = None, max_wait: float = MAX_WAIT_S
) -> PortsResult:
    """Run the lab in a namespace of its own; return the ports the clients got (and, with `icmp`, the errors)."""
    check_arguments(ports, tw_reuse)
    from .netns import PrivateNetns, require_root, require_tool, signals_raise

    require_root("ports", "it creates a network namespace and sets net.ipv4.ip_local_port_range and tcp_tw_reuse inside it")
    if icmp:
        require_tool("nft", "nftables")
    _raise_fd_limit(4 * ports + 64)
    with ExitStack() as stack:
        stack.enter_context(signals_raise())
        ns = stack.enter_context(PrivateNetns())
        icmp_errors, icmp_seconds = _icmp_phase(ns) if icmp else ({}, None)
        stack.enter_context(ns.entered())
        result = _run(ports, tw_reuse, ns.name, max_wait)
    return _explain(dataclasses.replace(result, icmp_errors=icmp_errors, icmp_seconds=icmp_seconds), code)


def _icmp_phase(ns: PrivateNetns) -> tuple[dict[str, str], float]:
    """Connect once to each rejecting destination; {nftables' name of the ICMP code: the connect() error}, slowest seconds."""
    ns.exec(["nft", "-f", "-"], stdin=icmp_ruleset())
    errors: dict[str, str] = {}
    slowest = 0.0
    try:
        with ns.entered():
            for i, (name, _code) in enumerate(ICMP_CODES):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
                    client.settimeout(MAX_WAIT_S)
                    started = time.monotonic()
                    try:
                        rc = client.connect_ex((ICMP_TARGET, ICMP_FIRST_PORT + i))
                    except TimeoutError:
                        rc = errno.ETIMEDOUT
                    slowest = max(slowest, time.monotonic() - started)
                    errors[name] = errno.errorcode.get(rc, str(rc)) if rc else ""
    finally:
        ns.exec(["nft", "delete", "table", "inet", NFT_TABLE])
    return errors, round(slowest, 3)


def _connect_until_refused(port: int, limit: int, opened: list[socket.socket]) -> tuple[list[int], str]:
    """Connect unbound clients to SERVER:port until one fails (at most `limit`); their source ports and the error."""
    got: list[int] = []
    for _ in range(limit):
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        opened.append(client)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
        client.settimeout(MAX_WAIT_S)
        rc = client.connect_ex((SERVER, port))
        if rc:
            return got, errno.errorcode.get(rc, str(rc))
        got.append(client.getsockname()[1])
    return got, ""


def _time_wait_ports(port: int) -> list[int]:
    return [s.sport for s in tcp_sockets(("TIME-WAIT",)) if s.dport == port and s.src == SERVER]


def _run(ports: int, tw_reuse: int | None, netns: str, max_wait: float) -> PortsResult:
    started = time.monotonic()
    opened: list[socket.socket] = []
    listeners: list[socket.socket] = []
    try:
        write_sysctl_range(LOW, LOW + ports - 1)
        low, high = read_range()
        for port in DESTINATIONS:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listeners.append(listener)
            listener.bind((SERVER, port))
            listener.listen(ports + 8)
        first, first_error = _connect_until_refused(DESTINATIONS[0], ports + 1, opened)
        second, second_error = _connect_until_refused(DESTINATIONS[1], ports + 1, opened)
        parity = 0
        for p in first:
            if p % 2 != low % 2:
                break
            parity += 1
        tw_port = new_port = tw_reused = recycled = None
        if tw_reuse is not None and first:
            write_sysctl("net.ipv4.tcp_tw_reuse", tw_reuse)
            tw_port, new_port, tw_reused, recycled = _time_wait_phase(listeners[0], opened, first[0], max_wait)
        timestamps = read_sysctl("net.ipv4.tcp_timestamps")
        reuse_read = read_sysctl("net.ipv4.tcp_tw_reuse")
    finally:
        close_with_reset((*opened, *listeners))
    return PortsResult(
        kernel=kernel_release(),
        ports=ports,
        port_range=(low, high),
        destinations=DESTINATIONS,
        source_ports_first=tuple(first),
        connected_first=len(first),
        first_error=first_error,
        connected_second=len(second),
        second_error=second_error,
        shared_ports=len(set(first) & set(second)),
        first_pass_parity=parity,
        tw_reuse=reuse_read if tw_reuse is not None else None,
        tcp_timestamps=timestamps,
        tw_port=tw_port,
        new_port=new_port,
        tw_reused=tw_reused,
        tw_recycled=recycled,
        netns=netns,
        seconds=round(time.monotonic() - started, 3),
    )


def write_sysctl_range(low: int, high: int) -> None:
    with open("/proc/sys/net/ipv4/ip_local_port_range", "w", encoding="ascii") as f:
        f.write(f"{low} {high}\n")


def read_range() -> tuple[int, int]:
    with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
        low, high = (int(x) for x in f.read().split()[:2])
    return low, high


def _time_wait_phase(listener: socket.socket, opened: list[socket.socket], victim_port: int, max_wait: float) -> tuple[int | None, int | None, int, int]:
    """Close one connection client first (TIME-WAIT on the client), wait the reuse delay, connect once more."""
    victim = next(c for c in opened if c.getsockname()[1] == victim_port)
    listener.settimeout(1.0)
    child = None
    deadline = time.monotonic() + max_wait
    while child is None and time.monotonic() < deadline:
        try:
            candidate, peer = listener.accept()
        except OSError:
            break
        opened.append(candidate)
        if peer[1] == victim_port:
            child = candidate
    if child is None:
        raise LabError(f"the server side of the connection from port {victim_port} was not in the accept queue")
    victim.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x00" * 8)  # an ordinary close: FIN, not RST
    victim.close()  # the client closes first: it is the one that waits in TIME-WAIT
    opened.remove(victim)
    child.settimeout(1.0)
    try:
        child.recv(1)  # the client's FIN: end of file
    except OSError:
        pass
    child.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x00" * 8)
    child.close()  # the server's FIN: the client goes from FIN-WAIT-2 to TIME-WAIT
    opened.remove(child)
    waiting = wait_until_stable(lambda: _time_wait_ports(DESTINATIONS[0]), max_wait, settle=0.1)
    tw_port = victim_port if victim_port in waiting else None
    time.sleep(TW_REUSE_DELAY_S)
    before = read_netstat()
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    opened.append(client)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
    client.settimeout(MAX_WAIT_S)
    rc = client.connect_ex((SERVER, DESTINATIONS[0]))
    recycled = counter_deltas(before, read_netstat(), ("TWRecycled",))["TWRecycled"]
    return tw_port, (client.getsockname()[1] if rc == 0 else None), int(rc == 0), recycled


def predict(code: KernelCode | None, ports: int, tw_reuse: int | None) -> dict[str, int]:
    """What the vendored __inet_hash_connect and tcp_twsk_unique imply; {} when unreadable."""
    if code is None:
        return {}
    source = code.source("__inet_hash_connect")
    if source is None or "remaining &= ~1U" not in source or "offset &= ~1U" not in source:
        return {}
    inclusive = "high++" in source  # [low, high] becomes [low, high + 1[ before remaining = high - low
    remaining = ports if inclusive else ports - 1
    if remaining > 1:
        remaining &= ~1
    if remaining == ports:  # every search walks the whole range: exact counts
        predicted = {"connected_first": ports, "connected_second": ports, "shared_ports": ports, "first_pass_parity": ports // 2}
    else:  # an odd range: each search walks `remaining` of its ports, which ones depending on its offset
        predicted = {"connected_first_at_least": remaining, "connected_second_at_least": remaining, "shared_ports_at_least": remaining}
    unique = code.source("tcp_twsk_unique")
    if tw_reuse is not None and unique is not None and "reuse == 2" in unique and "tw_ts_recent_stamp" in unique:
        allowed = int(tw_reuse in (1, 2))  # 2: loopback only, and the lab is on loopback
        predicted |= {"tw_reused": allowed, "tw_recycled": allowed}
    return predicted


def predict_icmp(code: KernelCode | None) -> dict[str, str]:
    """The error tcp_v4_err gives for each ICMP code, read from the vendored icmp_err_convert; {} when unreadable."""
    if code is None:
        return {}
    table, err = code.source("icmp_err_convert"), code.source("tcp_v4_err")
    if table is None or err is None or "err = icmp_err_convert[code].errno" not in err:
        return {}
    names = re.findall(r"\.errno\s*=\s*(E[A-Z]+)", table)
    return {name: names[number] for name, number in ICMP_CODES if number < len(names)}


def _explain(result: PortsResult, code: KernelCode | None) -> PortsResult:
    r = result
    predicted = predict(code, r.ports, r.tw_reuse)
    measured = dataclasses.asdict(r)
    agrees = {key: measured[key] == value for key, value in predicted.items() if key in measured}
    icmp_predicted = predict_icmp(code) if r.icmp_errors else {}
    if icmp_predicted:
        agrees["icmp_errors"] = r.icmp_errors == icmp_predicted
    for key in ("connected_first", "connected_second", "shared_ports"):
        if f"{key}_at_least" in predicted:
            agrees[key] = measured[key] >= predicted[f"{key}_at_least"]
    low, high = r.port_range
    shown = ", ".join(str(p) for p in r.source_ports_first)
    explanations = [
        Explanation(
            "connected_first",
            f"net.ipv4.ip_local_port_range is {low} {high} in the lab's namespace ({r.ports} ports). Unbound clients "
            f"connecting to {SERVER}:{r.destinations[0]} got the source ports {shown}: inet_hash_connect starts at a "
            f"keyed hash of the addresses and the destination port (inet_sk_port_offset) and __inet_hash_connect walks "
            f"the range from there, {r.first_pass_parity} ports of the low end's parity first, then the others. "
            f"{r.connected_first} connections fitted, and the next connect() failed with {r.first_error or 'nothing'}.",
            code_refs(code, "inet_hash_connect", "__inet_hash_connect", "inet_sk_port_offset", "inet_sk_get_local_port_range"),
        ),
        Explanation(
            "shared_ports",
            f"To the second destination, {SERVER}:{r.destinations[1]}, {r.connected_second} more connections fitted, "
            f"{r.shared_ports} of them on ports the first destination's clients still hold: a bind bucket made by "
            f"connect() (fastreuse -1) is shared whenever __inet_check_established finds the 4-tuple unique, so the "
            f"limit is per destination, not per machine.",
            code_refs(code, "__inet_hash_connect", "__inet_check_established", "inet_bind_bucket_create"),
        ),
    ]
    if r.tw_reuse is not None:
        explanations.append(
            Explanation(
                "tw_reused",
                f"Then the client of port {r.tw_port} closed first, so that 4-tuple waits in TIME-WAIT, and every other "
                f"port of the range was still in use towards {SERVER}:{r.destinations[0]}. After a second, one more client "
                f"connected there, with net.ipv4.tcp_tw_reuse = {r.tw_reuse} (tcp_timestamps = {r.tcp_timestamps}): "
                + (
                    f"it took over the TIME-WAIT's 4-tuple on port {r.new_port} (TWRecycled +{r.tw_recycled}): "
                    f"tcp_twsk_unique allowed it, since the old connection had timestamps, a second had passed, and "
                    f"tcp_tw_reuse {'is 1' if r.tw_reuse == 1 else 'is 2, which allows loopback connections'}."
                    if r.tw_reused
                    else f"connect() failed (TWRecycled +{r.tw_recycled}): tcp_twsk_unique refuses to reuse the 4-tuple "
                    "with tcp_tw_reuse 0, so the range had no port left."
                ),
                code_refs(code, "__inet_check_established", "tcp_twsk_unique"),
            )
        )
    if r.icmp_errors:
        got = ", ".join(f"{name} {error or 'no error'}" for name, error in r.icmp_errors.items())
        explanations.append(
            Explanation(
                "icmp_errors",
                f"Before the port steps, nftables rules answered SYNs to {ICMP_TARGET} with ICMP destination-unreachable errors, one code per "
                f"destination port, and a client connected to each: {got}, the slowest after {r.icmp_seconds} s. tcp_v4_err "
                f"finds the socket in SYN-SENT by the TCP header quoted in the ICMP message, converts the code with "
                f"icmp_err_convert, and since the attempt is not yet synchronized, ends it at once (tcp_done_with_error): "
                f"connect() returns the error instead of retrying the SYN.",
                code_refs(code, "tcp_v4_err", "icmp_err_convert", "tcp_done_with_error"),
            )
        )
    return dataclasses.replace(
        result, explanations=tuple(explanations), predicted=predicted, agrees=agrees, icmp_predicted=icmp_predicted, vendored_kernel=vendored_kernel(code)
    )
