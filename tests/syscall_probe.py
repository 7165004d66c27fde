"""Tiny static x86-64 ELF programs that make one raw system call and exit with its errno.

Busybox has no keyctl, ptrace or init_module applets, and the test images have
no compiler or interpreter; a hand-assembled program makes any syscall with
literal or string arguments. Exit status: 0 when the call succeeded, else errno.
"""

from __future__ import annotations

import struct

BASE = 0x400000
HEADERS = 64 + 56

# x86-64 syscall numbers used by the isolation tests
SYS = {"ptrace": 101, "setrlimit": 160, "reboot": 169, "init_module": 175, "add_key": 248,
       "keyctl": 250, "unshare": 272, "mount": 165, "finit_module": 313}

_ARG_REGS = (b"\x48\xbf", b"\x48\xbe", b"\x48\xba", b"\x49\xba", b"\x49\xb8", b"\x49\xb9")  # rdi rsi rdx r10 r8 r9


def probe(syscall: str | int, *args: int | bytes) -> bytes:
    """An ELF making `syscall(*args)`; bytes arguments become pointers to that data."""
    number = SYS[syscall] if isinstance(syscall, str) else syscall
    blobs = [a for a in args if isinstance(a, bytes)]
    code_len = 7 + 10 * len(args) + 2 + 3 + 2 + 2 + 2 + 3 + 3 + 5 + 2
    data_at = BASE + HEADERS + code_len
    code = b"\x48\xc7\xc0" + struct.pack("<i", number)  # mov rax, number
    offset = 0
    for reg, arg in zip(_ARG_REGS, args):
        if isinstance(arg, bytes):
            value = data_at + offset
            offset += len(arg)
        else:
            value = arg & 0xFFFFFFFFFFFFFFFF
        code += reg + struct.pack("<Q", value)
    code += (b"\x0f\x05"              # syscall
             b"\x48\x85\xc0"          # test rax, rax
             b"\x78\x04"              # js neg
             b"\x31\xff"              # xor edi, edi
             b"\xeb\x06"              # jmp exit
             b"\x48\x89\xc7"          # neg: mov rdi, rax
             b"\x48\xf7\xdf"          # neg rdi
             b"\xb8\x3c\x00\x00\x00"  # exit: mov eax, 60
             b"\x0f\x05")             # syscall
    assert len(code) == code_len
    body = code + b"".join(blobs)
    size = HEADERS + len(body)
    ehdr = (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 +
            struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, BASE + HEADERS, 64, 0, 0, 64, 56, 1, 0, 0, 0))
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, BASE, BASE, size, size, 0x1000)
    return ehdr + phdr + body
