"""The userland proxy's relays (TCP and UDP) against local servers, in a private network
namespace of their own (no container needed: busybox has no UDP server)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from harness import SRC

pytestmark = pytest.mark.integration

SCRIPT = textwrap.dedent('''
    import asyncio, socket, subprocess
    from berth.network.proxy import PortProxy
    from berth.errors import System

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, t): self.t = t
        def datagram_received(self, data, addr): self.t.sendto(b"pong:" + data, addr)

    async def tcp_echo(r, w):
        w.write(b"hi:" + await r.readline()); await w.drain(); w.close()

    async def main():
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.2", 53))
        await asyncio.start_server(tcp_echo, "127.0.0.2", 80)
        udp = PortProxy("udp", "127.0.0.1", 5353); await udp.serve(("127.0.0.2", 53))
        tcp = PortProxy("tcp", "", 8080); await tcp.serve(("127.0.0.2", 80))
        try:
            PortProxy("tcp", "127.0.0.1", 8080)
        except System as e:
            print("busy:", e.message)
        def udp_client():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
            s.sendto(b"ping", ("127.0.0.1", 5353)); return s.recvfrom(100)[0]
        print("udp:", (await asyncio.to_thread(udp_client)).decode())
        r, w = await asyncio.open_connection("127.0.0.1", 8080)
        w.write(b"there\\n"); await w.drain()
        print("tcp:", (await r.read()).decode().strip())
        udp.close(); tcp.close()
    asyncio.run(main())
''')


def test_udp_and_tcp_relays_and_busy_port():
    out = subprocess.run(["unshare", "-n", sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=30, env={"PYTHONPATH": SRC, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "udp: pong:ping" in lines
    assert "tcp: hi:there" in lines
    assert "busy: Error starting userland proxy: listen tcp4 127.0.0.1:8080: bind: address already in use" in lines
