"""The embedded DNS's answers, decided without sockets (docker's resolver shapes)."""

from __future__ import annotations

import struct

import pytest
from dnslib import EDNS0, QTYPE, RCODE, DNSRecord

from berth.network.dns.answer import Answerer, header_only, ptr_address
from berth.network.dns.forward import DOCKER_DEFAULT_DNS, host_nameservers, parse_upstream


class Resolver:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.names = {"web": ["10.0.0.2", "10.0.0.3", "10.0.0.4"], "db": ["10.0.0.9"],
                      "v6": ["fd00::9"]}

    def lookup(self, cid, name, qtype):
        self.calls.append((cid, name, qtype))
        if name == "many":
            return [f"10.1.{i // 256}.{i % 256}" for i in range(100)]
        if name not in self.names:
            return None
        family = [a for a in self.names[name] if (":" in a) == (qtype == "AAAA")]
        return family

    def reverse(self, cid, ip):
        return {"10.0.0.2": "web.appnet", "fd00::9": "v6.appnet."}.get(ip)


def answer(name: str, qtype: str = "A", cid: str = "c1", resolver=None, **kw):
    a = Answerer(resolver or Resolver())
    return a.handle(cid, DNSRecord.question(name, qtype).pack(), **kw)


def parsed(verdict) -> DNSRecord:
    assert verdict.reply is not None and not verdict.forward
    return DNSRecord.parse(verdict.reply)


def test_a_record_shape_matches_dockers():
    q = DNSRecord.question("DB", "A")
    q.header.rd = 1
    reply = DNSRecord.parse(Answerer(Resolver()).handle("c1", q.pack()).reply)
    h = reply.header
    assert (h.id, h.qr, h.aa, h.ra, h.rd, h.rcode) == (q.header.id, 1, 0, 1, 1, RCODE.NOERROR)
    assert str(reply.q.qname) == "DB."  # the question is echoed as asked
    assert [(str(rr.rname), rr.rtype, rr.ttl, str(rr.rdata)) for rr in reply.rr] == [("DB.", QTYPE.A, 600, "10.0.0.9")]
    assert reply.ar == []


def test_name_is_given_lowercase_without_trailing_dot():
    r = Resolver()
    answer("Web.AppNet.", resolver=r)
    assert r.calls == [("c1", "web.appnet", "A")]


def test_round_robin_rotates_the_first_address_per_query():
    a = Answerer(Resolver())
    q = DNSRecord.question("web").pack()
    firsts = [str(DNSRecord.parse(a.handle("c1", q).reply).rr[0].rdata) for _ in range(4)]
    assert firsts == ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.2"]
    # each container has its own turn
    assert str(DNSRecord.parse(a.handle("c2", q).reply).rr[0].rdata) == "10.0.0.2"


def test_known_name_without_ipv6_gives_empty_noerror():
    reply = parsed(answer("web", "AAAA"))
    assert reply.header.rcode == RCODE.NOERROR and reply.rr == []


def test_aaaa_records():
    reply = parsed(answer("v6", "AAAA"))
    assert [(rr.rtype, str(rr.rdata)) for rr in reply.rr] == [(QTYPE.AAAA, "fd00::9")]


def test_unknown_names_and_other_types_are_forwarded():
    for name, qtype in (("example.com", "A"), ("nothing", "AAAA"), ("web", "TXT"), ("web", "SRV"),
                        ("nothing", "MX"), ("9.9.9.9.in-addr.arpa", "PTR"), ("1.2.in-addr.arpa", "PTR")):
        v = answer(name, qtype)
        assert v.forward and v.reply is None and v.query is not None, (name, qtype)


def test_mx_of_a_container_is_empty_noerror():
    reply = parsed(answer("db", "MX"))
    assert reply.header.rcode == RCODE.NOERROR and reply.rr == []


def test_ptr_v4_and_v6():
    reply = parsed(answer("2.0.0.10.in-addr.arpa", "PTR"))
    assert [(rr.rtype, str(rr.rdata), rr.ttl) for rr in reply.rr] == [(QTYPE.PTR, "web.appnet.", 600)]
    v6 = ".".join(reversed("fd00" + "0" * 27 + "9")) + ".ip6.arpa"
    assert [str(rr.rdata) for rr in parsed(answer(v6, "PTR")).rr] == ["v6.appnet."]


@pytest.mark.parametrize("name,ip", [
    ("4.3.2.1.in-addr.arpa.", "1.2.3.4"), ("4.3.2.1.IN-ADDR.ARPA", "1.2.3.4"),
    ("3.2.1.in-addr.arpa", None), ("300.2.1.0.in-addr.arpa", None), ("x.2.1.0.in-addr.arpa", None),
    ("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa", "::1"),
    ("1.0.ip6.arpa", None), ("example.com", None),
])
def test_ptr_address(name, ip):
    assert ptr_address(name) == ip


def test_resolver_exception_gives_servfail():
    class Broken(Resolver):
        def lookup(self, cid, name, qtype):
            raise KeyError(name)

    reply = parsed(answer("web", resolver=Broken()))
    assert reply.header.rcode == RCODE.SERVFAIL and str(reply.q.qname) == "web."
    assert reply.header.ra == 0  # docker's SetRcode leaves RA unset


def test_udp_answer_is_cut_to_512_bytes_with_tc():
    reply = answer("many")
    assert len(reply.reply) <= 512
    rec = DNSRecord.parse(reply.reply)
    assert rec.header.tc == 1 and 0 < len(rec.rr) < 100


def test_edns_size_and_tcp_allow_bigger_answers():
    q = DNSRecord.question("many")
    q.add_ar(EDNS0(udp_len=4096))
    rec = DNSRecord.parse(Answerer(Resolver()).handle("c1", q.pack()).reply)
    assert rec.header.tc == 0 and len(rec.rr) == 100
    rec = DNSRecord.parse(answer("many", max_size=65535).reply)
    assert rec.header.tc == 0 and len(rec.rr) == 100


def test_garbage_is_ignored_or_formerr():
    a = Answerer(Resolver())
    assert a.handle("c1", b"").reply is None
    assert a.handle("c1", b"\x00" * 11).reply is None
    response = DNSRecord.question("web").reply().pack()
    v = a.handle("c1", response)
    assert v.reply is None and not v.forward
    two_questions = b"\xab\xcd\x01\x00\x00\x02" + b"\x00" * 6 + b"\x00\x00\x01\x00\x01" * 2
    rec = DNSRecord.parse(a.handle("c1", two_questions).reply)
    assert rec.header.id == 0xABCD and rec.header.rcode == RCODE.FORMERR and rec.header.qr == 1
    cut = DNSRecord.question("web").pack()[:-3]
    assert DNSRecord.parse(a.handle("c1", cut).reply).header.rcode == RCODE.FORMERR
    loop = b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01"  # self-pointing name
    assert DNSRecord.parse(a.handle("c1", loop).reply).header.rcode == RCODE.FORMERR


def test_other_opcodes_are_not_implemented():
    q = bytearray(DNSRecord.question("web").pack())
    q[2] = (q[2] & 0x87) | (2 << 3)  # STATUS
    rec = DNSRecord.parse(Answerer(Resolver()).handle("c1", bytes(q)).reply)
    assert rec.header.rcode == RCODE.NOTIMP and rec.header.opcode == 2


def test_header_only_copies_id_opcode_rd():
    data = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    qid, flags = struct.unpack("!HH", header_only(data, RCODE.FORMERR)[:4])
    assert qid == 0x1234 and flags == 0x8000 | 0x0100 | RCODE.FORMERR


def test_host_nameservers(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("# c\nsearch x\nnameserver 10.0.0.53\nnameserver fe80::1%eth0\nnameserver bogus\n"
                    "nameserver 1.1.1.1 extra\n")
    assert host_nameservers(str(conf)) == ["10.0.0.53", "fe80::1%eth0", "1.1.1.1"]
    conf.write_text("search x\n")
    assert host_nameservers(str(conf)) == DOCKER_DEFAULT_DNS
    assert host_nameservers(str(tmp_path / "missing")) == DOCKER_DEFAULT_DNS


def test_parse_upstream():
    import socket

    assert parse_upstream("1.2.3.4") == ("1.2.3.4", 53, socket.AF_INET)
    assert parse_upstream("1.2.3.4:5353") == ("1.2.3.4", 5353, socket.AF_INET)
    assert parse_upstream("::1") == ("::1", 53, socket.AF_INET6)
    assert parse_upstream("[::1]:5300") == ("::1", 5300, socket.AF_INET6)
    with pytest.raises(ValueError):
        parse_upstream("resolver.example")


@pytest.mark.parametrize("name,qtype,rd,cd,edns", [
    ("web", "A", 1, 0, None), ("DB.", "A", 0, 1, None), ("v6", "AAAA", 1, 0, 1232), ("web", "AAAA", 1, 0, None),
    ("db", "A", 1, 0, 4096),
])
def test_fast_path_is_byte_for_byte_the_dnslib_answer(name, qtype, rd, cd, edns):
    q = DNSRecord.question(name, qtype)
    q.header.rd, q.header.cd = rd, cd
    if edns:
        q.add_ar(EDNS0(udp_len=edns))
    data = q.pack()
    fast = Answerer(Resolver())._fast("c1", data)
    assert fast is not None and fast.reply is not None
    slow = Answerer(Resolver())._local("c1", DNSRecord.parse(data)).pack()
    assert fast.reply == slow


def test_fast_path_leaves_odd_queries_to_dnslib():
    a = Answerer(Resolver())
    for q in (DNSRecord.question("web", "MX"), DNSRecord.question("we b", "A"), DNSRecord.question("many", "A")):
        assert a._fast("c1", q.pack()) is None
    forward = a._fast("c1", DNSRecord.question("example.com").pack())
    assert forward.forward and str(forward.query.q.qname) == "example.com."


def test_random_and_mutated_packets_never_raise():
    import random

    rng = random.Random(5)
    a = Answerer(Resolver())
    seeds = [DNSRecord.question(n, t).pack() for n, t in (("web", "A"), ("v6", "AAAA"), ("db", "MX"),
                                                          ("2.0.0.10.in-addr.arpa", "PTR"), ("x.example", "TXT"))]
    for i in range(3000):
        if i % 3 == 0:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        else:
            data = bytearray(rng.choice(seeds))
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            data = bytes(data[:rng.randrange(len(data) + 1)] if i % 5 == 0 else data)
        v = a.handle("c1", data)
        if v.forward:
            try:
                v.query
            except Exception:
                pass  # the server answers FORMERR for these
        elif v.reply is not None:
            assert v.reply[:2] == data[:2] and v.reply[2] & 0x80
