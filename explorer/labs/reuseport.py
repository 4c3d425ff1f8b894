"""The SO_REUSEPORT lab: N listeners on one port, M connections, and which listener accepts each.

In a private network namespace (root only), N sockets set SO_REUSEPORT, bind 127.0.0.1 on
the same port and listen; M clients connect; the lab accepts on every listener and counts
what each got.  Then every client connects again from the same source port, and the lab
checks which listener accepts the second connection.

What the vendored code predicts (Linux 6.1):

- `inet_csk_get_port` lets the sockets share the port (same owner, all with SO_REUSEPORT),
  and `inet_reuseport_add_sock` (from `__inet_hash`, at listen time) puts each into one
  group, `reuseport_add_sock` appending it to the group's array: the group's order is the
  order the sockets listened in.
- For each SYN, `__inet_lookup_listener` finds the group's first socket in the listening
  hash and `inet_lookup_reuseport` asks `reuseport_select_sock` for one of them: without a
  BPF program, `reuseport_select_sock_by_hash` takes socket `reciprocal_scale(hash, n)`,
  where the hash is `inet_ehashfn` of the connection's addresses and ports (with a secret
  chosen at boot).  So the connections spread over the listeners about evenly, and a
  connection from the same address and port lands on the same listener every time.
- Every connection is accepted by exactly one listener: the per-listener counts add up to M.

With `close_first` (`--close-first`, needs nftables), the lab closes a listener that has
connections in progress and watches what becomes of them:

1. listener 1 listens alone; M clients complete their handshakes (its accept queue), and
   `pending` late clients from 127.0.0.2 get their SYN-ACK but have their final ACK held back
   by an nftables rule (its SYN queue: one request each);
2. listeners 2..N join the group; net.ipv4.tcp_migrate_req is 0 or 1 in the namespace;
3. listener 1 closes without accepting; the rule is removed and each late client sends one byte
   (its final ACK); the lab accepts on the other listeners.

What the vendored code predicts: `inet_csk_listen_stop` empties the accept queue at once,
asking `reuseport_migrate_sock` for another member for each child. With tcp_migrate_req 0,
`reuseport_stop_listen_sock` has already detached listener 1 from the group, so there is none:
`inet_child_forget` disconnects each child and its client is reset.  With 1, listener 1 stays
in the group as a closed member, and each child is cloned onto a member chosen by hash
(TCPMigrateReqSuccess).  The SYN queue is not walked: a late client's final ACK finds its
request in `tcp_v4_rcv` with the listener closed; with 0 the request is dropped and the ACK
looked up again, reaching listener 2, which answers an ACK with a reset; with 1 the request
is migrated and completes on the member chosen.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import socket
import time
from contextlib import ExitStack
from typing import TYPE_CHECKING

from . import LabError, check_range
from .accept_queue import _raise_fd_limit
from .code import KernelCode, code_refs, vendored_kernel
from .observe import (
    LINGER_RST,
    accept_ready,
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
from .results import Explanation, ReuseportResult

if TYPE_CHECKING:
    from .netns import PrivateNetns

SERVER = "127.0.0.1"
DEFAULT_LISTENERS = 4
DEFAULT_CLIENTS = 64
MAX_LISTENERS = 64
MAX_REUSEPORT_CLIENTS = 2_000
MAX_WAIT_S = 5.0
MAX_PENDING = 1_000
DEFAULT_PENDING = 2  # with --close-first: late clients whose handshake waits in listener 1's SYN queue
MIGRATE_COUNTERS = ("TCPMigrateReqSuccess", "TCPMigrateReqFailure")


def check_arguments(listeners: int, clients: int, close_first: bool = False, migrate_req: int | None = None, pending: int | None = None) -> None:
    check_range("--listeners", listeners, 1, MAX_LISTENERS)
    check_range("--clients", clients, 1, MAX_REUSEPORT_CLIENTS)
    if not close_first and (migrate_req is not None or pending is not None):
        raise LabError("--migrate-req and --pending say what happens when listener 1 closes: add --close-first", exit_code=2)
    if close_first and listeners < 2:
        raise LabError(f"--close-first with --listeners {listeners}: closing needs at least 2 listeners (one to close, one to take over)", exit_code=2)
    check_range("--migrate-req", migrate_req, 0, 1)
    check_range("--pending", pending, 0, MAX_PENDING)


def reuseport_lab(
    listeners: int = DEFAULT_LISTENERS,
    clients: int = DEFAULT_CLIENTS,
    *,
    close_first: bool = False,
    migrate_req: int | None = None,
    pending: int | None = None,
    code: KernelCode | None = None,
    max_wait: float = MAX_WAIT_S,
) -> ReuseportResult:
    """Run the lab in a namespace of its own; return the accepted connections per listener.

    With `close_first`, listener 1 is closed with connections in its queues, under
    net.ipv4.tcp_migrate_req = `migrate_req` (default 0), and the result says what became of them.
    """
    check_arguments(listeners, clients, close_first, migrate_req, pending)
    from .netns import PrivateNetns, require_root, require_tool, signals_raise

    require_root("reuseport", "it creates a network namespace and runs its listeners there")
    if close_first:
        require_tool("nft", "nftables")
    _raise_fd_limit(2 * clients + 2 * (pending or 0) + 2 * listeners + 64)
    with ExitStack() as stack:
        stack.enter_context(signals_raise())
        ns = stack.enter_context(PrivateNetns())
        if close_first:
            result = _run_close(ns, listeners, clients, migrate_req or 0, DEFAULT_PENDING if pending is None else pending, max_wait)
        else:
            stack.enter_context(ns.entered())
            result = _run(listeners, clients, ns.name, max_wait)
    return _explain_close(result, code) if close_first else _explain(result, code)


def _accept_all(group: list[socket.socket], expected: int, max_wait: float) -> dict[int, int]:
    """Accept on every listener until `expected` connections came in (bounded): {client port: listener index}."""
    taken: dict[int, int] = {}
    children: list[socket.socket] = []
    deadline = time.monotonic() + max_wait
    try:
        while len(taken) < expected and time.monotonic() < deadline:
            progress = False
            for i, listener in enumerate(group):
                for child, peer in accept_ready(listener):
                    children.append(child)
                    taken[peer[1]] = i
                    progress = True
            if not progress:
                time.sleep(0.01)
    finally:
        close_with_reset(children)
    return taken


def _connect_all(clients: int, port: int, sources: list[int] | None, opened: list[socket.socket]) -> list[int]:
    """Connect `clients` clients (from the given source ports, or any) into `opened`; their source ports."""
    ports: list[int] = []
    try:
        for i in range(clients):
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            opened.append(client)
            # abortive close afterwards: RST, no TIME-WAIT, so the source port is free for the second round
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
            client.bind((SERVER, sources[i] if sources else 0))
            client.settimeout(MAX_WAIT_S)
            rc = client.connect_ex((SERVER, port))
            if rc != 0:
                raise LabError(f"a client's connect() failed: {errno.errorcode.get(rc, rc)}")
            ports.append(client.getsockname()[1])
    except OSError as exc:
        raise LabError(f"a client could not connect: {exc.strerror or exc}") from None
    return ports


def _close(sockets: list[socket.socket]) -> None:
    while sockets:
        sockets.pop().close()


def _run(listeners: int, clients: int, netns: str, max_wait: float) -> ReuseportResult:
    started = time.monotonic()
    group: list[socket.socket] = []
    try:
        if read_sysctl("net.core.somaxconn") < clients:
            write_sysctl("net.core.somaxconn", clients)
        port = 0
        for _ in range(listeners):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            group.append(s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind((SERVER, port))
            port = s.getsockname()[1]
            s.listen(clients)  # room for every client on any one listener: nothing overflows
            s.setblocking(False)
        opened: list[socket.socket] = []
        try:
            sources = _connect_all(clients, port, None, opened)
            first = _accept_all(group, clients, max_wait)
            _close(opened)
            _connect_all(clients, port, sources, opened)
            second = _accept_all(group, clients, max_wait)
        finally:
            _close(opened)
    finally:
        for s in group:
            s.close()
    per_listener = [0] * listeners
    for index in first.values():
        per_listener[index] += 1
    same = sum(1 for sport, index in second.items() if first.get(sport) == index)
    return ReuseportResult(
        kernel=kernel_release(),
        listeners=listeners,
        clients=clients,
        per_listener=tuple(per_listener),
        same_listener_again=same,
        repeated=len(second),
        port=port,
        netns=netns,
        seconds=round(time.monotonic() - started, 3),
    )


# ---------------------------------------------------------------- closing listener 1


def _listener_queue(inode: int) -> tuple[int, int]:
    """(accept queue, SYN-RECV requests for the port) of the listener with this inode, from sock_diag."""
    queued, port = -1, -1
    found = tcp_sockets(("LISTEN", "SYN-RECV"))
    for s in found:
        if s.state == "LISTEN" and s.inode == inode:
            queued, port = s.rqueue, s.sport
    if queued < 0:
        raise LabError("sock_diag did not report the lab's listener", exit_code=1)
    return queued, sum(1 for s in found if s.state == "SYN-RECV" and s.sport == port)


def _client_states(port: int, late_source: str) -> tuple[int, int]:
    """(queued clients ESTABLISHED, late clients ESTABLISHED): the client ends still connected."""
    queued = late = 0
    for s in tcp_sockets(("ESTABLISHED",)):
        if s.dport == port and s.dst == SERVER:
            queued += s.src == SERVER
            late += s.src == late_source
    return queued, late


def _run_close(ns: PrivateNetns, listeners: int, clients: int, migrate: int, pending: int, max_wait: float) -> ReuseportResult:
    from .final_ack import LATE_CLIENT, NFT_TABLE, _connect, nft_ruleset

    started = time.monotonic()
    group: list[socket.socket] = []
    opened: list[socket.socket] = []
    late: list[socket.socket] = []
    children: list[socket.socket] = []
    try:
        with ns.entered():
            write_sysctl("net.ipv4.tcp_migrate_req", migrate)
            migrate_read = read_sysctl("net.ipv4.tcp_migrate_req")
            room = clients + pending + 1
            if read_sysctl("net.core.somaxconn") < room:
                write_sysctl("net.core.somaxconn", room)
            first = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            group.append(first)
            first.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            first.bind((SERVER, 0))
            port = first.getsockname()[1]
            first.listen(room)
            first_inode = os.fstat(first.fileno()).st_ino
        ns.exec(["nft", "-f", "-"], stdin=nft_ruleset(port))
        with ns.entered():
            from .final_ack import _late_clients

            for _ in range(pending):
                _connect(late, LATE_CLIENT, port)
            held = wait_until_stable(lambda: _late_clients(port)[:2], max_wait, settle=0.15)
            if held != (pending, pending):
                raise LabError(f"the late clients' handshakes did not stop before the final ACK ({held[0]} ESTABLISHED, {held[1]} SYN-RECV of {pending})")
            _connect_all(clients, port, None, opened)
            queued_at_close, syn_recv_at_close = wait_until_stable(lambda: _listener_queue(first_inode), max_wait, settle=0.15)
            if queued_at_close != clients:
                raise LabError(f"listener 1's accept queue holds {queued_at_close} connections, not the {clients} that connected")
            for _ in range(1, listeners):  # the others join the group only now: every connection so far is listener 1's
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                group.append(s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                s.bind((SERVER, port))
                s.listen(room)
                s.setblocking(False)
            before = read_netstat()
            first.close()  # inet_csk_listen_stop: the accept queue now; the SYN queue when its requests are next touched
        ns.exec(["nft", "delete", "table", "inet", NFT_TABLE])
        with ns.entered():
            for client in late:
                try:
                    client.send(b"x")  # the final ACK the listener was waiting for
                except OSError:
                    pass
            per_listener = [0] * listeners
            from_late = 0
            expected = clients + pending if migrate else 0
            deadline = time.monotonic() + max_wait
            while True:
                for i, listener in enumerate(group[1:], start=1):
                    for child, peer in accept_ready(listener):
                        children.append(child)
                        per_listener[i] += 1
                        from_late += peer[0] == LATE_CLIENT
                still = _client_states(port, LATE_CLIENT)
                done = sum(per_listener) >= expected if migrate else still == (0, 0)
                if done or time.monotonic() >= deadline:
                    break
                time.sleep(0.02)
            deltas = counter_deltas(before, read_netstat(), MIGRATE_COUNTERS)
            reset_queued = count_reset(opened)
            reset_pending = count_reset(late)
    finally:
        close_with_reset((*children, *opened, *late))
        for s in group:
            s.close()
    return ReuseportResult(
        kernel=kernel_release(),
        listeners=listeners,
        clients=clients,
        per_listener=tuple(per_listener),
        same_listener_again=0,
        repeated=0,
        port=port,
        netns=ns.name,
        seconds=round(time.monotonic() - started, 3),
        close_first=True,
        migrate_req=migrate_read,
        pending=pending,
        queued_at_close=queued_at_close,
        syn_recv_at_close=syn_recv_at_close,
        reset_queued=reset_queued,
        reset_pending=reset_pending,
        migrated_queued=sum(per_listener) - from_late,
        migrated_pending=from_late,
        migrate_req_success=deltas["TCPMigrateReqSuccess"],
        migrate_req_failure=deltas["TCPMigrateReqFailure"],
    )


def predict_close(code: KernelCode | None, migrate: int, clients: int, pending: int) -> dict[str, int]:
    """What the vendored inet_csk_listen_stop, reuseport_stop_listen_sock and tcp_v4_rcv imply; {} when unreadable."""
    if code is None:
        return {}
    stop_migrates = code.contains("inet_csk_listen_stop", r"reuseport_migrate_sock\(\s*sk\s*,\s*child\s*,\s*NULL\s*\)")
    stop_forgets = code.contains("inet_csk_listen_stop", r"inet_child_forget\(\s*sk\s*,\s*req\s*,\s*child\s*\)")
    detach_reads = code.contains("reuseport_stop_listen_sock", r"sysctl_tcp_migrate_req")
    rcv_migrates = code.contains("tcp_v4_rcv", r"reuseport_migrate_sock\(\s*sk\s*,\s*req_to_sk\(req\)\s*,\s*skb\s*\)")
    if not (stop_migrates and stop_forgets and detach_reads and rcv_migrates):
        return {}
    if migrate:
        return {"reset_queued": 0, "reset_pending": 0, "migrated_queued": clients, "migrated_pending": pending, "migrate_req_success_at_least": clients}
    return {"reset_queued": clients, "reset_pending": pending, "migrated_queued": 0, "migrated_pending": 0}


def _explain_close(result: ReuseportResult, code: KernelCode | None) -> ReuseportResult:
    r = result
    predicted = predict_close(code, r.migrate_req or 0, r.clients, r.pending)
    measured = dataclasses.asdict(r)
    agrees = {key: measured[key] == value for key, value in predicted.items() if key in measured}
    if "migrate_req_success_at_least" in predicted:
        agrees["migrate_req_success"] = r.migrate_req_success >= predicted["migrate_req_success_at_least"]
    setup = (
        f"Listener 1 listened alone on port {r.port}: {r.queued_at_close} connections completed and waited in its accept "
        f"queue, and {r.syn_recv_at_close} late clients' requests waited in its SYN queue (their final ACKs held back). "
        f"Then {r.listeners - 1} more listeners joined the group, and listener 1 closed without accepting, with "
        f"net.ipv4.tcp_migrate_req = {r.migrate_req} in the lab's namespace. close() ends in inet_csk_listen_stop, after "
        f"inet_unhash has taken listener 1 out of the listening hash and reuseport_stop_listen_sock out of the group's "
        f"listening members."
    )
    if r.migrate_req:
        queue_text = (
            f"With 1, reuseport_stop_listen_sock kept listener 1 in the group as a closed member, so inet_csk_listen_stop "
            f"found another member for each child (reuseport_migrate_sock, by the connection's hash), cloned its request "
            f"(inet_reqsk_clone) and queued it there: {r.migrated_queued} of {r.queued_at_close} queued connections were "
            f"accepted on the other listeners, {r.reset_queued} clients were reset (TCPMigrateReqSuccess +{r.migrate_req_success}, "
            f"TCPMigrateReqFailure +{r.migrate_req_failure})."
        )
        pending_text = (
            f"The SYN queue is not walked at close. When a late client's final ACK arrived, tcp_v4_rcv found its request "
            f"with listener 1 no longer listening and asked reuseport_migrate_sock for a member: the request moved there "
            f"and completed: {r.migrated_pending} of {r.pending} late clients were accepted on the other listeners, "
            f"{r.reset_pending} reset."
        )
    else:
        queue_text = (
            f"With 0, reuseport_stop_listen_sock detached listener 1 from the group at once, so reuseport_migrate_sock had "
            f"no member to offer and inet_csk_listen_stop disconnected each child (inet_child_forget), which resets its "
            f"client: {r.reset_queued} of {r.queued_at_close} queued clients got ECONNRESET, {r.migrated_queued} were "
            f"accepted elsewhere."
        )
        pending_text = (
            f"The SYN queue is not walked at close. When a late client's final ACK arrived, tcp_v4_rcv found its request "
            f"with listener 1 no longer listening and nowhere to migrate it: it dropped the request and looked the ACK up "
            f"again, which now found another listener of the group, and a listener answers an ACK with a reset: "
            f"{r.reset_pending} of {r.pending} late clients were reset, {r.migrated_pending} accepted elsewhere."
        )
    explanations = (
        Explanation("queued_at_close", setup, code_refs(code, "inet_csk_listen_stop", "inet_unhash", "reuseport_stop_listen_sock")),
        Explanation(
            "migrated_queued" if r.migrate_req else "reset_queued",
            queue_text,
            code_refs(code, "inet_csk_listen_stop", "reuseport_migrate_sock", "inet_reqsk_clone", "inet_csk_reqsk_queue_add", "inet_child_forget"),
        ),
        Explanation("migrated_pending" if r.migrate_req else "reset_pending", pending_text, code_refs(code, "tcp_v4_rcv", "reuseport_migrate_sock", "inet_csk_complete_hashdance")),
    )
    return dataclasses.replace(result, explanations=explanations, predicted=predicted, agrees=agrees, vendored_kernel=vendored_kernel(code))


def predict(code: KernelCode | None, clients: int) -> dict[str, int]:
    """What the vendored reuseport_select_sock implies; {} when its source is unavailable."""
    if code is None:
        return {}
    by_hash = code.contains("reuseport_select_sock_by_hash", r"reciprocal_scale\(\s*hash\s*,\s*num_socks\s*\)")
    falls_back = code.contains("reuseport_select_sock", r"reuseport_select_sock_by_hash\(\s*reuse\s*,\s*hash\s*,\s*socks\s*\)")
    if not (by_hash and falls_back):
        return {}
    return {"accepted": clients, "same_listener_again": clients}


def _explain(result: ReuseportResult, code: KernelCode | None) -> ReuseportResult:
    r = result
    predicted = predict(code, r.clients)
    measured = {"accepted": sum(r.per_listener), "same_listener_again": r.same_listener_again}
    agrees = {key: measured[key] == value for key, value in predicted.items()}
    fair = r.clients / r.listeners
    counts = ", ".join(str(n) for n in r.per_listener)
    explanations = (
        Explanation(
            "per_listener",
            f"{r.listeners} listeners share port {r.port}: each set SO_REUSEPORT before bind, so inet_csk_get_port let "
            f"them share it, and listen() put each into one reuseport group (inet_reuseport_add_sock, "
            f"reuseport_add_sock), in the order they listened. The {sum(r.per_listener)} connections were accepted "
            f"{counts} (listener 1 first; an even share would be {fair:.1f} each).",
            code_refs(code, "inet_csk_get_port", "inet_reuseport_add_sock", "reuseport_add_sock"),
        ),
        Explanation(
            "selection",
            "For each SYN, __inet_lookup_listener finds the group in the listening hash and inet_lookup_reuseport asks "
            "reuseport_select_sock for a member: with no BPF program attached, reuseport_select_sock_by_hash picks "
            "reciprocal_scale(hash, n), the hash being inet_ehashfn of the connection's addresses and ports. The "
            "counts are uneven the way independent random draws are, not round-robin.",
            code_refs(code, "__inet_lookup_listener", "inet_lookup_reuseport", "reuseport_select_sock", "reuseport_select_sock_by_hash"),
        ),
        Explanation(
            "same_listener_again",
            f"Each client then connected again from the same source port: {r.same_listener_again} of {r.repeated} second "
            f"connections reached the listener that had accepted the first. The hash depends only on the four-tuple (and a "
            f"secret fixed at boot), so the same four-tuple selects the same member as long as the group does not change.",
            code_refs(code, "inet_ehashfn", "reuseport_select_sock_by_hash"),
        ),
    )
    return dataclasses.replace(result, explanations=explanations, predicted=predicted, agrees=agrees, vendored_kernel=vendored_kernel(code))
