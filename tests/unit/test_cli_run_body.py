"""The ContainerCreate body `run`/`create` send, compared with docker's CLI 28.

The golden bodies below were captured from /usr/local/bin/docker (28.2.2)
talking to a fake daemon. When that binary is installed, more command lines
are compared live: docker and berth talk to the same fake daemon and the
recorded requests must match.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from berth.cli.containeropts import (
    OptionError,
    add_create_flags,
    build_create_spec,
    parse_kv_file,
    parse_port_specs,
)
from berth.cli.flags import FlagSet
from berth.cli.main import main
from test_cli_support import FakeDaemon, error_reply

DOCKER = "/usr/local/bin/docker"

RICH_BODY = (
    '{"Hostname":"myhost","Domainname":"","User":"1000:1000","AttachStdin":true,"AttachStdout":true,'
    '"AttachStderr":false,"ExposedPorts":{"53/udp":{},"80/tcp":{},"9000/tcp":{}},"Tty":true,"OpenStd'
    'in":true,"StdinOnce":true,"Env":["FOO=bar","BARE=fromenv","SP=x ","EMPTY=","A=b","C=d","E=f"],"'
    'Cmd":["-c","echo hi"],"Image":"busybox","Volumes":{"/anon":{}},"WorkingDir":"/srv","Entrypoint"'
    ':["/bin/sh"],"OnBuild":null,"Labels":{"lab1":"v1","x":"y","z":""},"StopSignal":"SIGTERM","StopT'
    'imeout":7,"HostConfig":{"Binds":["/a:/b:ro","vol:/data"],"ContainerIDFile":"","LogConfig":{"Typ'
    'e":"json-file","Config":{"max-size":"1m"}},"NetworkMode":"host","PortBindings":{"53/udp":[{"Hos'
    'tIp":"127.0.0.1","HostPort":"53"}],"80/tcp":[{"HostIp":"","HostPort":"8080"}],"9000/tcp":[{"Hos'
    'tIp":"","HostPort":""}]},"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3},"AutoRemov'
    'e":false,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":["CAP_NET_ADMIN"],"C'
    'apDrop":["ALL"],"CgroupnsMode":"","Dns":["1.1.1.1"],"DnsOptions":[],"DnsSearch":[],"ExtraHosts"'
    ':["h:1.2.3.4"],"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":'
    '"","Privileged":true,"PublishAllPorts":false,"ReadonlyRootfs":true,"SecurityOpt":["no-new-privi'
    'leges"],"UTSMode":"","UsernsMode":"","ShmSize":0,"Runtime":"crun","Isolation":"","CpuShares":51'
    '2,"Memory":67108864,"NanoCpus":1500000000,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice"'
    ':[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWrite'
    'IOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"'
    '0-1","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReserva'
    'tion":0,"MemorySwap":134217728,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":100,"Ul'
    'imits":[{"Name":"nofile","Hard":2048,"Soft":1024},{"Name":"nproc","Hard":50,"Soft":50}],"CpuCou'
    'nt":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths'
    '":null,"Init":true},"NetworkingConfig":{"EndpointsConfig":{}}}'
)

PLAIN_BODY = (
    '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr"'
    ':true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"busybox","'
    'Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":'
    'null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBind'
    'ings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":'
    '"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":'
    '[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","L'
    'inks":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRoo'
    'tfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShare'
    's":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDev'
    'iceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"Cpu'
    'Period":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems'
    '":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemoryS'
    'wap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"Cp'
    'uPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"'
    'NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,'
    '"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","I'
    'PAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"D'
    'NSNames":null}}}}'
)


RICH_ARGS = [
    "--name", "web", "-e", "A=b", "--env=C=d", "-eE=f", "--env-file", "{env}", "-w", "/srv", "-u", "1000:1000",
    "--entrypoint", "/bin/sh", "-l", "x=y", "--label", "z", "--label-file", "{lab}", "-h", "myhost",
    "--stop-signal", "SIGTERM", "--stop-timeout", "7", "--init", "--read-only", "--privileged",
    "--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "-m", "64m",
    "--memory-swap", "128m", "--cpus", "1.5", "--cpu-shares", "512", "--cpuset-cpus", "0-1",
    "--pids-limit", "100", "--ulimit", "nofile=1024:2048", "--ulimit", "nproc=50", "-t", "-i", "-a", "stdout",
    "--restart", "on-failure:3", "--log-driver", "json-file", "--log-opt", "max-size=1m", "--network", "host",
    "--runtime", "crun", "--platform", "linux/amd64", "-v", "/a:/b:ro", "-v", "vol:/data", "-v", "/anon",
    "-p", "8080:80", "-p", "127.0.0.1:53:53/udp", "-p", "9000", "--dns", "1.1.1.1", "--add-host", "h:1.2.3.4",
    "busybox", "-c", "echo hi",
]


def spec_for(args: list[str], run: bool = False):
    fs = FlagSet()
    add_create_flags(fs, run=run)
    v, pos = fs.parse(args)
    return build_create_spec(v, pos[0], pos[1:])


def body_text(body) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


@pytest.fixture
def kv_files(tmp_path, monkeypatch):
    env = tmp_path / "env.txt"
    env.write_text("FOO=bar\n# comment\nBARE\n  SP=x \nEMPTY=\nMISSING\n\n")
    lab = tmp_path / "lab.txt"
    lab.write_text("lab1=v1\n#c\nlab2\n")
    monkeypatch.setenv("BARE", "fromenv")
    monkeypatch.delenv("MISSING", raising=False)
    return str(env), str(lab)


def test_plain_run_body_is_byte_identical_to_dockers():
    spec = spec_for(["busybox"], run=True)
    assert body_text(spec.body) == PLAIN_BODY
    assert spec.query() == {}


def test_rich_command_line_body_is_byte_identical_to_dockers(kv_files):
    env, lab = kv_files
    args = [a.format(env=env, lab=lab) for a in RICH_ARGS]
    spec = spec_for(args)
    assert body_text(spec.body) == RICH_BODY
    assert spec.query() == {"name": "web", "platform": "linux/amd64"}


def test_entrypoint_empty_string_resets_and_unset_is_null():
    assert spec_for(["--entrypoint", "", "busybox"]).body["Entrypoint"] == [""]
    assert spec_for(["busybox"]).body["Entrypoint"] is None


def test_network_default_vs_explicit():
    assert list(spec_for(["busybox"]).body["NetworkingConfig"]["EndpointsConfig"]) == ["default"]
    body = spec_for(["--network", "bridge", "busybox"]).body
    assert body["HostConfig"]["NetworkMode"] == "bridge"
    assert body["NetworkingConfig"] == {"EndpointsConfig": {}}
    body = spec_for(["--network", "mynet", "--network-alias", "al", "--ip", "10.0.0.5", "busybox"]).body
    ep = body["NetworkingConfig"]["EndpointsConfig"]["mynet"]
    assert ep["Aliases"] == ["al"] and ep["IPAMConfig"] == {"IPv4Address": "10.0.0.5"}


def test_env_is_deduplicated_last_value_wins():
    assert spec_for(["-e", "A=1", "-e", "B=2", "-e", "A=3", "busybox"]).body["Env"] == ["A=3", "B=2"]


def test_bare_env_takes_value_from_our_environment(monkeypatch):
    monkeypatch.setenv("FROMHOST", "yes")
    monkeypatch.delenv("NOTSET", raising=False)
    assert spec_for(["-e", "FROMHOST", "-e", "NOTSET", "busybox"]).body["Env"] == ["FROMHOST=yes", "NOTSET"]


def test_capabilities_are_normalised():
    host = spec_for(["--cap-add", "net_admin", "--cap-add", "ALL", "--cap-add", "NET_ADMIN",
                     "--cap-drop", "chown", "busybox"]).body["HostConfig"]
    assert host["CapAdd"] == ["ALL", "CAP_NET_ADMIN"]
    assert host["CapDrop"] == ["CAP_CHOWN"]


def test_volumes_split_into_binds_and_anonymous():
    body = spec_for(["-v", "/a:/b", "-v", "/a:/b", "-v", "rel:/c:z", "-v", "/x", "busybox"]).body
    assert body["HostConfig"]["Binds"] == ["/a:/b", "rel:/c:z"]
    assert body["Volumes"] == {"/x": {}}


def test_mount_syntax():
    mounts = spec_for(["--mount", "type=bind,src=/x,dst=/y,readonly", "--mount",
                       "type=tmpfs,dst=/c,tmpfs-mode=1770,tmpfs-size=1m", "busybox"]).body["HostConfig"]["Mounts"]
    assert mounts == [
        {"Type": "bind", "Source": "/x", "Target": "/y", "ReadOnly": True},
        {"Type": "tmpfs", "Target": "/c", "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 1016}},
    ]


def test_healthcheck_and_no_healthcheck():
    body = spec_for(["--health-cmd", "true", "--health-interval", "5s", "--health-retries", "2", "busybox"]).body
    assert body["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000, "Retries": 2}
    assert spec_for(["--no-healthcheck", "busybox"]).body["Healthcheck"] == {"Test": ["NONE"]}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rm", "--restart", "always"], "conflicting options: cannot specify both --restart and --rm"),
        (["--restart", "on-failure:x"], "invalid restart policy format: maximum retry count must be an integer"),
        (["--security-opt", "foo"], 'Invalid --security-opt: "foo"'),
        (["-p", "1:2:3:4"], "invalid IP address: 1:2"),
        (["-p", "80/xyz"], "invalid proto: xyz"),
        (["-p", "70000"], "invalid containerPort: 70000"),
        (["-p", "bad:80"], "invalid hostPort: bad"),
        (["--network-alias", "x"], "network-scoped aliases are only supported for user-defined networks"),
        (["--device", "bad"], "bad is not an absolute path"),
        (["--storage-opt", "x"], "invalid storage option"),
        (["--cgroupns", "bad"], "--cgroupns: invalid CGROUP mode"),
        (["--pid", "bad"], "--pid: invalid PID mode"),
        (["--mac-address", "zz"], "zz is not a valid mac address"),
        (["--memory-swappiness", "200"], "invalid value: 200. Valid memory swappiness range is 0-100"),
        (["--health-interval", "-1s", "--health-cmd", "x"], "--health-interval cannot be negative"),
        (["--no-healthcheck", "--health-cmd", "x"], "--no-healthcheck conflicts with --health-* options"),
        (["--env-file", "/nonexistent/env"], "open /nonexistent/env: no such file or directory"),
    ],
)
def test_option_errors(args, message):
    with pytest.raises(OptionError) as err:
        spec_for(args + ["busybox"])
    assert err.value.message == message


class TestEnvFile:
    def test_format(self, tmp_path, monkeypatch):
        f = tmp_path / "e"
        f.write_bytes(b"\xef\xbb\xbfA=1\n\t # comment\n  B = keep \r\nC=\"quoted\"\nD\nE\n")
        monkeypatch.setenv("D", "from env")
        monkeypatch.delenv("E", raising=False)
        with pytest.raises(OptionError) as err:
            parse_kv_file(str(f), lookup_env=True)
        assert err.value.message == f"invalid env file ({f}): variable 'B ' contains whitespaces"
        f.write_bytes(b"\xef\xbb\xbfA=1\n\t # comment\n  B= keep \r\nC=\"quoted\"\nD\nE\n")
        assert parse_kv_file(str(f), lookup_env=True) == ["A=1", "B= keep ", 'C="quoted"', "D=from env"]

    def test_labels_drop_bare_keys(self, tmp_path):
        f = tmp_path / "l"
        f.write_text("a=1\nb\n")
        assert parse_kv_file(str(f), lookup_env=False) == ["a=1"]

    @pytest.mark.parametrize(
        "content, message",
        [
            (b"=x\n", "no variable name on line '=x'"),
            (b"A=1\nB C=2\n", "variable 'B C' contains whitespaces"),
            (b"\xff\xfe=1\n", "invalid utf8 bytes at line 1: [255 254 61 49]"),
            (b"export X=1\n", "variable 'export X' contains whitespaces"),
        ],
    )
    def test_errors(self, tmp_path, content, message):
        f = tmp_path / "bad"
        f.write_bytes(content)
        with pytest.raises(OptionError) as err:
            parse_kv_file(str(f), lookup_env=True)
        assert err.value.message == f"invalid env file ({f}): {message}"


def test_port_specs():
    exposed, bindings = parse_port_specs(["8000-8001:80-81/tcp", "127.0.0.1::90", "[::1]:7:7", "5"])
    assert exposed == {"80/tcp": {}, "81/tcp": {}, "90/tcp": {}, "7/tcp": {}, "5/tcp": {}}
    assert bindings["81/tcp"] == [{"HostIp": "", "HostPort": "8001"}]
    assert bindings["90/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": ""}]
    assert bindings["7/tcp"] == [{"HostIp": "::1", "HostPort": "7"}]
    _, bindings = parse_port_specs(["1-2:3"])
    assert bindings == {"3/tcp": [{"HostIp": "", "HostPort": "1-2"}]}


# --- live comparison with the real docker CLI ------------------------------------------------

LIVE_CASES = [
    ["run", "busybox"],
    ["run", "-d", "--entrypoint", "", "--network", "bridge", "busybox"],
    ["run", "--network", "none", "-a", "stderr", "--restart", "always", "--memory-swap", "-1", "-m", "1g",
     "--pids-limit", "-1", "busybox"],
    ["run", "--rm", "-i", "-e", "A=b", "busybox", "echo", "hi"],
    ["create", "-p", "8000-8001:80-81/tcp", "-p", "127.0.0.1::90", "-p", "[::1]:7:7", "busybox"],
    ["create", "--expose", "1000-1001", "-p", "5", "-P", "busybox"],
    ["create", "--tmpfs", "/t:size=1m", "--sysctl", "net.ipv4.ip_forward=1", "--storage-opt", "size=1G",
     "--annotation", "a=b", "--mount", "type=volume,source=v,target=/z,volume-opt=a=b",
     "--health-cmd", "true", "--health-interval", "5s", "--domainname", "dom",
     "--mac-address", "92:d0:c6:0a:29:33", "--network", "mynet", "--network-alias", "al", "--ip", "10.0.0.5",
     "--link", "a:b", "--group-add", "10", "--device", "/dev/null:/dev/n:rw", "--device-read-bps", "/dev/sda:1mb",
     "--blkio-weight", "300", "--oom-kill-disable", "--oom-score-adj", "5", "--pid", "host", "--ipc", "private",
     "--uts", "host", "--userns", "host", "--cgroupns", "private", "--shm-size", "64m",
     "--memory-reservation", "32m", "--memory-swappiness", "10", "--volumes-from", "c1",
     "--volume-driver", "local", "--isolation", "default", "--cgroup-parent", "cg", "--cpu-period", "100000",
     "--cpu-quota", "5000", "--dns-option", "ndots:1", "--dns-search", "ex.com", "--stop-signal", "9", "busybox"],
    ["create", "--add-host", "h=1.2.3.4", "--add-host", "h2:::1", "--add-host", "h3=[::1]", "--no-healthcheck",
     "--security-opt", "systempaths=unconfined", "--gpus", "all", "busybox"],
    ["create", "--network", "name=n1,alias=a1,ip=1.2.3.4", "--network", "n2", "busybox"],
    ["create", "-e", "=x", "busybox"],
    ["create", "--rm", "--restart", "always", "busybox"],
    ["run", "-m", "lots", "busybox"],
    ["run", "Foo"],
    ["run"],
]


def _normalise(body: dict) -> dict:
    """Docker fills Env and Binds from Go maps, so their order varies run to run."""
    for key in ("Env",):
        if isinstance(body.get(key), list):
            body[key] = sorted(body[key])
    host = body.get("HostConfig") or {}
    if isinstance(host.get("Binds"), list):
        host["Binds"] = sorted(host["Binds"])
    return body


def _creates(daemon: FakeDaemon) -> list[tuple[str, dict]]:
    return [(r.target, _normalise(r.json())) for r in daemon.calls("POST", "^/containers/create$")]


@pytest.mark.skipif(not os.access(DOCKER, os.X_OK), reason="docker CLI not installed")
@pytest.mark.parametrize("args", LIVE_CASES, ids=lambda a: " ".join(a)[:60])
def test_same_request_and_exit_code_as_docker(args, tmp_path, capsys):
    routes = {"POST /containers/create": error_reply(500, "boom")}
    env = dict(os.environ, DOCKER_CONFIG=str(tmp_path / "cfg"), HOME=str(tmp_path))
    env.pop("DOCKER_HOST", None)
    with FakeDaemon(routes) as docker_side:
        proc = subprocess.run([DOCKER, "-H", docker_side.host, *args], env=env, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, timeout=30)
        expected = _creates(docker_side)
    with FakeDaemon(routes) as berth_side:
        status = main(["-H", berth_side.host, *args])
        got = _creates(berth_side)
    out = capsys.readouterr()
    assert got == expected
    assert status == proc.returncode
    assert out.err == proc.stderr.replace("docker", "berth").replace("Docker", "Berth")
