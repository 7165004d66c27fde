"""`--format` / `inspect -f` output of berth, byte for byte against the real docker CLI.

Both CLIs talk to the same berthd, so for every case the two outputs (stdout,
stderr, exit status) must be identical bytes. Output that depends on the clock
("3 seconds ago", "Up 3 seconds") is frozen by bracketing: docker runs, berth
runs, and if the outputs differ docker runs again; only when docker's two runs
agree (no second boundary crossed in between) is a difference a failure,
otherwise the case is retried.

Two values are not berth's to match and are swapped, never loosened: the client
section of `version`/`info` (docker's CLI reports its own version, Go version,
commit and build time: the `{{json .Client}}` / `{{json .ClientInfo}}` object
of each CLI is exchanged for the other's), and the daemon's SystemTime in
`info`, which differs between any two requests.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.compat,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")]

DOCKER = "/usr/local/bin/docker"
TRIES = 6

# Containers the cases look at (created once per module, see `world`).
NAMES = ["web", "done", "fresh", "hc", "pub", "uni"]

PS_FORMATS = [
    "{{.ID}}",
    r"table {{.ID}}\t{{.Names}}\t{{.Status}}",
    "{{json .}}",
    "json",
    "table",
    "{{.Labels}}",
    '{{.Label "x"}}',
    '{{.Label "com.example.vendor"}}|{{.Label "nope"}}',
    "{{.Command}}",
    "{{.CreatedAt}}",
    "{{.RunningFor}}",
    "{{.Ports}}",
    "{{.Mounts}}",
    "{{.Networks}}",
    "{{.LocalVolumes}}",
    "{{.Size}}",
    "{{.State}}",
    "{{.Status}}",
    "{{.Image}}",
    "{{.Names}}",
    "{{.Platform}}",
    r"table {{.Names}}\t{{.Label `com.example.vendor`}}\t{{.State}}",
    r"table {{upper .Names}}\t{{json .Labels}}\t{{pad .State 1 1}}",
    "{{.Names}}: {{truncate .Command 8}} {{len .Labels}}",
    '{{truncate (.Label "ü") 4}}|{{.Label "ü"}}',
    "{{if eq .State `running`}}up{{else}}down{{end}} {{.Names}}",
    '{{range split .Labels ","}}[{{.}}]{{end}}',
    '{{printf "%-8s|%5.2f|%q" .Names 3.14159 .State}}',
    '{{printf "%d" .Names}}',
    " json",
    r"{{.Names}}\n{{.State}}",
    "{{if false}}{{.Size}}{{end}}no size",
]
PS_FLAGS = [[], ["-a"], ["-a", "--no-trunc"], ["-a", "-n", "2"], ["-a", "-s"], ["-a", "-q"]]

PS_EXTRA = [
    ["ps", "-a", "-q", "--format", "{{.Names}}"],
    ["ps", "-a", "-q", "--format", "table"],
    ["ps", "-a", "-q", "--no-trunc", "--format", "json"],
    ["ps", "-a", "--size=false", "--format", "{{.Names}} {{.Size}}"],
    ["ps", "-a", "-s", "--format", "table"],
    ["ps", "-a", "-s", "--format", r"table {{.Names}}\t{{.Size}}"],
    ["ps", "-a", "--latest", "--format", "{{.Names}}"],
    ["ps", "-a", "--filter", "label=a", "--format", "{{.Names}} {{.Label `a`}}"],
    ["ps", "-a", "--filter", "status=exited", "--format", "table {{.Names}}"],
    ["ps", "--filter", "name=nothing-matches", "--format", r"table {{.Names}}\t{{.Label `x.y-z_w`}}"],
    ["ps", "--filter", "name=nothing-matches", "--format", "{{.Names}}"],
    ["container", "ls", "-a", "--format", "{{.Names}}"],
]

IMAGE_FORMATS = [
    "{{.Repository}}:{{.Tag}}",
    "{{.ID}}",
    "{{.CreatedSince}}",
    "{{.CreatedAt}}",
    "{{.Size}}",
    "{{.Digest}}",
    "{{json .}}",
    "json",
    "table",
    r"table {{.Repository}}\t{{.Tag}}\t{{.ID}}",
    r"table {{.ID}}\t{{.Size}}",
    "{{.Containers}} {{.SharedSize}} {{.UniqueSize}} {{.VirtualSize}}",
    '{{printf "%d|%s" .ID 5}}',
]
IMAGE_FLAGS = [[], ["--digests"], ["--no-trunc"], ["-q"], ["-a"]]

IMAGE_EXTRA = [
    ["images", "busybox", "--format", "{{.Tag}}"],
    ["images", "--filter", "reference=other/*", "--format", "table {{.Repository}}"],
    ["images", "--filter", "reference=nothing", "--format", r"table {{.Repository}}\t{{.ID}}"],
    ["image", "ls", "--format", "{{.Repository}}"],
]

INSPECT_FORMATS = [
    "{{.State.Status}}",
    "{{json .Config}}",
    "{{range .Config.Env}}{{.}} {{end}}",
    '{{index .Config.Labels "a"}}',
    '{{index .Config.Labels "missing"}}|',
    "{{.Config.Labels.x}}",
    "{{.NetworkSettings.IPAddress}}",
    "{{json .NetworkSettings}}",
    "{{.ID}} {{.Id}} {{.Name}}",
    "{{.State.Health}}",
    "{{json .State.Health}}",
    "{{.SizeRw}} {{.SizeRootFs}}",
    "{{json .}}",
    "{{json .HostConfig}}",
    "{{.HostConfig.RestartPolicy}} {{.HostConfig.RestartPolicy.Name}}",
    "{{.HostConfig.PortBindings}} {{json .HostConfig.PortBindings}}",
    "{{.Config.ExposedPorts}} {{.Config.Volumes}}",
    "{{.Config.Healthcheck}}",
    "{{with .Config.Healthcheck}}{{.Interval}} {{.Test}}{{end}}",
    "{{.Config.StopTimeout}} {{.Config.StopSignal}}",
    "{{.HostConfig.Memory}} {{.HostConfig.CpuShares}} {{.HostConfig.CPUShares}}",
    "{{.Mounts}} {{json .Mounts}}",
    "{{range .Mounts}}{{.Source}} {{end}}",
    "{{len .Config.Cmd}} {{index .Config.Cmd 0}}",
    '{{printf "%d" "x"}}',
    '{{printf "%d %s %v %T" .State.Pid .State.Pid .State.Running .State}}',
    "{{eq .State.ExitCode 3}}",
    "{{.Foo}}",
    "{{.State.Foo}}",
    "{{.Config.Labels.x.y}}",
    "{{.State.Health.Status}}",
    "{{index .Config.Cmd 99}}",
    "json",
    "{{.Config.Labels}}",
    '{{join .Config.Cmd ","}}|{{upper .Name}}|{{title .State.Status}}|{{lower "ÀB"}}',
    "{{.Created}} {{.Path}} {{.Args}} {{.RestartCount}} {{.Driver}} {{.Platform}}",
    "{{.GraphDriver.Name}} {{json .GraphDriver}}",
    "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
]

# Printed structs: Go prints a nested non-nil pointer as its address (hc's State.Health, any
# NetworkSettings.Networks entry), so these run where every run prints the same.
STRUCT_PRINT_FORMATS = [
    "{{.State}}",
    '{{printf "%v" .State}}',
    '{{printf "%+v" .State}}',
    "{{.HostConfig.LogConfig}} {{.HostConfig.RestartPolicy}} {{.HostConfig.ConsoleSize}} {{.GraphDriver.Name}}",
]

IMAGE_INSPECT_FORMATS = [
    "{{.ID}} {{.Id}}",
    "{{json .Config}}",
    "{{json .}}",
    "{{.RepoTags}} {{json .RepoDigests}}",
    "{{.Config.Cmd}} {{.Config.Env}} {{.Config.Labels}} {{.Config.ExposedPorts}}",
    '{{index .Config.Labels "missing"}}|',
    "{{.Size}} {{.Os}}/{{.Architecture}} {{.Variant}}",
    "{{.Metadata}} {{.Metadata.LastTagTime}} {{json .Metadata}}",
    "{{.RootFS}} {{json .RootFS}}",
    "{{.Foo}}",
    "{{.Config.Foo}}",
    "{{.ContainerConfig}}",
    "json",
]

HISTORY_FORMATS = [
    "{{.ID}}",
    "{{json .}}",
    "json",
    "table",
    r"table {{.ID}}\t{{.CreatedBy}}\t{{.Size}}",
    "{{.CreatedAt}} {{.CreatedSince}} {{.Size}} {{.Comment}}",
    "{{.CreatedBy}}",
    "{{.Foo}}",
    "{{.Foo",
]
HISTORY_FLAGS = [[], ["-q"], ["--no-trunc"], ["-H=false"]]

VERSION_FORMATS = [
    "{{.Server.Version}}",
    "{{json .Server}}",
    "{{.Server}}",
    "{{.Server.Os}}/{{.Server.Arch}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}}",
    "{{json .Server.Components}}",
    "{{range .Server.Components}}{{.Name}}={{.Version}};{{end}}",
    "{{.Server.Platform.Name}}",
    "{{.Client.APIVersion}} {{.Client.Context}} {{.Client.Os}}",
    "{{.Server.Foo}}",
    "{{.Server.ApiVersion}}",
    "{{.Foo}}",
    "{{.Foo",
    "a\tb {{.Server.Version}}\tc",
    "{{json .}}",
    "json",
]

INFO_FORMATS = [
    "{{.ServerVersion}}",
    "{{json .}}",
    "json",
    "{{json .Plugins}}",
    "{{json .Swarm}}",
    "{{.Swarm}}",
    "{{.Swarm.LocalNodeState}}",
    "{{.Runtimes}}",
    "{{json .Runtimes}}",
    "{{.RegistryConfig}}",
    "{{json .RegistryConfig}}",
    "{{.NCPU}} {{.Driver}} {{.DefaultRuntime}} {{.LiveRestoreEnabled}} {{.OSType}}",
    "{{.HTTPProxy}}|{{.NoProxy}}|{{.Isolation}}|{{.CDISpecDirs}}|{{.Warnings}}",
    "{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.Images}}",
    "{{.ClientInfo.Context}} {{.ClientInfo.Debug}} {{.ClientInfo.Plugins}}",
    "{{.HttpProxy}}",
    "{{.Foo}}",
    "{{.Foo",
    "{{.ContainerdCommit}} {{json .RuncCommit}}",
]

ERRORS = [
    ["ps", "--format", "{{.Foo"],
    ["ps", "--format", "{{ .ID } }}"],
    ["ps", "--format", "{{ } }}"],
    ["ps", "--format", "{{.ID}"],
    ["ps", "-a", "--format", "{{.Foo}}"],
    ["ps", "-a", "--format", "{{index .Names 5}}"],
    ["ps", "-a", "--format", "{{.Label}}"],
    ["ps", "-a", "--format", '{{.Label "a" "b"}}'],
    ["ps", "-a", "-q", "--format", "{{.Foo}}"],
    ["ps", "-a", "--format", "{{(}}"],
    ["ps", "-a", "--format", "{{template `x`}}"],
    ["images", "--format", "{{.Foo"],
    ["images", "--format", "{{.Foo}}"],
    ["images", "--format", "{{index .Repository 30}}"],
    ["images", "--format", "{{ .ID } }}"],
    ["history", "--format", "{{.Foo}}", "busybox"],
    ["inspect", "-f", "{{.Foo", "web"],
    ["inspect", "-f", "{{ .ID } }}", "web"],
    ["inspect", "-f", "{{.Foo}}", "web", "nope", "busybox"],
    ["inspect", "-f", "{{.Id}}", "nope", "web"],
    ["inspect", "-f", "{{.State.Status}}", "busybox", "web"],
    ["inspect", "-f", "{{.Config.Labels.x.y}}", "done", "web", "done"],
    ["inspect", "-f", "{{.Config.Labels.nope}}|{{.Nope}}", "web", "done", "fresh"],
    ["container", "inspect", "-f", "{{.Foo}}", "web", "done"],
    ["container", "inspect", "-f", "{{.Name}}", "nope", "web"],
    ["image", "inspect", "-f", "{{.Foo", "busybox"],
    ["image", "inspect", "-f", "{{.Config.Foo}}", "busybox", "nope"],
    ["version", "--format", "{{.Foo"],
    ["info", "--format", "{{.Foo"],
    ["info", "--format", "{{ .ID } }}"],
]


def _cases() -> list[list[str]]:
    cases: list[list[str]] = []
    for fmt in PS_FORMATS:
        for flags in PS_FLAGS:
            cases.append(["ps", *flags, "--format", fmt])
    cases += PS_EXTRA
    for fmt in IMAGE_FORMATS:
        for flags in IMAGE_FLAGS:
            cases.append(["images", *flags, "--format", fmt])
    cases += IMAGE_EXTRA
    for fmt in INSPECT_FORMATS:
        cases.append(["inspect", "-f", fmt, *NAMES])
    for fmt in INSPECT_FORMATS[:12]:
        cases.append(["container", "inspect", "--format", fmt, "web", "hc"])
    for fmt in STRUCT_PRINT_FORMATS:
        cases.append(["inspect", "-f", fmt, "web", "done", "fresh", "pub", "uni"])
    cases.append(["inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", "web"])
    cases.append(["container", "inspect", "-s", "-f", "{{json .SizeRw}}", "hc"])
    for fmt in IMAGE_INSPECT_FORMATS:
        cases.append(["image", "inspect", "-f", fmt, "busybox", "other/repo:x"])
    for fmt in IMAGE_INSPECT_FORMATS[:6]:
        cases.append(["inspect", "--format", fmt, "other/repo:x"])
    cases.append(["inspect", "--type", "image", "-f", "{{.ID}}", "busybox"])
    for fmt in HISTORY_FORMATS:
        for flags in HISTORY_FLAGS:
            cases.append(["history", *flags, "--format", fmt, "busybox"])
    cases.append(["image", "history", "--format", "{{.ID}} {{.Comment}}", "other/repo:x"])
    for fmt in VERSION_FORMATS:
        cases.append(["version", "--format", fmt])
    cases.append(["version", "-f", "{{.Server.Version}}"])
    for fmt in INFO_FORMATS:
        cases.append(["info", "--format", fmt])
    cases.append(["system", "info", "-f", "{{.ServerVersion}}"])
    cases += ERRORS
    return cases


CASES = _cases()


def _case_id(args: list[str]) -> str:
    return " ".join(args)[:90]


# --- running both CLIs ------------------------------------------------------------------------


def _env(sandbox, tmp: str) -> dict[str, str]:
    env = sandbox.env()
    env["DOCKER_CONFIG"] = os.path.join(tmp, "docker-config")  # no psFormat/imagesFormat from a user config
    env.pop("DOCKER_API_VERSION", None)
    return env


def _run(argv: list[str], env: dict[str, str]) -> tuple[int, bytes, bytes]:
    p = subprocess.run(argv, env=env, capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    return p.returncode, p.stdout, p.stderr


def _ours(err: bytes) -> bytes:
    """docker's messages with the program's name as berth spells it."""
    return re.sub(rb"(?<![\w.])docker(?![\w.])", b"berth", err).replace(b"Docker ", b"Berth ")


class Clients:
    def __init__(self, sandbox, tmp: str) -> None:
        self.env = _env(sandbox, tmp)
        self.swaps: list[tuple[bytes, bytes]] = []

    def docker(self, args: list[str]) -> tuple[int, bytes, bytes]:
        return _run([DOCKER, *args], self.env)

    def berth(self, args: list[str]) -> tuple[int, bytes, bytes]:
        return _run([sys.executable, "-m", "berth.cli.main", *args], self.env)

    def client_objects(self) -> None:
        """The client sections each CLI reports about itself (swapped, see the module doc)."""
        for cmd, fmt in (("version", "{{json .Client}}"), ("info", "{{json .ClientInfo}}")):
            d = self.docker([cmd, "--format", fmt])[1].rstrip(b"\n")
            b = self.berth([cmd, "--format", fmt])[1].rstrip(b"\n")
            assert d.startswith(b"{") and b.startswith(b"{"), (d, b)
            self.swaps.append((d, b))

    def expected(self, args: list[str], got: tuple[int, bytes, bytes]) -> tuple[int, bytes, bytes]:
        status, out, err = got
        for theirs, ours in self.swaps:
            out = out.replace(theirs, ours)
        return status, out, _ours(err)


_SYSTEM_TIME = re.compile(rb'"SystemTime":"[^"]*"')


def _normal(args: list[str], result: tuple[int, bytes, bytes]) -> tuple[int, bytes, bytes]:
    status, out, err = result
    if args[0] in ("info", "system"):
        out = _SYSTEM_TIME.sub(b'"SystemTime":"(per request)"', out)
    return status, out, err


def compare(clients: Clients, args: list[str]) -> None:
    for _ in range(TRIES):
        first = _normal(args, clients.expected(args, clients.docker(args)))
        ours = _normal(args, clients.berth(args))
        if ours == first:
            return
        again = _normal(args, clients.expected(args, clients.docker(args)))
        if again == first:
            break  # docker is stable across berth's run: a real difference
    assert ours == first, _explain(first, ours)


def _explain(want: tuple[int, bytes, bytes], got: tuple[int, bytes, bytes]) -> str:
    lines = []
    for label, w, g in zip(("status", "stdout", "stderr"), want, got):
        if w != g:
            lines.append(f"{label}:\n  docker: {w!r}\n  berth:  {g!r}")
    return "\n".join(lines)


# --- the daemon state the cases look at ----------------------------------------------------------


@pytest.fixture(scope="module")
def clients(sandbox, busybox_tar, tmp_path_factory):
    c = Clients(sandbox, str(tmp_path_factory.mktemp("format-golden")))

    def ok(args: list[str], status: int = 0) -> bytes:
        got, out, err = c.docker(args)
        assert got == status, (args, out, err)
        return out

    ok(["tag", "busybox", "busybox:v2"])
    ok(["import", "--change", "LABEL a=b", "--change", "ENV FOO=bar", "--change", "EXPOSE 80",
        "--change", 'CMD ["sh"]', busybox_tar, "other/repo:x"])
    ok(["run", "--name", "done", "-l", "a=2", "busybox", "sh", "-c", "echo hi; exit 3"], status=3)
    ok(["create", "--name", "fresh", "-v", "/data", "busybox", "echo", 'hello "world"'])
    ok(["create", "--name", "pub", "-p", "8080:80", "--expose", "9000", "busybox", "true"])
    ok(["run", "-d", "--name", "hc", "--health-cmd", "true", "--health-interval", "1h", "--stop-signal", "SIGUSR1",
        "--stop-timeout", "7", "--restart", "on-failure:3", "--cpu-shares", "512", "--memory", "64m", "-e",
        "FOO=bar", "-w", "/tmp", "-u", "0:0", "--hostname", "hhh", "--entrypoint", "sh", "-l",
        "ü=日本語テキスト", "busybox", "-c", "sleep 100000"])
    ok(["run", "-d", "--name", "uni", "-l", "x=ünï <&> \"q\"", "busybox", "sh", "-c",
        "echo ünïcödé tëxt; sleep 100000"])
    ok(["run", "-d", "--name", "web", "-l", "a=1", "-l", "x=hello", "-l", "com.example.vendor=acme", "-e",
        "GREETING=hello world", "busybox", "sleep", "100000"])
    c.client_objects()
    return c


def test_case_table_is_large_enough():
    assert len(CASES) >= 300


@pytest.mark.parametrize("args", CASES, ids=_case_id)
def test_format_output_matches_docker(clients, args):
    compare(clients, args)
