"""The accept-queue lab: listen(backlog), connect clients without accepting, and look.

What the vendored code predicts (Linux 6.1):

- `__sys_listen` (`__sys_listen_socket` since 6.11) clamps the backlog: `if ((unsigned int)backlog > somaxconn) backlog = somaxconn;`
  and `inet_listen` stores it in sk_max_ack_backlog, which sock_diag reports for a listener
  as its write-queue size (`ss -lnt` Send-Q).
- `sk_acceptq_is_full` is `sk_ack_backlog > sk_max_ack_backlog`: the queue takes one more
  connection than the backlog, so backlog N holds N + 1 established connections
  (sock_diag's read-queue size for a listener, `ss -lnt` Recv-Q).
- Once full, `tcp_conn_request` drops each new SYN (LISTEN_OVERFLOWS, then `tcp_listendrop`
  for LISTEN_DROPS): those clients stay in SYN-SENT and retransmit, and each retransmitted
  SYN is dropped and counted again.
"""

from __future__ import annotations

import dataclasses
import errno
import resource
import socket
import time
from contextlib import ExitStack

from . import MAX_CLIENTS, LabError, check_backlog, check_range
from .code import KernelCode, clamp_function, code_refs, vendored_kernel
from .observe import (
    LINGER_RST,
    counter_deltas,
    kernel_release,
    read_netstat,
    read_sysctl,
    tcp_sockets,
    wait_until_stable,
    write_sysctl,
)
from .results import AcceptQueueObservation, AcceptQueueResult, Explanation

LOOPBACK = "127.0.0.1"
LOOPBACK6 = "::1"
MAPPED_LOOPBACK = "::ffff:127.0.0.1"  # --v4-mapped: where the IPv6 listener binds
DEFAULT_BACKLOG = 4
SETTLE_S = 0.15  # how long the socket states must stay unchanged before we look
MAX_WAIT_S = 5.0


def check_arguments(backlog: int, clients: int | None) -> None:
    check_backlog(backlog)
    check_range("--clients", clients, 0, MAX_CLIENTS)


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise LabError(f"this lab needs {needed} file descriptors but the limit is {hard} (ulimit -Hn); ask for fewer --clients", exit_code=1)
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def _snapshot(port: int, loopback: str = LOOPBACK, listener_family: int | None = None) -> AcceptQueueObservation:
    """The listener, its children and its clients, as sock_diag sees them.

    `listener_family` (AF_INET6 for a v4-mapped listener) is the listener's family when it is
    not the clients' one: the listener is then read from that family's dump.
    """
    listener = None
    client_established = client_syn_sent = server_established = server_syn_recv = 0
    family = socket.AF_INET6 if ":" in loopback else socket.AF_INET
    if listener_family is not None and listener_family != family:
        listener = next((s for s in tcp_sockets(("LISTEN",), listener_family) if s.sport == port), None)
    for s in tcp_sockets(("LISTEN", "ESTABLISHED", "SYN-SENT", "SYN-RECV"), family):
        if s.state == "LISTEN" and s.sport == port:
            listener = listener or s
        elif s.dport == port and s.dst == loopback:
            client_established += s.state == "ESTABLISHED"
            client_syn_sent += s.state == "SYN-SENT"
        elif s.sport == port and s.src == loopback:
            server_established += s.state == "ESTABLISHED"
            server_syn_recv += s.state == "SYN-RECV"
    if listener is None:
        raise LabError("sock_diag did not report the lab's listener", exit_code=1)
    return AcceptQueueObservation(
        queued=listener.rqueue,
        effective_backlog=listener.wqueue,
        client_established=client_established,
        client_syn_sent=client_syn_sent,
        server_established=server_established,
        server_syn_recv=server_syn_recv,
    )


def accept_queue_lab(
    backlog: int = DEFAULT_BACKLOG,
    clients: int | None = None,
    *,
    code: KernelCode | None = None,
    private_netns: bool = False,
    somaxconn: int | None = None,
    max_wait: float = MAX_WAIT_S,
    ipv6: bool = False,
    v4_mapped: bool = False,
) -> AcceptQueueResult:
    """Run the lab; return its observations, predictions and explanations.

    `clients` defaults to four more than the accept queue can hold. With `private_netns`
    (root only) the lab runs in a namespace of its own, so the TcpExt counters count
    nothing but the lab, and `somaxconn` sets net.core.somaxconn inside that namespace (to see
    the clamp with a few clients).  With `ipv6` the listener and the clients use ::1
    (tcp_v6_conn_request and tcp_v6_syn_recv_sock apply the same tests).  With `v4_mapped` the
    listener is an IPv6 socket (IPV6_V6ONLY off) bound to ::ffff:127.0.0.1 and the clients are
    IPv4: their SYNs reach it through tcp_v6_conn_request, which hands them to
    tcp_v4_conn_request, and the lab accepts one child at the end to show its v4-mapped peer.
    """
    check_arguments(backlog, clients)
    if ipv6 and v4_mapped:
        raise LabError("--ipv6 and --v4-mapped: choose one (--v4-mapped is an IPv6 listener with IPv4 clients)", exit_code=2)
    if somaxconn is not None and not private_netns:
        raise LabError("--somaxconn changes a sysctl: only inside the lab's own namespace (add --netns)", exit_code=2)
    check_range("--somaxconn", somaxconn, 0)
    with ExitStack() as stack:
        if private_netns:
            from .netns import PrivateNetns, signals_raise

            stack.enter_context(signals_raise())
            ns = stack.enter_context(PrivateNetns())
            stack.enter_context(ns.entered())
            if somaxconn is not None:
                write_sysctl("net.core.somaxconn", somaxconn)
        somaxconn = read_sysctl("net.core.somaxconn")
        if clients is None:
            clients = min(min(backlog, somaxconn) + 1 + 4, MAX_CLIENTS)
        _raise_fd_limit(clients + 64)
        result = _run(backlog, clients, somaxconn, max_wait, "private" if private_netns else "current", ipv6, v4_mapped)
    return _explain(result, code)


def _run(backlog: int, clients: int, somaxconn: int, max_wait: float, netns: str, ipv6: bool = False, v4_mapped: bool = False) -> AcceptQueueResult:
    sockets: list[socket.socket] = []
    started = time.monotonic()
    family, loopback = (socket.AF_INET6, LOOPBACK6) if ipv6 else (socket.AF_INET, LOOPBACK)
    listener_family, bound = (socket.AF_INET6, MAPPED_LOOPBACK) if v4_mapped else (family, loopback)
    accepted_peer = None
    try:
        listener = socket.socket(listener_family, socket.SOCK_STREAM)
        sockets.append(listener)
        try:
            if v4_mapped:
                listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            listener.bind((bound, 0))
        except OSError as exc:
            raise LabError(f"cannot listen on {bound}: {exc.strerror or exc} (is IPv6 disabled here?)", exit_code=1) from None
        listener.listen(backlog)
        port = listener.getsockname()[1]
        before = read_netstat()
        failed = 0
        for _ in range(clients):
            client = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(client)
            client.setblocking(False)
            # abortive close afterwards: RST, no TIME-WAIT left behind
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
            rc = client.connect_ex((loopback, port))
            if rc not in (0, errno.EINPROGRESS):
                failed += 1
        # Loopback handshakes finish in softirq context, usually before connect() returns;
        # wait until nothing moves (bounded), then look once.
        snap = wait_until_stable(lambda: _snapshot(port, loopback, listener_family), max_wait, settle=SETTLE_S)
        deltas = counter_deltas(before, read_netstat())
        elapsed = time.monotonic() - started
        if v4_mapped and snap.queued:  # after looking: one child, to see what accept() returns
            listener.settimeout(1.0)
            try:
                child, peer = listener.accept()
                sockets.append(child)
                child.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
                accepted_peer = str(peer[0])
            except OSError:
                pass
    finally:
        for s in reversed(sockets):
            s.close()
    return AcceptQueueResult(
        kernel=kernel_release(),
        port=port,
        backlog=backlog,
        somaxconn=somaxconn,
        clients=clients,
        effective_backlog=snap.effective_backlog,
        queued=snap.queued,
        syn_sent=snap.client_syn_sent,
        established_clients=snap.client_established,
        server_syn_recv=snap.server_syn_recv,
        connect_errors=failed,
        overflows=deltas["ListenOverflows"],
        drops=deltas["ListenDrops"],
        counters=deltas,
        seconds=round(elapsed, 3),
        netns=netns,
        ipv6=ipv6,
        v4_mapped=v4_mapped,
        accepted_peer=accepted_peer,
    )


def _full_operator(code: KernelCode | None) -> str | None:
    """The comparison sk_acceptq_is_full makes between the accept queue and the backlog (">" in 6.1)."""
    if code is None:
        return None
    return code.comparison("sk_acceptq_is_full", "READ_ONCE(sk->sk_ack_backlog)") or code.comparison("sk_acceptq_is_full", "sk->sk_ack_backlog")


def predict(code: KernelCode | None, backlog: int, somaxconn: int, clients: int) -> dict[str, int]:
    """What the vendored clamp (__sys_listen, or __sys_listen_socket) and sk_acceptq_is_full imply; {} when their source is unavailable."""
    if code is None or not code.clamps_backlog():
        return {}
    predicted = {"effective_backlog": min(backlog, somaxconn)}
    full_op = _full_operator(code)
    if full_op in (">", ">="):
        capacity = predicted["effective_backlog"] + (1 if full_op == ">" else 0)
        predicted["queued"] = min(clients, capacity)
        predicted["syn_sent"] = clients - predicted["queued"]
        predicted["overflows_at_least"] = predicted["syn_sent"]
    return predicted


def _explain(result: AcceptQueueResult, code: KernelCode | None) -> AcceptQueueResult:
    """Add what the vendored code predicts, whether the run agrees, and why, with code links."""
    r = result
    predicted = predict(code, r.backlog, r.somaxconn, r.clients)
    measured = {"effective_backlog": r.effective_backlog, "queued": r.queued, "syn_sent": r.syn_sent}
    agrees = {key: predicted[key] == value for key, value in measured.items() if key in predicted}
    if "overflows_at_least" in predicted:
        agrees["overflows"] = r.overflows >= predicted["overflows_at_least"]
    full_op = _full_operator(code) or ">"
    clamp = clamp_function(code)

    clamp_text = (
        f"listen() asked for backlog {r.backlog}; the kernel applied {r.effective_backlog} (ss -lnt Send-Q). "
        + (
            f"{r.backlog} is above net.core.somaxconn = {r.somaxconn}, and {clamp} clamps "
            f"`(unsigned int)backlog > somaxconn` to somaxconn before inet_listen stores it in sk_max_ack_backlog."
            if r.backlog > r.somaxconn
            else f"{r.backlog} is within net.core.somaxconn = {r.somaxconn}, so {clamp} passes it through "
            f"and inet_listen stores it in sk_max_ack_backlog."
        )
    )
    queue_text = (
        f"{r.queued} connections completed the handshake and wait in the accept queue (ss -lnt Recv-Q) "
        f"for a backlog of {r.effective_backlog}: sk_acceptq_is_full tests sk_ack_backlog {full_op} sk_max_ack_backlog, "
        f"so the queue is full only once it holds backlog + 1."
    )
    stuck_text = (
        f"{r.syn_sent} clients are stuck in SYN-SENT: with the accept queue full, tcp_conn_request drops their SYN "
        f"(the `sk_acceptq_is_full(sk)` test) without answering, and the client retransmits it later."
    )
    counter_text = (
        f"TcpExt ListenOverflows grew by {r.overflows} and ListenDrops by {r.drops}: each dropped SYN "
        f"counts once in each (NET_INC_STATS(LINUX_MIB_LISTENOVERFLOWS), then tcp_listendrop), and a retransmitted SYN "
        f"counts again, so the overflows are at least the number of stuck clients"
        + (" (other sockets in this namespace count too: run with --netns for a clean count)." if r.netns != "private" else ".")
    )
    if r.v4_mapped:
        queue_text += (
            f" The listener is an IPv6 socket (IPV6_V6ONLY off, bound to {MAPPED_LOOPBACK}) and the clients are IPv4: "
            f"each SYN arrives through tcp_v4_rcv, the listener's conn_request, tcp_v6_conn_request, hands the IPv4 "
            f"segment to tcp_v4_conn_request, and at the final ACK tcp_v6_syn_recv_sock hands it to tcp_v4_syn_recv_sock, "
            f"which makes the same sk_acceptq_is_full test: the IPv4 connections fill the IPv6 listener's accept queue "
            + (
                f"by the same rule. accept() then returned a child whose peer is {r.accepted_peer}: an IPv6 socket with a "
                f"v4-mapped address (the ipv6_mapped operations)."
                if r.accepted_peer
                else "by the same rule."
            )
        )
    if r.ipv6:
        queue_text += (
            " Over IPv6 (::1) the handshake goes through tcp_v6_conn_request and tcp_v6_syn_recv_sock, which make the "
            "same sk_acceptq_is_full test and hand the SYN to the same tcp_conn_request."
        )
    explanations = (
        Explanation("effective_backlog", clamp_text, code_refs(code, clamp, "inet_listen", "tcp_diag_get_info")),
        Explanation(
            "queued",
            queue_text,
            code_refs(code, "sk_acceptq_is_full", "sk_acceptq_added", "tcp_v4_syn_recv_sock", "tcp_diag_get_info", *(("tcp_v6_conn_request", "tcp_v4_conn_request", "tcp_v6_syn_recv_sock", "tcp_v6_mapped_child_init") if r.v4_mapped else ())),
        ),
        Explanation("syn_sent", stuck_text, code_refs(code, "tcp_conn_request", "sk_acceptq_is_full")),
        Explanation("overflows", counter_text, code_refs(code, "tcp_conn_request", "tcp_listendrop")),
    )
    return dataclasses.replace(result, explanations=explanations, predicted=predicted, agrees=agrees, vendored_kernel=vendored_kernel(code))
