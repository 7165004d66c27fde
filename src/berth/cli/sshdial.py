"""`-H ssh://user@host[:port]`: the API over an ssh session running `berth system dial-stdio`.

Like docker's ssh connection helper, every API connection is one `ssh` process;
the remote side runs `berth system dial-stdio`, which splices the session's
stdio onto the remote daemon's socket. Our end of the ssh process's stdio is
one half of a socketpair, so the rest of the client treats it as any socket
(half-close included).
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
from dataclasses import dataclass

from .command import PROG, CliError, getenv


@dataclass
class SshTarget:
    user: str
    host: str
    port: int | None
    path: str  # a remote socket path, given as ssh://host/path/to.sock (optional)


def parse_ssh_url(spec: str) -> SshTarget:
    rest = spec[len("ssh://"):]
    hostpart, slash, path = rest.partition("/")
    user, at, hostport = hostpart.rpartition("@")
    if not at:
        user, hostport = "", hostpart
    host, port_text = hostport, ""
    if hostport.startswith("["):
        host, _, port_text = hostport[1:].partition("]")
        port_text = port_text.lstrip(":")
    elif hostport.count(":") == 1:
        host, _, port_text = hostport.partition(":")
    if not host:
        raise CliError(f"unable to parse {PROG} host `{spec}`: no host specified")
    try:
        port = int(port_text) if port_text else None
    except ValueError:
        raise CliError(f"unable to parse {PROG} host `{spec}`: invalid port {port_text!r}") from None
    return SshTarget(user, host, port, "/" + path if slash and path else "")


def ssh_argv(target: SshTarget) -> list[str]:
    """The ssh command line; BERTH_SSH_COMMAND replaces `ssh` (for extra options)."""
    base = (getenv("BERTH_SSH_COMMAND") or "ssh").split()
    argv = base + ["-o", "ConnectTimeout=30", "-T"]
    if target.user:
        argv += ["-l", target.user]
    if target.port:
        argv += ["-p", str(target.port)]
    remote = [PROG]
    if target.path:
        remote += ["--host", f"unix://{target.path}"]
    remote += ["system", "dial-stdio"]
    return argv + ["--", target.host, *remote]


class SshSocket:
    """Our half of the socketpair, owning the ssh process behind the other half."""

    def __init__(self, argv: list[str]) -> None:
        ours, theirs = socket.socketpair()
        self._stderr = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(argv, stdin=theirs, stdout=theirs, stderr=self._stderr,
                                         start_new_session=True)
        except FileNotFoundError:
            ours.close()
            raise CliError(f"error during connect: exec: \"{argv[0]}\": executable file not found in $PATH") from None
        finally:
            theirs.close()
        self.sock = ours
        self.argv = argv

    def __getattr__(self, name: str):  # recv, sendall, shutdown, settimeout ...
        return getattr(self.sock, name)

    def failure(self) -> str | None:
        """docker's wording when the ssh command has ended with an error, else None."""
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return None
        if code == 0:
            return None
        self._stderr.seek(0)
        stderr = self._stderr.read().decode(errors="replace").strip()
        return (f"error during connect: command [{' '.join(self.argv)}] has exited with exit status {code}, "
                f"make sure the URL is valid, and {PROG.capitalize()} is installed on the remote host: "
                f"stderr={stderr}")

    def close(self) -> None:
        self.sock.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()


def dial(spec: str) -> SshSocket:
    return SshSocket(ssh_argv(parse_ssh_url(spec)))


def is_ssh(spec: str) -> bool:
    return spec.startswith("ssh://")

