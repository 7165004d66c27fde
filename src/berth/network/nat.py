"""Berth's own nftables table (`table ip berth`): masquerade, port DNAT, isolation.

The whole table is rendered from the daemon's state and replaced in one atomic
batch (`add table; delete table; table ip berth {...}`), so a change, a crash
or a restart can never leave a duplicate or half a rule set. Batches go
through libnftables (ctypes, ~1 ms) and fall back to `nft -f -`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
import threading
from dataclasses import dataclass

from berth.errors import System

TABLE = "berth"


@dataclass(frozen=True)
class BridgeRules:
    bridge: str
    subnet: str
    internal: bool
    masquerade: bool = True


@dataclass(frozen=True)
class PortRule:
    proto: str            # tcp / udp
    host_ip: str          # '' or 0.0.0.0: every address of the host
    host_port: int
    container_ip: str
    container_port: int
    bridge: str


def render(bridges: list[BridgeRules], ports: list[PortRule], userland_proxy: bool) -> str:
    lines = [f"add table ip {TABLE}", f"delete table ip {TABLE}", f"table ip {TABLE} {{"]
    lines += ["  chain prerouting {", "    type nat hook prerouting priority dstnat; policy accept;",
              "    fib daddr type local jump ports", "  }",
              "  chain output {", "    type nat hook output priority -100; policy accept;",
              "    fib daddr type local jump ports", "  }",
              "  chain ports {"]
    for p in ports:
        match = []
        if userland_proxy:
            # Traffic from the container's own bridge goes through the proxy (docker's rule).
            match.append(f'iifname != "{p.bridge}"')
        if p.host_ip and p.host_ip != "0.0.0.0":
            match.append(f"ip daddr {p.host_ip}")
        match.append(f"{p.proto} dport {p.host_port}")
        lines.append("    " + " ".join(match) + f" dnat to {p.container_ip}:{p.container_port}")
    lines.append("  }")
    lines += ["  chain postrouting {", "    type nat hook postrouting priority srcnat; policy accept;"]
    for b in bridges:
        if not b.internal and b.masquerade:
            lines.append(f'    ip saddr {b.subnet} oifname != "{b.bridge}" masquerade')
        # The host's own loopback traffic DNATed to a container (route_localnet on the bridge).
        lines.append(f'    ip saddr 127.0.0.0/8 oifname "{b.bridge}" masquerade')
        if not userland_proxy:
            # Hairpin: a container reaching a published port of its own bridge.
            lines.append(f'    iifname "{b.bridge}" oifname "{b.bridge}" ct status dnat masquerade')
    lines.append("  }")
    lines += ["  chain forward {", "    type filter hook forward priority filter; policy accept;"]
    names = [b.bridge for b in bridges]
    for b in bridges:
        if b.internal:
            lines.append(f'    iifname "{b.bridge}" oifname != "{b.bridge}" drop')
            lines.append(f'    oifname "{b.bridge}" iifname != "{b.bridge}" drop')
    # A published port is reachable from other bridges as from anywhere else.
    lines.append("    ct status dnat accept")
    for b in bridges:
        others = [n for n in names if n != b.bridge]
        if others:
            lines.append(f'    iifname "{b.bridge}" oifname {{ ' + ", ".join(f'"{o}"' for o in others) + " } drop")
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def render_delete() -> str:
    return f"add table ip {TABLE}\ndelete table ip {TABLE}\n"


class Nft:
    """One libnftables context for the daemon's life (thread-safe through a lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ctx = None
        self._lib = None
        path = ctypes.util.find_library("nftables") or "libnftables.so.1"
        try:
            lib = ctypes.CDLL(path)
            lib.nft_ctx_new.restype = ctypes.c_void_p
            lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
            lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
            lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
            ctx = lib.nft_ctx_new(0)
            lib.nft_ctx_buffer_output(ctx)
            lib.nft_ctx_buffer_error(ctx)
            self._lib, self._ctx = lib, ctx
        except (OSError, AttributeError):
            self._lib = None

    def run(self, text: str) -> str:
        with self._lock:
            if self._lib is not None:
                rc = self._lib.nft_run_cmd_from_buffer(self._ctx, text.encode())
                out = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode(errors="replace")
                err = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode(errors="replace")
                if rc != 0:
                    raise System(f"nftables: {err.strip() or 'batch refused'}")
                return out
            proc = subprocess.run(["nft", "-f", "-"], input=text, capture_output=True, text=True)
            if proc.returncode != 0:
                raise System(f"nftables: {proc.stderr.strip()}")
            return proc.stdout
