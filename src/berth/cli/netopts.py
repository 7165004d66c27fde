"""Client-side pieces of `berth network`: docker's IPAM flag checks, flag value types,
natural sort order. Kept apart from cmd_network.py so that each stays small."""

from __future__ import annotations

from .command import CliError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def natural_less(a: str, b: str) -> bool:
    """sortorder.NaturalLess: digit runs compare as numbers, digits sort before other bytes."""
    i = j = 0
    la, lb = len(a), len(b)
    while i < la and j < lb:
        ca, cb = a[i], b[j]
        da, db = ca.isdigit() and ca.isascii(), cb.isdigit() and cb.isascii()
        if da != db:
            return da
        if not da:
            if ca != cb:
                return ca.encode() < cb.encode()
            i += 1
            j += 1
            continue
        while i < la and a[i] == "0":
            i += 1
        while j < lb and b[j] == "0":
            j += 1
        nz_a, nz_b = i, j
        while i < la and a[i].isdigit() and a[i].isascii():
            i += 1
        while j < lb and b[j].isdigit() and b[j].isascii():
            j += 1
        if i - nz_a != j - nz_b:
            return i - nz_a < j - nz_b
        if a[nz_a:i] != b[nz_b:j]:
            return a[nz_a:i] < b[nz_b:j]
        if nz_a != nz_b:
            return nz_a < nz_b
    return la < lb


def natural_sorted(items: list[Any], key: Any = lambda x: x) -> list[Any]:
    from functools import cmp_to_key

    def cmp(x: Any, y: Any) -> int:
        kx, ky = key(x), key(y)
        if natural_less(kx, ky):
            return -1
        if natural_less(ky, kx):
            return 1
        return 0

    return sorted(items, key=cmp_to_key(cmp))


def csv_value(text: str) -> list[str]:
    """pflag's string-slice value: comma separated, CSV quoting; "" is no item."""
    if not text:
        return []
    import csv

    try:
        return next(csv.reader([text]))
    except (csv.Error, StopIteration) as exc:
        raise ValueError(str(exc)) from None


def kv_map(items: list[str]) -> dict[str, str]:
    """opts.MapOpts / ConvertKVStringsToMap: "k=v" → k: v, a bare "k" → k: ""; keys sorted like Go's JSON."""
    out: dict[str, str] = {}
    for item in items:
        k, _, v = item.partition("=")
        out[k] = v
    return dict(sorted(out.items()))


def label_value(text: str) -> str:
    key = text.partition("=")[0]
    if not key.strip():
        raise ValueError(f"invalid label '{text}': empty name")
    return text


def _go_ip(text: str) -> Any:
    """net.ParseIP: an address or None (no zones, no leading zeros in IPv4)."""
    import ipaddress

    if "%" in text:
        return None
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if addr.version == 6 and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _go_cidr(text: str) -> Any:
    """net.ParseCIDR's network, or ValueError("invalid CIDR address: X")."""
    import ipaddress

    ip_text, sep, bits = text.partition("/")
    ip = _go_ip(ip_text)
    if not sep or ip is None or not bits.isdigit() or not bits.isascii():
        raise ValueError(f"invalid CIDR address: {text}")
    width = 32 if ip.version == 4 else 128
    if ":" in ip_text and ip.version == 4:
        width = 128
        if int(bits) > width:
            raise ValueError(f"invalid CIDR address: {text}")
        if int(bits) < 96:
            return ipaddress.ip_network(f"::ffff:{ip}/{bits}", strict=False)
        return ipaddress.ip_network(f"{ip}/{int(bits) - 96}", strict=False)
    if int(bits) > width:
        raise ValueError(f"invalid CIDR address: {text}")
    return ipaddress.ip_network(f"{ip}/{int(bits)}", strict=False)


def _subnet_matches(subnet: str, data: str) -> bool:
    """docker's subnetMatches: does `subnet` hold the address (or CIDR's address) `data`?"""
    try:
        net = _go_cidr(subnet)
    except ValueError as exc:
        raise CliError(f"invalid subnet: {exc}") from None
    if "/" in data:
        try:
            _go_cidr(data)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        ip = _go_ip(data.partition("/")[0])
    else:
        ip = _go_ip(data)
    if ip is None:
        return False
    if ip.version != net.version:
        import ipaddress

        if net.version == 6 and ip.version == 4:
            ip = ipaddress.IPv6Address(f"::ffff:{ip}")
        else:
            return False
    return ip in net


def ipam_config(subnets: list[str], ranges: list[str], gateways: list[str],
                aux: list[str]) -> list[dict[str, Any]]:
    """docker's consolidateIpam: one IPAMConfig per subnet, in the order given."""
    if len(subnets) < len(ranges) or len(subnets) < len(gateways):
        raise CliError("every ip-range or gateway must have a corresponding subnet")
    data: dict[str, dict[str, Any]] = {}
    for s in subnets:
        for k in data:
            if _subnet_matches(s, k) or _subnet_matches(k, s):
                raise CliError("multiple overlapping subnet configuration is not supported")
        data[s] = {"Subnet": s, "IPRange": "", "Gateway": "", "AuxiliaryAddresses": {}}
    for r in ranges:
        match = False
        for s in subnets:
            try:
                _go_cidr(r)
            except ValueError as exc:
                raise CliError(str(exc)) from None
            if not _subnet_matches(s, r):
                continue
            if data[s]["IPRange"]:
                raise CliError(f"cannot configure multiple ranges ({r}, {data[s]['IPRange']}) "
                               f"on the same subnet ({s})")
            data[s]["IPRange"] = r
            match = True
        if not match:
            raise CliError(f"no matching subnet for range {r}")
    for g in gateways:
        match = False
        for s in subnets:
            if not _subnet_matches(s, g):
                continue
            if data[s]["Gateway"]:
                raise CliError(f"cannot configure multiple gateways ({g}, {data[s]['Gateway']}) "
                               f"for the same subnet ({s})")
            data[s]["Gateway"] = g
            match = True
        if not match:
            raise CliError(f"no matching subnet for gateway {g}")
    for key, addr in kv_map(aux).items():
        match = False
        for s in subnets:
            if not _subnet_matches(s, addr):
                continue
            data[s]["AuxiliaryAddresses"][key] = addr
            match = True
        if not match:
            raise CliError(f"no matching subnet for aux-address {addr}")
    out = []
    for entry in data.values():  # omitempty, as Go marshals IPAMConfig
        out.append({k: v for k, v in entry.items() if v})
    return out


def link_value(text: str) -> str:
    """opts.ValidateLink: "name" or "name:alias"."""
    if text == "":
        raise ValueError("empty string specified for links")
    if text.count(":") > 1:
        raise ValueError(f"bad format for links: {text}")
    return text
