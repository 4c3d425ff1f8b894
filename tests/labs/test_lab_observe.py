"""Reading the kernel: /proc/net/netstat, sock_diag, and `kexplore lookup` staying light."""

from __future__ import annotations

import socket
import subprocess
import sys

from explorer.labs.observe import counter_deltas, read_netstat, tcp_sockets

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
