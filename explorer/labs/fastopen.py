"""The final-ACK lab's Fast Open run (`kexplore lab final-ack --fastopen Q`): children before the final ACK.

In a private network namespace (root only), with net.ipv4.tcp_fastopen = 0x207 there
(client and server on, neither needing a cookie: TFO_CLIENT_NO_COOKIE, TFO_SERVER_COOKIE_NOT_REQD),
a listener sets TCP_FASTOPEN to Q and `clients` late clients from 127.0.0.2 each send a SYN with
data (sendto with MSG_FASTOPEN).  The nftables rule of the final-ACK lab holds back their final
ACKs, so no handshake completes while the lab looks.

What the vendored code predicts (Linux 6.1):

- `tcp_conn_request` asks `tcp_try_fastopen` for each SYN; `tcp_fastopen_queue_check` lets Q
  through (`fastopenq.qlen < max_qlen`), and `tcp_fastopen_create_child` makes a child in
  SYN_RECV with the SYN's data on its receive queue (TCPFastOpenPassive), which
  `inet_csk_reqsk_queue_add` puts in the accept queue at once: the listener's Recv-Q is Q
  before any final ACK, and the SYN queue does not count them;
- the SYNs beyond Q find the Fast Open queue full: TCPFastOpenListenOverflow, and they are
  handled as normal SYNs (a request each, in the SYN queue; their data not accepted);
- `accept()` returns a child still in SYN_RECV (`inet_csk_accept` leaves its request attached),
  and `read()` returns the SYN's data before the handshake completes;
- once the rule is removed and each client sends again, the segment's ACK completes the
  handshake (`tcp_rcv_state_process`, `tcp_rcv_synrecv_state_fastopen`): the children become
  ESTABLISHED.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import TYPE_CHECKING

from . import LabError
from .observe import (
    close_with_reset,
    count_reset,
    counter_deltas,
    kernel_release,
    read_netstat,
    read_sysctl,
    tcp_sockets,
    wait_until_stable,
    write_sysctl,
)

if TYPE_CHECKING:
    from .netns import PrivateNetns
    from .results import FinalAckResult

TFO_SYSCTL = 0x1 | 0x2 | 0x4 | 0x200  # client, server, client without a cookie, server without requiring one
DATA = b"GET /"  # what each late client sends in its SYN
COUNTERS = ("TCPFastOpenPassive", "TCPFastOpenListenOverflow", "TCPFastOpenPassiveFail", "TCPFastOpenCookieReqd", "TCPSynRetrans", "ListenOverflows", "ListenDrops", "EmbryonicRsts")
TCP_SYN_RECV = 3
TCP_ESTABLISHED = 1
MAX_FASTOPEN = 1_000


def _tcp_state(s: socket.socket) -> int:
    """The socket's TCP state (tcpi_state, the first byte of TCP_INFO)."""
    return struct.unpack_from("B", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8))[0]


def fastopen_max_qlen(port: int, path: str = "/proc/thread-self/net/tcp") -> int | None:
    """The listener's fastopenq.max_qlen, the last column of its /proc/net/tcp line (get_tcp4_sock)."""
    with open(path, encoding="ascii") as f:
        for line in f.read().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return int(fields[-1])
    return None


def _server_side(port: int, late_source: str) -> tuple[int, int, int]:
    """(the listener's accept queue, server-side SYN-RECV entries for the late clients, late clients ESTABLISHED)."""
    queued = syn_recv = established = 0
    for s in tcp_sockets(("LISTEN", "ESTABLISHED", "SYN-RECV")):
        if s.state == "LISTEN" and s.sport == port:
            queued = s.rqueue
        elif s.state == "SYN-RECV" and s.sport == port and s.dst == late_source:
            syn_recv += 1
        elif s.state == "ESTABLISHED" and s.src == late_source and s.dport == port:
            established += 1
    return queued, syn_recv, established


def run_fastopen(ns: PrivateNetns, backlog: int, clients: int, limit: int, max_wait: float) -> FinalAckResult:
    from .final_ack import LATE_CLIENT, NFT_TABLE, SERVER, nft_ruleset
    from .results import FinalAckResult

    started = time.monotonic()
    sockets: list[socket.socket] = []
    late: list[socket.socket] = []
    accepted: list[socket.socket] = []
    try:
        with ns.entered():
            write_sysctl("net.ipv4.tcp_fastopen", TFO_SYSCTL)
            room = max(backlog, clients + 1)
            if read_sysctl("net.core.somaxconn") < max(room, limit):  # fastopen_queue_tune clamps the limit to it
                write_sysctl("net.core.somaxconn", max(room, limit))
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(listener)
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, limit)
            listener.bind((SERVER, 0))
            listener.listen(room)
            port = listener.getsockname()[1]
            max_qlen = fastopen_max_qlen(port)
        ns.exec(["nft", "-f", "-"], stdin=nft_ruleset(port))
        with ns.entered():
            before = read_netstat()
            for _ in range(clients):
                client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                late.append(client)
                client.setblocking(False)
                client.bind((LATE_CLIENT, 0))
                try:
                    client.sendto(DATA, socket.MSG_FASTOPEN, (SERVER, port))
                except BlockingIOError:
                    pass
                except OSError as exc:
                    raise LabError(f"a Fast Open client's sendto() failed: {exc.strerror or exc}") from None
            queued, syn_recv, established = wait_until_stable(lambda: _server_side(port, LATE_CLIENT), max_wait, settle=0.15)
            deltas = counter_deltas(before, read_netstat(), COUNTERS)
            # accept the children: each still in SYN_RECV, its SYN's data already readable
            listener.settimeout(1.0)
            in_syn_recv = data_read = 0
            for _ in range(queued):
                try:
                    child, _peer = listener.accept()
                except OSError:
                    break
                accepted.append(child)
                in_syn_recv += _tcp_state(child) == TCP_SYN_RECV
                child.settimeout(1.0)
                try:
                    data_read += len(child.recv(len(DATA) + 16))
                except OSError:
                    pass
        ns.exec(["nft", "delete", "table", "inet", NFT_TABLE])
        with ns.entered():
            for client in late:
                try:
                    client.send(b"x")  # its ACK completes the handshake (the children's, and the requests')
                except OSError:
                    pass
            deadline = time.monotonic() + max_wait
            now_established = 0
            while time.monotonic() < deadline:
                now_established = sum(1 for child in accepted if _tcp_state(child) == TCP_ESTABLISHED)
                if now_established == len(accepted):
                    break
                time.sleep(0.05)
            reset = count_reset(late)
    finally:
        close_with_reset((*accepted, *late, *sockets))
    return FinalAckResult(
        kernel=kernel_release(),
        backlog=backlog,
        clients=clients,
        abort_on_overflow=read_sysctl_in(ns, "net.ipv4.tcp_abort_on_overflow"),
        established=established,
        reset=reset,
        listen_overflows=deltas["ListenOverflows"],
        listen_drops=deltas["ListenDrops"],
        synack_retransmits=deltas["TCPSynRetrans"],
        embryonic_rsts=deltas["EmbryonicRsts"],
        completed_after_accept=None,
        server_syn_recv=syn_recv,
        request_retransmits=0,
        bytes_sent=len(DATA) * clients,
        filled=0,
        queued=queued,
        effective_backlog=room,
        port=port,
        netns=ns.name,
        counters=deltas,
        watched_seconds=0.0,
        seconds=round(time.monotonic() - started, 3),
        fastopen=limit,
        fastopen_max_qlen=max_qlen,
        fastopen_children=queued,
        fastopen_requests=syn_recv - queued,
        fastopen_passive=deltas["TCPFastOpenPassive"],
        fastopen_listen_overflow=deltas["TCPFastOpenListenOverflow"],
        accepted_syn_recv=in_syn_recv,
        data_before_handshake=data_read,
        established_after_release=now_established,
    )


def read_sysctl_in(ns: PrivateNetns, name: str) -> int:
    with ns.entered():
        return read_sysctl(name)
