"""The accept-queue lab: listen(backlog), connect clients without accepting, and look.

What the vendored code predicts (Linux 6.1):

- `__sys_listen` clamps the backlog: `if ((unsigned int)backlog > somaxconn) backlog = somaxconn;`
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

import errno
import resource
import socket
import time
from contextlib import ExitStack

from . import MAX_BACKLOG, MAX_CLIENTS, LabError
from .code import CodeRef, KernelCode
from .observe import DiagSocket, counter_deltas, kernel_release, read_netstat, read_sysctl, tcp_sockets, wait_until_stable, write_sysctl

LOOPBACK = "127.0.0.1"
DEFAULT_BACKLOG = 4
SETTLE_S = 0.15  # how long the socket states must stay unchanged before we look
MAX_WAIT_S = 5.0


def check_arguments(backlog: int, clients: int | None) -> None:
    if backlog < 0:
        raise LabError(f"--backlog {backlog}: a backlog cannot be negative (listen(2) would treat it as huge and clamp it)", exit_code=2)
    if backlog > MAX_BACKLOG:
        raise LabError(f"--backlog {backlog}: listen(2) takes an int; at most {MAX_BACKLOG}", exit_code=2)
    if clients is not None and not 0 <= clients <= MAX_CLIENTS:
        raise LabError(f"--clients {clients}: between 0 and {MAX_CLIENTS:,} clients, please", exit_code=2)


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise LabError(f"this lab needs {needed} file descriptors but the limit is {hard} (ulimit -Hn); ask for fewer --clients", exit_code=1)
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def _snapshot(port: int) -> dict[str, object]:
    """The listener, its children and its clients, as sock_diag sees them."""
    listener: DiagSocket | None = None
    counts = {"client_established": 0, "client_syn_sent": 0, "server_established": 0, "server_syn_recv": 0}
    for s in tcp_sockets(("LISTEN", "ESTABLISHED", "SYN-SENT", "SYN-RECV")):
        if s.state == "LISTEN" and s.sport == port:
            listener = s
        elif s.dport == port and s.dst == LOOPBACK:
            if s.state == "ESTABLISHED":
                counts["client_established"] += 1
            elif s.state == "SYN-SENT":
                counts["client_syn_sent"] += 1
        elif s.sport == port and s.src == LOOPBACK:
            if s.state == "ESTABLISHED":
                counts["server_established"] += 1
            elif s.state == "SYN-RECV":
                counts["server_syn_recv"] += 1
    if listener is None:
        raise LabError("sock_diag did not report the lab's listener", exit_code=1)
    return {"queued": listener.rqueue, "effective_backlog": listener.wqueue, **counts}


def accept_queue_lab(
    backlog: int = DEFAULT_BACKLOG,
    clients: int | None = None,
    *,
    code: KernelCode | None = None,
    private_netns: bool = False,
    somaxconn: int | None = None,
    max_wait: float = MAX_WAIT_S,
) -> dict[str, object]:
    """Run the lab; return its observations, predictions and explanations (JSON-ready).

    `clients` defaults to four more than the accept queue can hold. With `private_netns`
    (root only) the lab runs in a namespace of its own, so the TcpExt counters count
    nothing but the lab, and `somaxconn` sets net.core.somaxconn inside that namespace (to see
    the clamp with a few clients).
    """
    check_arguments(backlog, clients)
    if somaxconn is not None:
        if not private_netns:
            raise LabError("--somaxconn changes a sysctl: only inside the lab's own namespace (add --netns)", exit_code=2)
        if not 0 <= somaxconn <= MAX_BACKLOG:
            raise LabError(f"--somaxconn {somaxconn}: between 0 and {MAX_BACKLOG}", exit_code=2)
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
        result = _run(backlog, clients, somaxconn, max_wait)
        result["netns"] = "private" if private_netns else "current"
    return _explain(result, code)


def _run(backlog: int, clients: int, somaxconn: int, max_wait: float) -> dict[str, object]:
    sockets: list[socket.socket] = []
    started = time.monotonic()
    try:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sockets.append(listener)
        listener.bind((LOOPBACK, 0))
        listener.listen(backlog)
        port = listener.getsockname()[1]
        before = read_netstat()
        failed = 0
        for _ in range(clients):
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(client)
            client.setblocking(False)
            # abortive close afterwards: RST, no TIME-WAIT left behind
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            rc = client.connect_ex((LOOPBACK, port))
            if rc not in (0, errno.EINPROGRESS):
                failed += 1
        # Loopback handshakes finish in softirq context, usually before connect() returns;
        # wait until nothing moves (bounded), then look once.
        snap = wait_until_stable(lambda: _snapshot(port), max_wait, settle=SETTLE_S)
        after = read_netstat()
        deltas = counter_deltas(before, after)
        elapsed = time.monotonic() - started
    finally:
        for s in reversed(sockets):
            s.close()
    return {
        "lab": "accept-queue",
        "kernel": kernel_release(),
        "port": port,
        "backlog": backlog,
        "somaxconn": somaxconn,
        "clients": clients,
        "effective_backlog": snap["effective_backlog"],
        "queued": snap["queued"],
        "syn_sent": snap["client_syn_sent"],
        "established_clients": snap["client_established"],
        "server_syn_recv": snap["server_syn_recv"],
        "connect_errors": failed,
        "overflows": deltas["ListenOverflows"],
        "drops": deltas["ListenDrops"],
        "counters": deltas,
        "seconds": round(elapsed, 3),
    }


def _explain(result: dict[str, object], code: KernelCode | None) -> dict[str, object]:
    """Add what the vendored code predicts, whether the run agrees, and why, with code links."""
    backlog = int(result["backlog"])  # type: ignore[arg-type]
    somaxconn = int(result["somaxconn"])  # type: ignore[arg-type]
    clients = int(result["clients"])  # type: ignore[arg-type]
    eff = int(result["effective_backlog"])  # type: ignore[arg-type]
    queued = int(result["queued"])  # type: ignore[arg-type]
    syn_sent = int(result["syn_sent"])  # type: ignore[arg-type]

    clamps = code.contains("__sys_listen", r"\(unsigned int\)\s*backlog\s*>\s*somaxconn") if code else None
    full_op = code.comparison("sk_acceptq_is_full", "READ_ONCE(sk->sk_ack_backlog)") if code else None
    if full_op is None and code is not None:
        full_op = code.comparison("sk_acceptq_is_full", "sk->sk_ack_backlog")
    predicted: dict[str, object] = {}
    if clamps:
        predicted["effective_backlog"] = min(backlog, somaxconn)
    if full_op in (">", ">=") and "effective_backlog" in predicted:
        capacity = int(predicted["effective_backlog"]) + (1 if full_op == ">" else 0)  # type: ignore[arg-type]
        predicted["queued"] = min(clients, capacity)
        predicted["syn_sent"] = clients - int(predicted["queued"])  # type: ignore[arg-type]
        predicted["overflows_at_least"] = predicted["syn_sent"]
    agrees = {}
    for key in ("effective_backlog", "queued", "syn_sent"):
        if key in predicted:
            agrees[key] = predicted[key] == result[key]
    if "overflows_at_least" in predicted:
        agrees["overflows"] = int(result["overflows"]) >= int(predicted["overflows_at_least"])  # type: ignore[arg-type]

    def refs(*names: str) -> list[dict[str, object]]:
        return [(code.ref(n) if code else CodeRef(n)).as_dict() for n in names]

    clamp_text = (
        f"listen() asked for backlog {backlog}; the kernel applied {eff} (ss -lnt Send-Q). "
        + (
            f"{backlog} is above net.core.somaxconn = {somaxconn}, and __sys_listen clamps "
            f"`(unsigned int)backlog > somaxconn` to somaxconn before inet_listen stores it in sk_max_ack_backlog."
            if backlog > somaxconn
            else f"{backlog} is within net.core.somaxconn = {somaxconn}, so __sys_listen passes it through "
            f"and inet_listen stores it in sk_max_ack_backlog."
        )
    )
    queue_text = (
        f"{queued} connections completed the handshake and wait in the accept queue (ss -lnt Recv-Q) "
        f"for a backlog of {eff}: sk_acceptq_is_full tests sk_ack_backlog {full_op or '>'} sk_max_ack_backlog, "
        f"so the queue is full only once it holds backlog + 1."
    )
    stuck_text = (
        f"{syn_sent} clients are stuck in SYN-SENT: with the accept queue full, tcp_conn_request drops their SYN "
        f"(the `sk_acceptq_is_full(sk)` test) without answering, and the client retransmits it later."
    )
    counter_text = (
        f"TcpExt ListenOverflows grew by {result['overflows']} and ListenDrops by {result['drops']}: each dropped SYN "
        f"counts once in each (NET_INC_STATS(LINUX_MIB_LISTENOVERFLOWS), then tcp_listendrop), and a retransmitted SYN "
        f"counts again, so the overflows are at least the number of stuck clients"
        + (" (other sockets in this namespace count too: run with --netns for a clean count)." if result.get("netns") != "private" else ".")
    )
    result["explanations"] = [
        {"observation": "effective_backlog", "text": clamp_text, "code": refs("__sys_listen", "inet_listen", "tcp_diag_get_info")},
        {"observation": "queued", "text": queue_text, "code": refs("sk_acceptq_is_full", "sk_acceptq_added", "tcp_v4_syn_recv_sock", "tcp_diag_get_info")},
        {"observation": "syn_sent", "text": stuck_text, "code": refs("tcp_conn_request", "sk_acceptq_is_full")},
        {"observation": "overflows", "text": counter_text, "code": refs("tcp_conn_request", "tcp_listendrop")},
    ]
    result["predicted"] = predicted
    result["agrees"] = agrees
    result["vendored_kernel"] = code.describe() if code else None
    return result

