"""Reading the kernel: /proc/net/netstat, sock_diag, and `kexplore lookup` staying light."""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import time

import pytest

from explorer.labs.observe import accept_ready, close_with_reset, counter_deltas, read_netstat, tcp_sockets, wait_until_stable

NETSTAT = """TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops
TcpExt: 3 0 7 9
IpExt: InNoRoutes InOctets
IpExt: 0 123456
"""


def test_read_netstat_pairs_header_and_values(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "netstat"
    path.write_text(NETSTAT)
    counters = read_netstat(str(path))
    assert counters["TcpExt.ListenOverflows"] == 7 and counters["IpExt.InOctets"] == 123456
    after = dict(counters, **{"TcpExt.ListenDrops": 12})
    assert counter_deltas(counters, after)["ListenDrops"] == 3
    assert counter_deltas(counters, after)["TCPReqQFullDrop"] == 0  # absent: zero


def test_the_running_kernel_has_the_counters() -> None:
    counters = read_netstat()
    for name in ("ListenOverflows", "ListenDrops", "SyncookiesSent", "TCPReqQFullDrop", "TCPReqQFullDoCookies"):
        assert f"TcpExt.{name}" in counters


def test_sock_diag_sees_a_listener_like_ss() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(7)
        port = listener.getsockname()[1]
        found = [s for s in tcp_sockets(("LISTEN",)) if s.sport == port]
        assert len(found) == 1
        assert found[0].wqueue == 7 and found[0].rqueue == 0 and found[0].src == "127.0.0.1"


def test_cli_import_does_not_load_the_labs() -> None:
    """`kexplore lookup` must stay fast: building the parser imports only the labs' light modules."""
    code = (
        "import sys, explorer.cli; explorer.cli.get_parser(); "
        "heavy = [m for m in ('explorer.labs.accept_queue', 'explorer.labs.syn_queue', 'explorer.labs.netns', "
        "'explorer.labs.observe', 'explorer.labs.render', 'explorer.labs.code', 'ctypes', 'resource') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_wait_until_stable_returns_the_value_once_it_stops_moving() -> None:
    changes = 4
    values = itertools.chain(range(changes), itertools.repeat(changes))
    reads: list[int] = []

    def read() -> int:
        reads.append(next(values))
        return reads[-1]

    interval, settle = 0.005, 0.03
    assert wait_until_stable(read, timeout=5.0, interval=interval, settle=settle) == changes
    assert reads[-1] == changes
    # it looked again after the last change until the value had held for `settle`
    assert reads.count(changes) >= 2


def test_wait_until_stable_is_bounded_when_nothing_settles() -> None:
    counter = itertools.count()
    reads: list[int] = []

    def read() -> int:  # a new value on every read: never stable
        reads.append(next(counter))
        return reads[-1]

    timeout, interval = 0.1, 0.01
    value = wait_until_stable(read, timeout=timeout, interval=interval, settle=1.0)
    assert value == reads[-1]
    # each read after the first waits `interval` first, so the deadline bounds the count
    assert len(reads) <= timeout / interval + 2


@pytest.mark.parametrize(("timeout", "interval", "settle"), [(1.0, 0.0, 0.1), (-1.0, 0.01, 0.1), (1.0, 0.01, -0.1)])
def test_wait_until_stable_refuses_nonsense_bounds(timeout: float, interval: float, settle: float) -> None:
    with pytest.raises(ValueError):
        wait_until_stable(lambda: 0, timeout=timeout, interval=interval, settle=settle)


def test_accept_ready_takes_every_waiting_connection_then_none() -> None:
    """On loopback: three clients connected are accepted (their ports), then a call finds none waiting."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    clients: list[socket.socket] = []
    accepted: list[tuple[socket.socket, tuple[str, int]]] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        for _ in range(3):
            client = socket.create_connection(listener.getsockname(), timeout=5)
            clients.append(client)
        ports = {c.getsockname()[1] for c in clients}
        deadline = time.monotonic() + 5
        while len(accepted) < 3 and time.monotonic() < deadline:  # the handshakes complete in the kernel
            accepted += accept_ready(listener)
            time.sleep(0.01)
        assert {peer[1] for _, peer in accepted} == ports
        assert accept_ready(listener) == []
    finally:
        close_with_reset([*(child for child, _ in accepted), *clients, listener])
