"""The embedded DNS served into real network namespaces, asked by real clients.

Run as a script (`unshare -n python3 test_dns_server.py world`), this file is the
"daemon": it serves an EmbeddedDNS with a fixed resolver into three container
namespaces and runs a stub upstream resolver in its own namespace. The tests
then query 127.0.0.11 from inside those container namespaces: over UDP and TCP
with dnslib-built packets, and with busybox's nslookup.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))

from dnslib import QTYPE, RCODE, DNSRecord  # noqa: E402

from berth.network.dns.netns import in_netns  # noqa: E402

pytestmark = pytest.mark.integration

STUB_PORT = 5300

# --------------------------------------------------------------------------- the "daemon" side


class FakeResolver:
    """Container "a" and "c" see web (two replicas), db and boom; "b" sees nothing."""

    names = {"web": ["172.18.0.2", "172.18.0.3"], "db": ["172.18.0.4"], "web.appnet": ["172.18.0.2"]}
    ptr = {"172.18.0.2": "web.appnet", "fd00::2": "web6.appnet"}

    def lookup(self, cid: str, name: str, qtype: str) -> list[str] | None:
        if name == "boom":
            raise RuntimeError("resolver bug")
        if cid == "b" or name not in self.names:
            return None
        return list(self.names[name]) if qtype == "A" else []

    def reverse(self, cid: str, ip: str) -> str | None:
        return self.ptr.get(ip) if cid != "b" else None


def _stub_answer(data: bytes) -> bytes | None:
    from dnslib import RR, A

    try:
        q = DNSRecord.parse(data)
    except Exception:
        return None
    name = str(q.q.qname).rstrip(".")
    reply = q.reply(aa=0)
    if name == "servfail.test":
        reply.header.rcode = RCODE.SERVFAIL
    elif name.endswith("example.com"):
        reply.add_answer(RR(q.q.qname, QTYPE.A, rdata=A("93.184.216.34"), ttl=77))
    else:
        reply.header.aa = 1
        reply.header.rcode = RCODE.NXDOMAIN
    return reply.pack()


class _StubUDP(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        reply = _stub_answer(data)
        if reply:
            self.transport.sendto(reply, addr)


async def _stub_tcp(reader, writer):
    try:
        while True:
            (size,) = struct.unpack("!H", await reader.readexactly(2))
            reply = _stub_answer(await reader.readexactly(size))
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def _die_with_parent() -> None:
    import ctypes
    import signal

    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def _container_ns() -> subprocess.Popen:
    return subprocess.Popen(["unshare", "-n", "sh", "-c", "ip link set lo up && exec sleep infinity"],
                            preexec_fn=_die_with_parent)


async def _world() -> None:
    from berth.network.dns import EmbeddedDNS

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(_StubUDP, local_addr=("127.0.0.1", STUB_PORT))
    await asyncio.start_server(_stub_tcp, "127.0.0.1", STUB_PORT)
    procs = {k: _container_ns() for k in "abcdefgh"}
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # takes queries, never answers
    silent.bind(("127.0.0.1", STUB_PORT + 1))
    await asyncio.sleep(0.3)
    paths = {k: f"/proc/{p.pid}/ns/net" for k, p in procs.items()}
    resolver = FakeResolver()
    good = EmbeddedDNS(resolver, [f"127.0.0.1:{STUB_PORT}"], timeout=1.0)
    # nothing listens on 5399: the first upstream fails at once, the second answers
    dead = EmbeddedDNS(resolver, lambda: ["127.0.0.1:5399"], timeout=1.0)
    await good.start("a", paths["a"])
    await good.start("b", paths["b"])
    await good.start("c", paths["c"], forward=False)
    await dead.start("d", paths["d"])
    # its own --dns servers, and an ndots option: single-label strangers stay unanswered
    await dead.start("e", paths["e"], upstreams=[f"127.0.0.1:{STUB_PORT}"], ndots_set=True)
    await good.start("f", paths["f"])
    await good.start("g", paths["g"], upstreams=[f"127.0.0.1:{STUB_PORT + 1}", f"127.0.0.1:{STUB_PORT}"])
    plain = EmbeddedDNS(resolver, [f"127.0.0.1:{STUB_PORT}"], timeout=1.0, redirect=False)
    await plain.start("h", paths["h"])
    paths["redirected"] = [good.redirected("a"), plain.redirected("h")]
    print(json.dumps(paths), flush=True)
    while True:  # commands from the test, until it closes our stdin
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        verb, cid = line.split()
        if verb == "stop":
            await good.stop(cid)
        elif verb == "race":  # start, start, stop, start at once: one server, no leaked socket
            inst = plain if cid == "h" else good  # plain binds :53 itself: a leak would fail the next bind
            await asyncio.gather(inst.start(cid, paths[cid]), inst.start(cid, paths[cid]),
                                 inst.stop(cid), inst.start(cid, paths[cid]))
            print("ok", inst.serving(cid), flush=True)
            continue
        else:
            await good.start(cid, paths[cid])
        print("ok", good.serving(cid), flush=True)
    await good.stop("a")
    await plain.close()
    await good.close()
    await dead.close()
    for p in procs.values():
        p.kill()


# --------------------------------------------------------------------------- the tests' side


@pytest.fixture(scope="module")
def world():
    sys.path.insert(0, HERE)
    from harness import _die_with_parent

    proc = subprocess.Popen(["unshare", "-n", sys.executable, __file__, "world"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, preexec_fn=_die_with_parent,
                            env=dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(HERE), "src")))
    line = proc.stdout.readline()
    try:
        assert line, "the DNS world did not start"
        paths = json.loads(line)
        paths["_proc"] = proc
        yield paths
    finally:
        proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0


def _udp(ns: str) -> socket.socket:
    def make() -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("127.0.0.11", 53))
        return s

    s = in_netns(ns, make)
    s.settimeout(5)
    return s


def ask(ns: str, name: str, qtype: str = "A", raw: bytes | None = None) -> DNSRecord:
    s = _udp(ns)
    try:
        s.send(raw if raw is not None else DNSRecord.question(name, qtype).pack())
        return DNSRecord.parse(s.recv(65535))
    finally:
        s.close()


def ask_tcp(ns: str, queries: list[bytes]) -> list[DNSRecord]:
    def make() -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(("127.0.0.11", 53))
        return s

    s = in_netns(ns, make)
    out = []
    try:
        for q in queries:
            s.sendall(struct.pack("!H", len(q)) + q)
        for _ in queries:
            head = _read(s, 2)
            out.append(DNSRecord.parse(_read(s, struct.unpack("!H", head)[0])))
    finally:
        s.close()
    return out


def _read(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        assert chunk, "connection closed"
        buf += chunk
    return buf


def addrs(reply: DNSRecord) -> list[str]:
    return [str(rr.rdata) for rr in reply.rr]


def test_container_name_answers_every_replica_round_robin(world):
    first = ask(world["a"], "web")
    second = ask(world["a"], "web")
    assert first.header.rcode == RCODE.NOERROR and first.header.ra == 1 and first.header.aa == 0
    assert sorted(addrs(first)) == ["172.18.0.2", "172.18.0.3"]
    assert addrs(first)[0] != addrs(second)[0]
    assert all(rr.ttl == 600 and rr.rtype == QTYPE.A for rr in first.rr)


def test_aaaa_of_a_container_without_ipv6_is_empty_noerror(world):
    reply = ask(world["a"], "web", "AAAA")
    assert reply.header.rcode == RCODE.NOERROR and reply.rr == []


def test_ptr_of_a_container_address(world):
    reply = ask(world["a"], "2.0.18.172.in-addr.arpa", "PTR")
    assert [str(rr.rdata) for rr in reply.rr] == ["web.appnet."]
    v6 = ".".join(reversed("fd00" + "0" * 27 + "2")) + ".ip6.arpa"
    assert [str(rr.rdata) for rr in ask(world["a"], v6, "PTR").rr] == ["web6.appnet."]


def test_other_names_are_forwarded_from_the_daemons_namespace(world):
    reply = ask(world["a"], "www.example.com")
    assert addrs(reply) == ["93.184.216.34"] and reply.rr[0].ttl == 77
    nx = ask(world["a"], "nothing.invalid")
    assert nx.header.rcode == RCODE.NXDOMAIN
    # a container that knows no names forwards even the single-label ones
    assert ask(world["b"], "web").header.rcode == RCODE.NXDOMAIN


def test_upstream_servfail_and_dead_upstream_give_servfail(world):
    assert ask(world["a"], "servfail.test").header.rcode == RCODE.SERVFAIL
    reply = ask(world["d"], "www.example.com")
    assert reply.header.rcode == RCODE.SERVFAIL and str(reply.q.qname) == "www.example.com."
    assert (reply.header.ra, reply.header.rd) == (0, 1)
    # names it owns still answer
    assert sorted(addrs(ask(world["d"], "web"))) == ["172.18.0.2", "172.18.0.3"]


def test_internal_network_does_not_forward(world):
    assert ask(world["c"], "www.example.com").header.rcode == RCODE.SERVFAIL
    assert addrs(ask(world["c"], "db")) == ["172.18.0.4"]


def test_resolver_failure_answers_servfail_and_server_survives(world):
    assert ask(world["a"], "boom").header.rcode == RCODE.SERVFAIL
    assert addrs(ask(world["a"], "db")) == ["172.18.0.4"]


def test_malformed_packets_are_ignored_or_formerr(world):
    s = _udp(world["a"])
    try:
        s.send(b"\x01")  # shorter than a header: silence
        s.send(b"\x12\x34\x81\x80" + b"\x00" * 8)  # a response: silence
        s.send(b"\x12\x35\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff")  # truncated question
        formerr = DNSRecord.parse(s.recv(512))
        assert formerr.header.id == 0x1235 and formerr.header.rcode == RCODE.FORMERR
        q = DNSRecord.question("www.example.com").pack()
        s.send(q[:10] + b"\x00\x01" + q[12:] + b"\x00\x00\x29\x10")  # a cut-off OPT record
        assert DNSRecord.parse(s.recv(512)).header.rcode == RCODE.FORMERR
    finally:
        s.close()
    assert addrs(ask(world["a"], "db")) == ["172.18.0.4"]


def test_tcp_queries_are_answered_in_order_and_forwarded(world):
    q1 = DNSRecord.question("db").pack()
    q2 = DNSRecord.question("www.example.com").pack()
    r1, r2 = ask_tcp(world["a"], [q1, q2])
    assert addrs(r1) == ["172.18.0.4"]
    assert addrs(r2) == ["93.184.216.34"]


def test_container_upstreams_and_ndots(world):
    assert addrs(ask(world["e"], "www.example.com")) == ["93.184.216.34"]  # its own server, not the dead one
    reply = ask(world["e"], "stranger")
    assert reply.header.rcode == RCODE.NOERROR and reply.rr == [] and reply.header.ra == 1
    assert sorted(addrs(ask(world["e"], "web"))) == ["172.18.0.2", "172.18.0.3"]
    assert ask(world["a"], "stranger").header.rcode == RCODE.NXDOMAIN  # without ndots: forwarded


def test_a_silent_upstream_times_out_and_the_next_one_answers(world):
    import time

    start = time.monotonic()
    reply = ask(world["g"], "www.example.com")
    took = time.monotonic() - start
    assert addrs(reply) == ["93.184.216.34"]
    assert 0.9 < took < 3  # the world's timeout is 1 s per upstream


def test_port_53_is_left_to_the_container(world):
    """As docker's: the server sits on random ports behind a NAT rule in the container's
    namespace, so a DNS server in the container can bind 0.0.0.0:53 itself."""
    assert world["redirected"] == [True, False]

    def bind53() -> list[socket.socket]:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("0.0.0.0", 53))
        t = socket.socket()
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind(("0.0.0.0", 53))
        t.listen(1)
        return [u, t]

    own = in_netns(world["a"], bind53)
    try:
        assert addrs(ask(world["a"], "db")) == ["172.18.0.4"]  # 127.0.0.11:53 still reaches us
        assert addrs(ask_tcp(world["a"], [DNSRecord.question("db").pack()])[0]) == ["172.18.0.4"]
    finally:
        for s in own:
            s.close()
    with pytest.raises(OSError):  # without the NAT rule, 127.0.0.11:53 is ours
        for s in in_netns(world["h"], bind53):
            s.close()
    assert addrs(ask(world["h"], "db")) == ["172.18.0.4"]
    assert addrs(ask(world["h"], "www.example.com")) == ["93.184.216.34"]


def _command(world, text: str) -> str:
    import select

    proc = world["_proc"]
    proc.stdin.write(text + "\n")
    proc.stdin.flush()
    ready, _, _ = select.select([proc.stdout], [], [], 15)
    assert ready, f"the DNS world did not answer {text!r}"
    return proc.stdout.readline().strip()


def test_stop_closes_the_sockets_and_start_serves_again(world):
    assert addrs(ask(world["f"], "db")) == ["172.18.0.4"]
    assert _command(world, "stop f") == "ok False"
    with pytest.raises(ConnectionRefusedError):
        ask(world["f"], "db")
    assert _command(world, "stop f") == "ok False"  # stopping twice is fine
    assert _command(world, "start f") == "ok True"
    assert _command(world, "start f") == "ok True"  # a second start rebinds
    assert _command(world, "race f") == "ok True"
    assert _command(world, "race h") == "ok True"
    assert addrs(ask(world["h"], "db")) == ["172.18.0.4"]
    assert addrs(ask(world["f"], "db")) == ["172.18.0.4"]
    assert addrs(ask_tcp(world["f"], [DNSRecord.question("db").pack()])[0]) == ["172.18.0.4"]


def test_busybox_nslookup_inside_the_container(world):
    out = subprocess.run(["nsenter", f"--net={world['a']}", "busybox", "nslookup", "db", "127.0.0.11"],
                         capture_output=True, text=True, timeout=20)
    assert "172.18.0.4" in out.stdout, out.stdout + out.stderr
    assert "127.0.0.11:53" in out.stdout


if __name__ == "__main__" and sys.argv[1:] == ["world"]:
    asyncio.run(_world())
