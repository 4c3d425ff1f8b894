"""The final-ACK lab: a handshake completes against a full accept queue, with tcp_abort_on_overflow 0 or 1.

In a private network namespace (root only):

1. an nftables rule drops every segment but SYNs that the "late" clients (bound to
   127.0.0.2) send to the listener, so their final ACKs are held back: each late client is
   ESTABLISHED (its connect() returned), while the listener keeps a request (SYN-RECV);
2. "filler" clients from 127.0.0.1 complete their handshakes until the accept queue holds
   what a listener with backlog N holds (N + 1 in 6.1); the listener never accepts.  It
   listened with a larger backlog so far (the late requests and the fillers must fit), and
   now calls listen(N) again: on a socket already listening, inet_listen only stores the new
   backlog in sk_max_ack_backlog, so the queue is full;
3. the rule is removed and each late client sends one byte: that segment acknowledges the
   SYN-ACK, so it is the final ACK the listener has been waiting for;
4. with tcp_abort_on_overflow 0, the lab then accepts the queued connections, and watches the
   waiting requests complete at their clients' next retry.

What the vendored code predicts (Linux 6.1):

- `tcp_check_req` finds the request and calls `syn_recv_sock` (`tcp_v4_syn_recv_sock`),
  which refuses a child when `sk_acceptq_is_full`: ListenOverflows, then `tcp_listendrop`
  (ListenDrops), and NULL, so `tcp_check_req` goes to its `listen_overflow` label.
- tcp_abort_on_overflow = 0: the label marks the request `acked` and returns NULL: the
  segment is dropped, the request stays (SYN-RECV) and its timer keeps retransmitting the
  SYN-ACK (TCPSynRetrans); the client, ESTABLISHED, retransmits its byte and answers each
  SYN-ACK with an ACK, and every one of them is counted again.
- tcp_abort_on_overflow = 1: the label falls through to `embryonic_reset`: the listener sends
  a reset and drops the request (EmbryonicRsts); the client's connection is reset (ECONNRESET).

With `client_data` False (`--no-data`) the late clients send nothing when released: the only
segment that can complete a handshake is then the ACK each client sends in answer to the
listener's retransmitted SYN-ACK (reqsk_timer_handler, 1, 3, 7... s after the SYN), so the lab
shows that ACK meeting the full queue (dropped with 0, a reset with 1) and, with 0, the
connections completing only after a further SYN-ACK retransmission once there is room; it
reports how many SYN-ACKs were sent again before and after the room appeared, and when the
connections completed.

net.ipv4.tcp_abort_on_overflow is per network namespace: the lab sets it in its own only.
"""

from __future__ import annotations

import dataclasses
import errno
import socket
import time
from contextlib import ExitStack
from typing import TYPE_CHECKING

from . import LabError, check_backlog, check_range
from .accept_queue import _raise_fd_limit
from .code import KernelCode, code_refs, vendored_kernel
from .observe import (
    LINGER_RST,
    count_reset,
    counter_deltas,
    kernel_release,
    read_netstat,
    read_sysctl,
    tcp_sockets,
    wait_until_stable,
    write_sysctl,
)
from .results import Explanation, FinalAckResult

if TYPE_CHECKING:
    from .netns import PrivateNetns

SERVER = "127.0.0.1"
LATE_CLIENT = "127.0.0.2"  # the late clients' address: the nftables rule holds back what they send
DEFAULT_BACKLOG = 2
DEFAULT_CLIENTS = 3
MAX_FINAL_ACK_CLIENTS = 1_000
MAX_BACKLOG_HERE = 1_000  # the fillers are backlog + 1 real connections
SETTLE_S = 0.15
MAX_WAIT_S = 5.0  # the first SYN-ACK retransmission comes 1 s (TCP_TIMEOUT_INIT) after the SYN
NO_DATA_WAIT_S = 10.0  # --no-data waits for SYN-ACK retransmissions: 1, 3 and 7 s after the SYN
NFT_TABLE = "kexplore_lab"
WATCHED = ("ListenOverflows", "ListenDrops", "TCPSynRetrans", "EmbryonicRsts")


def nft_ruleset(port: int) -> str:
    return f"""
table inet {NFT_TABLE} {{
    chain output {{
        type filter hook output priority filter; policy accept;
        ip saddr {LATE_CLIENT} tcp dport {port} tcp flags & (syn | ack) == ack counter drop comment "hold back the late clients' final ACKs"
    }}
}}
"""


def check_arguments(backlog: int, clients: int, abort_on_overflow: int, fastopen: int | None = None, client_data: bool = True) -> None:
    from .fastopen import MAX_FASTOPEN

    check_backlog(backlog)
    check_range("--backlog", backlog, 0, MAX_BACKLOG_HERE)
    check_range("--clients", clients, 1, MAX_FINAL_ACK_CLIENTS)
    check_range("--abort-on-overflow", abort_on_overflow, 0, 1)
    check_range("--fastopen", fastopen, 1, MAX_FASTOPEN)
    if fastopen is not None and not client_data:
        raise LabError("--fastopen and --no-data: a Fast Open client sends its data in the SYN; choose one", exit_code=2)


def _late_clients(port: int) -> tuple[int, int, int]:
    """(late clients ESTABLISHED, late requests SYN-RECV on the listener, their SYN-ACK retransmissions)."""
    established = syn_recv = retrans = 0
    for s in tcp_sockets(("ESTABLISHED", "SYN-RECV")):
        if s.state == "ESTABLISHED" and s.src == LATE_CLIENT and s.dport == port:
            established += 1
        elif s.state == "SYN-RECV" and s.sport == port and s.dst == LATE_CLIENT:
            syn_recv += 1
            retrans += s.retrans
    return established, syn_recv, retrans


def _accept_queue(port: int) -> tuple[int, int]:
    for s in tcp_sockets(("LISTEN",)):
        if s.sport == port:
            return s.rqueue, s.wqueue
    raise LabError("sock_diag did not report the lab's listener", exit_code=1)


def _connect(sockets: list[socket.socket], source: str, port: int) -> None:
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sockets.append(client)
    client.setblocking(False)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
    client.bind((source, 0))
    rc = client.connect_ex((SERVER, port))
    if rc not in (0, errno.EINPROGRESS):
        raise LabError(f"a client's connect() failed: {errno.errorcode.get(rc, rc)}", exit_code=1)


def _capacity(code: KernelCode | None, backlog: int) -> tuple[int, str]:
    """How many connections a full accept queue holds for `backlog`, and the operator that says so."""
    op = None
    if code is not None:
        op = code.comparison("sk_acceptq_is_full", "READ_ONCE(sk->sk_ack_backlog)") or code.comparison("sk_acceptq_is_full", "sk->sk_ack_backlog")
    return (backlog if op == ">=" else backlog + 1), op or ">"


def final_ack_lab(
    backlog: int = DEFAULT_BACKLOG,
    clients: int = DEFAULT_CLIENTS,
    abort_on_overflow: int = 0,
    *,
    code: KernelCode | None = None,
    max_wait: float | None = None,
    client_data: bool = True,
    fastopen: int | None = None,
) -> FinalAckResult:
    """Run the lab in a namespace of its own; return what the late clients and the listener show.

    With `client_data` False the late clients send nothing once released: their final ACK is the
    one answering the listener's retransmitted SYN-ACK.  With `fastopen` (a TCP_FASTOPEN limit)
    the late clients send their SYN with data instead, and the result shows the Fast Open
    children created before any final ACK (explorer.labs.fastopen).
    """
    check_arguments(backlog, clients, abort_on_overflow, fastopen, client_data)
    from .netns import PrivateNetns, require_root, require_tool, signals_raise

    require_root("final-ack", "it creates a network namespace, sets net.ipv4.tcp_abort_on_overflow and an nftables rule inside it")
    require_tool("nft", "nftables")
    fill, full_op = _capacity(code, backlog)
    _raise_fd_limit(clients + 2 * fill + 64)
    with ExitStack() as stack:
        stack.enter_context(signals_raise())
        ns = stack.enter_context(PrivateNetns())
        wait = max_wait if max_wait is not None else (MAX_WAIT_S if client_data else NO_DATA_WAIT_S)
        if fastopen is not None:
            from .fastopen import run_fastopen

            result = run_fastopen(ns, backlog, clients, fastopen, wait)
            return _explain_fastopen(result, code)
        result = _run(ns, backlog, clients, abort_on_overflow, fill, wait, client_data)
    return _explain(result, code, full_op)


def _run(ns: PrivateNetns, backlog: int, clients: int, abort: int, fill: int, max_wait: float, client_data: bool = True) -> FinalAckResult:
    sockets: list[socket.socket] = []
    late: list[socket.socket] = []
    started = time.monotonic()
    try:
        with ns.entered():
            write_sysctl("net.ipv4.tcp_abort_on_overflow", abort)
            abort_read = read_sysctl("net.ipv4.tcp_abort_on_overflow")  # what the namespace's listen_overflow label will read
            setup_backlog = fill + clients + 1  # room for the late requests and the fillers while they arrive
            if read_sysctl("net.core.somaxconn") < setup_backlog:
                write_sysctl("net.core.somaxconn", setup_backlog)
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(listener)
            listener.bind((SERVER, 0))
            listener.listen(setup_backlog)
            port = listener.getsockname()[1]
        ns.exec(["nft", "-f", "-"], stdin=nft_ruleset(port))
        with ns.entered():
            for _ in range(clients):
                _connect(sockets, LATE_CLIENT, port)
                late.append(sockets[-1])
            held = wait_until_stable(lambda: _late_clients(port)[:2], max_wait, settle=SETTLE_S)
            if held != (clients, clients):
                raise LabError(f"the late clients' handshakes did not stop before the final ACK ({held[0]} ESTABLISHED, {held[1]} SYN-RECV of {clients})")
            for _ in range(fill):
                _connect(sockets, SERVER, port)
            queued, _ = wait_until_stable(lambda: _accept_queue(port), max_wait, settle=SETTLE_S)
            if queued != fill:
                raise LabError(f"the accept queue holds {queued} connections, not the {fill} the lab filled it with")
            listener.listen(backlog)  # a listener already listening: only sk_max_ack_backlog changes
            queued, effective = _accept_queue(port)
        ns.exec(["nft", "delete", "table", "inet", NFT_TABLE])
        with ns.entered():
            before = read_netstat()
            released = time.monotonic()
            sent = 0
            for client in late if client_data else ():
                try:
                    sent += client.send(b"x")
                except OSError:
                    pass

            def look() -> tuple[tuple[int, int, int], dict[str, int]]:
                return _late_clients(port), counter_deltas(before, read_netstat(), WATCHED)

            deadline = released + max_wait
            while True:
                (established, syn_recv, retrans), deltas = look()
                if abort:
                    done = established == 0 and syn_recv == 0
                elif client_data:
                    done = deltas["TCPSynRetrans"] >= syn_recv and deltas["ListenOverflows"] > clients
                else:  # each client's ACK of a retransmitted SYN-ACK has met the full queue
                    done = deltas["ListenOverflows"] >= clients
                if done or time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
            (established, syn_recv, retrans), deltas = wait_until_stable(look, 0.3, settle=0.1) if abort else ((established, syn_recv, retrans), deltas)
            reset = count_reset(late)
            queued_after, _ = _accept_queue(port)
            watched = time.monotonic() - released
            completed = completed_seconds = retrans_after_room = None
            if abort == 0:
                room_counters = read_netstat()
                completed, completed_seconds = _accept_and_watch(listener, sockets, port, queued_after, syn_recv, max_wait)
                retrans_after_room = counter_deltas(room_counters, read_netstat(), WATCHED)["TCPSynRetrans"]
    finally:
        for s in reversed(sockets):
            s.close()
    return FinalAckResult(
        kernel=kernel_release(),
        backlog=backlog,
        clients=clients,
        abort_on_overflow=abort_read,
        established=established,
        reset=reset,
        listen_overflows=deltas["ListenOverflows"],
        listen_drops=deltas["ListenDrops"],
        synack_retransmits=deltas["TCPSynRetrans"],
        embryonic_rsts=deltas["EmbryonicRsts"],
        completed_after_accept=completed,
        client_data=client_data,
        completed_seconds=completed_seconds,
        synack_retransmits_after_accept=retrans_after_room,
        server_syn_recv=syn_recv,
        request_retransmits=retrans,
        bytes_sent=sent,
        filled=fill,
        queued=queued_after,
        effective_backlog=effective,
        port=port,
        netns=ns.name,
        counters=deltas,
        watched_seconds=round(watched, 3),
        seconds=round(time.monotonic() - started, 3),
    )


def _accept_and_watch(listener: socket.socket, sockets: list[socket.socket], port: int, queued: int, waiting: int, max_wait: float) -> tuple[int, float | None]:
    """Accept every queued connection (making room), then count the late requests that complete (bounded wait).

    With tcp_abort_on_overflow 0 the late clients keep retrying: the next retry after the room
    appears creates the child, so the requests leave SYN-RECV.  Returns how many completed and
    the seconds from the room to the last completion seen (None when none completed).
    """
    listener.settimeout(1.0)
    for _ in range(queued):
        try:
            child, _peer = listener.accept()
        except OSError:
            break
        sockets.append(child)
        child.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
    room = queued
    want = waiting - min(waiting, room)
    made_room = time.monotonic()
    deadline = made_room + max_wait
    last_completion: float | None = None
    left = _late_clients(port)[1]
    while left > want and time.monotonic() < deadline:
        time.sleep(0.05)
        now_left = _late_clients(port)[1]
        if now_left < left:
            last_completion = time.monotonic()
        left = now_left
    # a little longer: a kernel that let more through than the room would show it here
    settled = wait_until_stable(lambda: _late_clients(port)[1], 0.5, settle=0.3)
    if settled < left:
        last_completion = time.monotonic()
    seconds = None if last_completion is None or settled == waiting else round(last_completion - made_room, 3)
    return waiting - settled, seconds


def predict(code: KernelCode | None, abort: int, clients: int, filled: int, client_data: bool = True) -> dict[str, int]:
    """What the vendored tcp_check_req implies; {} when its source is unavailable."""
    if code is None:
        return {}
    overflow_label = code.contains("tcp_check_req", r"goto\s+listen_overflow")
    abort_test = code.contains("tcp_check_req", r"if\s*\(\s*!\s*READ_ONCE\(\s*sock_net\(sk\)->ipv4\.sysctl_tcp_abort_on_overflow\s*\)\s*\)")
    refuses = code.contains("tcp_v4_syn_recv_sock", r"if\s*\(\s*sk_acceptq_is_full\(sk\)\s*\)\s*goto\s+exit_overflow")
    if not (overflow_label and abort_test and refuses):
        return {}
    if abort == 0:
        predicted = {
            "established": clients,
            "reset": 0,
            "server_syn_recv": clients,
            "listen_overflows_at_least": clients,
            "synack_retransmits_at_least": clients,
            "completed_after_accept": min(clients, filled),
        }
        if not client_data:  # nothing but the ACK of a SYN-ACK sent again after the room can complete a request
            predicted["synack_retransmits_after_accept_at_least"] = min(clients, filled)
        return predicted
    return {"established": 0, "reset": clients, "server_syn_recv": 0, "listen_overflows": clients, "embryonic_rsts": clients}


def _explain(result: FinalAckResult, code: KernelCode | None, full_op: str) -> FinalAckResult:
    r = result
    predicted = predict(code, r.abort_on_overflow, r.clients, r.filled, r.client_data)
    measured = dataclasses.asdict(r)
    agrees = {key: measured[key] == value for key, value in predicted.items() if key in measured}
    for key in ("listen_overflows", "synack_retransmits", "synack_retransmits_after_accept"):
        if f"{key}_at_least" in predicted:
            agrees[key] = (measured[key] or 0) >= predicted[f"{key}_at_least"]
    fill_text = (
        f"The accept queue holds {r.queued} connections for a backlog of {r.effective_backlog}: sk_acceptq_is_full "
        f"tests sk_ack_backlog {full_op} sk_max_ack_backlog, so it is full. The listener first listened with a larger "
        f"backlog so that the late requests and the fillers fit, then called listen({r.backlog}) again: on a socket "
        f"already listening, inet_listen only stores the new backlog."
    )
    first_ack = (
        "Each late client's byte acknowledges the SYN-ACK, so tcp_check_req takes it for the final ACK"
        if r.client_data
        else "The late clients sent nothing when released: the first segment to reach the listener was the ACK each "
        "client sends when the listener's request timer (reqsk_timer_handler) retransmits the SYN-ACK "
        "(inet_rtx_syn_ack); that ACK acknowledges the SYN-ACK, so tcp_check_req takes it for the final ACK"
    )
    check_text = (
        f"{first_ack} and calls syn_recv_sock: tcp_v4_syn_recv_sock refuses to create the child while the accept "
        f"queue is full (ListenOverflows +{r.listen_overflows}, ListenDrops +{r.listen_drops}) and tcp_check_req goes "
        f"to its listen_overflow label, which reads net.ipv4.tcp_abort_on_overflow = {r.abort_on_overflow} "
        f"(of the lab's namespace)."
    )
    if r.abort_on_overflow == 0 and r.client_data:
        outcome = (
            f"With 0 the label marks the request acked and returns NULL: the segment is dropped and nothing is sent "
            f"back. {r.established} of {r.clients} clients are still ESTABLISHED (their send() returned "
            f"{r.bytes_sent} bytes in all; {r.reset} were reset), the listener still holds {r.server_syn_recv} requests "
            f"in SYN-RECV, and its request timer (reqsk_timer_handler) retransmitted SYN-ACKs "
            f"(TCPSynRetrans +{r.synack_retransmits} in {r.watched_seconds} s). The clients answer each SYN-ACK and "
            f"retransmit their byte (and acknowledge a retransmitted SYN-ACK again), and every such segment meets the full "
            f"queue again: ListenOverflows keeps growing. Then the lab accepted the {r.queued} queued connections, making "
            f"room: {r.completed_after_accept} of the {r.server_syn_recv} waiting requests completed at their client's "
            f"next retry (inet_csk_complete_hashdance moved each child to the accept queue), with no new handshake"
            + (f", the last {r.completed_seconds} s after the room appeared." if r.completed_seconds is not None else ".")
        )
        refs = code_refs(code, "tcp_check_req", "inet_rtx_syn_ack", "reqsk_timer_handler", "inet_csk_complete_hashdance")
    elif r.abort_on_overflow == 0:
        outcome = (
            f"With 0 the label marks the request acked and returns NULL: the ACK is dropped and nothing is sent back. "
            f"{r.established} of {r.clients} clients are still ESTABLISHED, the listener still holds {r.server_syn_recv} "
            f"requests in SYN-RECV (TCPSynRetrans +{r.synack_retransmits} in {r.watched_seconds} s, "
            f"{r.request_retransmits} retransmissions counted on the requests). Then the lab accepted the {r.queued} queued "
            f"connections, making room. A client with nothing to send retries nothing: only the listener's next SYN-ACK "
            f"retransmission draws another ACK, and that ACK creates the child. {r.completed_after_accept} of the "
            f"{r.server_syn_recv} waiting requests completed"
            + (f", the last {r.completed_seconds} s after the room appeared," if r.completed_seconds is not None else "")
            + f" after TCPSynRetrans +{r.synack_retransmits_after_accept} more SYN-ACKs sent again."
        )
        refs = code_refs(code, "tcp_check_req", "reqsk_timer_handler", "inet_rtx_syn_ack", "syn_ack_recalc", "inet_csk_complete_hashdance")
    else:
        outcome = (
            f"With 1 the label falls through to embryonic_reset: the listener answers with a reset and unhashes the "
            f"request (inet_csk_reqsk_queue_drop; EmbryonicRsts +{r.embryonic_rsts}). {r.reset} of {r.clients} clients "
            f"got ECONNRESET; {r.established} are still ESTABLISHED and the listener holds {r.server_syn_recv} requests."
        )
        refs = code_refs(code, "tcp_check_req", "tcp_v4_send_reset", "inet_csk_reqsk_queue_drop")
    explanations = (
        Explanation("filled", fill_text, code_refs(code, "sk_acceptq_is_full", "inet_listen", "inet_csk_reqsk_queue_add")),
        Explanation("listen_overflows", check_text, code_refs(code, "tcp_check_req", "tcp_v4_syn_recv_sock", "tcp_listendrop")),
        Explanation("established" if r.abort_on_overflow == 0 else "reset", outcome, refs),
    )
    return dataclasses.replace(result, explanations=explanations, predicted=predicted, agrees=agrees, vendored_kernel=vendored_kernel(code))


def predict_fastopen(code: KernelCode | None, limit: int, clients: int, data: int) -> dict[str, int]:
    """What the vendored tcp_fastopen_queue_check and tcp_fastopen_create_child imply; {} when unreadable."""
    if code is None:
        return {}
    full = code.contains("tcp_fastopen_queue_check", r"fastopenq->qlen\s*>=\s*(?:fastopenq->)?max_qlen")
    counted = code.contains("tcp_fastopen_queue_check", r"LINUX_MIB_TCPFASTOPENLISTENOVERFLOW")
    queued = code.contains("tcp_conn_request", r"inet_csk_reqsk_queue_add\(\s*sk\s*,\s*req\s*,\s*fastopen_sk\s*\)")
    if not (full and counted and queued):
        return {}
    children = min(clients, limit)
    return {
        "fastopen_max_qlen": limit,
        "fastopen_children": children,
        "fastopen_passive": children,
        "fastopen_listen_overflow": clients - children,
        "fastopen_requests": clients - children,
        "accepted_syn_recv": children,
        "data_before_handshake": children * data,
        "established_after_release": children,
    }


def _explain_fastopen(result: FinalAckResult, code: KernelCode | None) -> FinalAckResult:
    from .fastopen import DATA, TFO_SYSCTL

    r = result
    predicted = predict_fastopen(code, r.fastopen or 0, r.clients, len(DATA))
    measured = dataclasses.asdict(r)
    agrees = {key: measured[key] == value for key, value in predicted.items() if key in measured}
    explanations = (
        Explanation(
            "fastopen_children",
            f"With net.ipv4.tcp_fastopen = {TFO_SYSCTL:#x} in the lab's namespace (server on, no cookie needed) and "
            f"TCP_FASTOPEN = {r.fastopen} on the listener (fastopen_queue_tune: fastopenq.max_qlen = {r.fastopen_max_qlen}, "
            f"the last column of /proc/net/tcp), {r.clients} late clients sent a SYN with {len(DATA)} bytes of data and "
            f"had their final ACK held back. tcp_conn_request asked tcp_try_fastopen for each: {r.fastopen_children} "
            f"became children (tcp_fastopen_create_child, TCPFastOpenPassive +{r.fastopen_passive}), queued for accept() "
            f"at once (inet_csk_reqsk_queue_add): the accept queue held {r.queued} connections before any handshake "
            f"completed.",
            code_refs(code, "tcp_try_fastopen", "fastopen_queue_tune", "tcp_fastopen_create_child", "inet_csk_reqsk_queue_add", "get_tcp4_sock"),
        ),
        Explanation(
            "fastopen_listen_overflow",
            f"tcp_fastopen_queue_check counts each child in fastopenq.qlen until its handshake completes: once "
            f"{r.fastopen_max_qlen} were pending, the other SYNs found the Fast Open queue full "
            f"(TCPFastOpenListenOverflow +{r.fastopen_listen_overflow}) and went on as normal SYNs: "
            f"{r.fastopen_requests} requests waited in the SYN queue, their data not accepted.",
            code_refs(code, "tcp_fastopen_queue_check", "tcp_conn_request"),
        ),
        Explanation(
            "accepted_syn_recv",
            f"accept() returned {r.accepted_syn_recv} children still in SYN_RECV (inet_csk_accept leaves their request "
            f"attached), and read() returned {r.data_before_handshake} bytes of their SYNs' data before the handshake "
            f"completed. Once the rule was removed and each client sent again, that segment's ACK completed the "
            f"handshake (tcp_rcv_state_process, tcp_rcv_synrecv_state_fastopen, reqsk_fastopen_remove): "
            f"{r.established_after_release} of them were ESTABLISHED.",
            code_refs(code, "inet_csk_accept", "tcp_fastopen_add_skb", "tcp_rcv_synrecv_state_fastopen", "reqsk_fastopen_remove"),
        ),
    )
    return dataclasses.replace(result, explanations=explanations, predicted=predicted, agrees=agrees, vendored_kernel=vendored_kernel(code))
