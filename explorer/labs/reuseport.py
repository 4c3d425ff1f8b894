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
"""

from __future__ import annotations

import dataclasses
import errno
import socket
import time
from contextlib import ExitStack

from . import LabError, check_range
from .accept_queue import _raise_fd_limit
from .code import KernelCode, code_refs, vendored_kernel
from .observe import kernel_release, read_sysctl, write_sysctl
from .results import Explanation, ReuseportResult

SERVER = "127.0.0.1"
DEFAULT_LISTENERS = 4
DEFAULT_CLIENTS = 64
MAX_LISTENERS = 64
MAX_REUSEPORT_CLIENTS = 2_000
MAX_WAIT_S = 5.0


def check_arguments(listeners: int, clients: int) -> None:
    check_range("--listeners", listeners, 1, MAX_LISTENERS)
    check_range("--clients", clients, 1, MAX_REUSEPORT_CLIENTS)


def reuseport_lab(
    listeners: int = DEFAULT_LISTENERS, clients: int = DEFAULT_CLIENTS, *, code: KernelCode | None = None, max_wait: float = MAX_WAIT_S
) -> ReuseportResult:
    """Run the lab in a namespace of its own; return the accepted connections per listener."""
    check_arguments(listeners, clients)
    from .netns import PrivateNetns, require_root, signals_raise

    require_root("reuseport", "it creates a network namespace and runs its listeners there")
    _raise_fd_limit(2 * clients + listeners + 64)
    with ExitStack() as stack:
        stack.enter_context(signals_raise())
        ns = stack.enter_context(PrivateNetns())
        stack.enter_context(ns.entered())
        result = _run(listeners, clients, ns.name, max_wait)
    return _explain(result, code)


def _accept_all(group: list[socket.socket], expected: int, max_wait: float) -> dict[int, int]:
    """Accept on every listener until `expected` connections came in (bounded): {client port: listener index}."""
    taken: dict[int, int] = {}
    children: list[socket.socket] = []
    deadline = time.monotonic() + max_wait
    try:
        while len(taken) < expected and time.monotonic() < deadline:
            progress = False
            for i, listener in enumerate(group):
                while True:
                    try:
                        child, peer = listener.accept()
                    except BlockingIOError:
                        break
                    children.append(child)
                    taken[peer[1]] = i
                    progress = True
            if not progress:
                time.sleep(0.01)
    finally:
        for child in children:
            child.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            child.close()
    return taken


def _connect_all(clients: int, port: int, sources: list[int] | None, opened: list[socket.socket]) -> list[int]:
    """Connect `clients` clients (from the given source ports, or any) into `opened`; their source ports."""
    ports: list[int] = []
    try:
        for i in range(clients):
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            opened.append(client)
            # abortive close afterwards: RST, no TIME-WAIT, so the source port is free for the second round
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
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
