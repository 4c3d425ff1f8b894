"""Looking at the running kernel: TcpExt counters, sysctls, and TCP sockets through sock_diag.

Everything here reads the network namespace of the calling thread (the labs enter their
private namespace with setns), so paths go through /proc/thread-self rather than
/proc/self or /proc/net.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# include/net/tcp_states.h
TCP_STATES = {
    1: "ESTABLISHED",
    2: "SYN-SENT",
    3: "SYN-RECV",
    4: "FIN-WAIT-1",
    5: "FIN-WAIT-2",
    6: "TIME-WAIT",
    7: "CLOSE",
    8: "CLOSE-WAIT",
    9: "LAST-ACK",
    10: "LISTEN",
    11: "CLOSING",
    12: "NEW-SYN-RECV",
}
STATE_NUMBERS = {name: number for number, name in TCP_STATES.items()}

# The TcpExt counters the labs watch, as /proc/net/netstat spells them.
WATCHED_COUNTERS = (
    "ListenOverflows",
    "ListenDrops",
    "TCPReqQFullDrop",
    "TCPReqQFullDoCookies",
    "SyncookiesSent",
    "SyncookiesRecv",
    "SyncookiesFailed",
)


def read_netstat(path: str = "/proc/thread-self/net/netstat") -> dict[str, int]:
    """The TcpExt (and IpExt, MPTcpExt, ...) counters of this thread's network namespace.

    Keys are "Group.Name", e.g. "TcpExt.ListenOverflows".
    """
    counters: dict[str, int] = {}
    with open(path, encoding="ascii") as f:
        lines = f.read().splitlines()
    # The file alternates a header line and a value line for each group.
    for header, values in zip(lines[0::2], lines[1::2], strict=False):
        group, _, names = header.partition(":")
        _, _, numbers = values.partition(":")
        for name, number in zip(names.split(), numbers.split(), strict=False):
            counters[f"{group}.{name}"] = int(number)
    return counters


def counter_deltas(before: dict[str, int], after: dict[str, int], names: tuple[str, ...] = WATCHED_COUNTERS) -> dict[str, int]:
    """TcpExt counter increments between two reads, for the watched names."""
    return {name: after.get(f"TcpExt.{name}", 0) - before.get(f"TcpExt.{name}", 0) for name in names}


def _sysctl_path(name: str) -> str:
    return "/proc/sys/" + name.replace(".", "/")


def read_sysctl(name: str) -> int:
    """An integer sysctl of this thread's network namespace, e.g. "net.core.somaxconn"."""
    with open(_sysctl_path(name), encoding="ascii") as f:
        return int(f.read().split()[0])


def write_sysctl(name: str, value: int) -> None:
    with open(_sysctl_path(name), "w", encoding="ascii") as f:
        f.write(f"{value}\n")


def kernel_release() -> str:
    return os.uname().release


# SO_LINGER on with 0 s: close() resets the connection, so a lab leaves no TIME-WAIT behind
LINGER_RST = struct.pack("ii", 1, 0)


def close_with_reset(sockets: Iterable[socket.socket]) -> None:
    """Close every socket abortively (RST); one that can no longer take the option is just closed."""
    for s in sockets:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
        except OSError:
            pass
        s.close()


def accept_ready(listener: socket.socket) -> list[tuple[socket.socket, tuple[str, int]]]:
    """Every connection a non-blocking listener has ready now, as accept() returns them (none: [])."""
    accepted = []
    while True:
        try:
            accepted.append(listener.accept())
        except BlockingIOError:
            return accepted


def count_reset(sockets: Iterable[socket.socket]) -> int:
    """How many of these sockets' connections the peer reset (pending error ECONNRESET)."""
    return sum(1 for s in sockets if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNRESET)


def wait_until_stable(read: Callable[[], T], timeout: float, interval: float = 0.03, settle: float = 0.15) -> T:
    """Call `read()` every `interval` seconds until its value stays the same for `settle` seconds; return it.

    Bounded: after `timeout` seconds it returns the last value read, settled or not (a
    kernel that keeps retransmitting must not hold a lab forever).  `read` is called at most
    about timeout / interval + 1 times.
    """
    if interval <= 0 or timeout < 0 or settle < 0:
        raise ValueError("wait_until_stable: interval must be positive, timeout and settle not negative")
    value = read()
    stable_since = time.monotonic()
    deadline = stable_since + timeout
    while time.monotonic() < deadline:
        time.sleep(interval)
        again = read()
        if again != value:
            value, stable_since = again, time.monotonic()
        elif time.monotonic() - stable_since >= settle:
            break
    return value


# ---------------------------------------------------------------- sock_diag (inet_diag over netlink)

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
# struct inet_diag_req_v2: family, protocol, ext, pad, states, then struct inet_diag_sockid
_REQ_V2 = struct.Struct("=BBBxI")
# struct inet_diag_sockid: sport, dport (network order), src[4], dst[4], if, cookie[2]
_SOCKID = struct.Struct("!HH16s16s")
_SOCKID_TAIL = struct.Struct("=I8s")
# struct inet_diag_msg: family, state, timer, retrans, sockid, expires, rqueue, wqueue, uid, inode
_MSG_HEAD = struct.Struct("=BBBB")
_MSG_TAIL = struct.Struct("=IIIII")


@dataclass(frozen=True)
class DiagSocket:
    """One TCP socket (or request socket) as inet_diag reports it.

    For a listener, rqueue is sk_ack_backlog (connections waiting in the accept queue) and
    wqueue is sk_max_ack_backlog (the backlog the kernel applied): what `ss -lnt` shows as
    Recv-Q and Send-Q (inet_diag_msg_common_fill / tcp_diag_get_info).
    """

    state: str
    src: str
    sport: int
    dst: str
    dport: int
    rqueue: int
    wqueue: int
    inode: int
    retrans: int = 0  # a request's SYN-ACK retransmissions (num_retrans); a socket's icsk_retransmits


def tcp_sockets(
    states: tuple[str, ...] | None = ("LISTEN", "ESTABLISHED", "SYN-SENT", "SYN-RECV"), family: int = socket.AF_INET
) -> list[DiagSocket]:
    """TCP sockets of this thread's network namespace of one family (AF_INET or AF_INET6), in the given states (None: all).

    Asking for SYN-RECV also returns request sockets (the SYN queue), as `ss` does.
    """
    mask = 0
    for name in states if states is not None else TCP_STATES.values():
        mask |= 1 << STATE_NUMBERS[name]
    if mask & (1 << STATE_NUMBERS["SYN-RECV"]):
        mask |= 1 << STATE_NUMBERS["NEW-SYN-RECV"]
    request = _REQ_V2.pack(family, socket.IPPROTO_TCP, 0, mask)
    request += _SOCKID.pack(0, 0, b"\0" * 16, b"\0" * 16) + _SOCKID_TAIL.pack(0, b"\xff" * 8)
    header = _NLMSGHDR.pack(_NLMSGHDR.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
    found: list[DiagSocket] = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as nl:
        nl.settimeout(5.0)
        nl.sendto(header + request, (0, 0))
        while True:
            data = nl.recv(1 << 20)
            offset = 0
            while offset + _NLMSGHDR.size <= len(data):
                length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
                if length < _NLMSGHDR.size:
                    raise OSError(errno.EPROTO, "malformed netlink message from sock_diag")
                body = offset + _NLMSGHDR.size
                if kind == NLMSG_DONE:
                    return found
                if kind == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", data, body)
                    if code:
                        raise OSError(-code, f"sock_diag: {os.strerror(-code)}")
                else:
                    found.append(_parse_diag_msg(data, body))
                offset += (length + 3) & ~3


def _parse_diag_msg(data: bytes, at: int) -> DiagSocket:
    family, state, _timer, retrans = _MSG_HEAD.unpack_from(data, at)
    af, width = (socket.AF_INET6, 16) if family == socket.AF_INET6 else (socket.AF_INET, 4)
    at += _MSG_HEAD.size
    sport, dport, src, dst = _SOCKID.unpack_from(data, at)
    at += _SOCKID.size + _SOCKID_TAIL.size
    _expires, rqueue, wqueue, _uid, inode = _MSG_TAIL.unpack_from(data, at)
    name = TCP_STATES.get(state, str(state))
    if name == "NEW-SYN-RECV":  # inet_req_diag_fill reports request sockets as SYN-RECV already
        name = "SYN-RECV"
    return DiagSocket(
        state=name,
        src=socket.inet_ntop(af, src[:width]),
        sport=sport,
        dst=socket.inet_ntop(af, dst[:width]),
        dport=dport,
        rqueue=rqueue,
        wqueue=wqueue,
        inode=inode,
        retrans=retrans,
    )
