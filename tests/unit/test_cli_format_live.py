"""Templates over docker's Go types, checked against the real docker CLI on rich documents.

berthd's own answers leave many fields empty; here a fake daemon serves inspect,
version and info documents with every field docker's types know set (and a few
it does not know, and one key in the wrong case), so `{{json .}}` and printed
values exercise the whole of apitypes.py: field order, Go names, omitempty,
pointers, durations, times, nested and embedded structs. docker (28.x) and
berth run the same format against the same fake daemon and must print the same
bytes. Skipped without /usr/local/bin/docker.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from berth.cli.main import main
from test_cli_support import FakeDaemon, json_reply

DOCKER = "/usr/local/bin/docker"
pytestmark = pytest.mark.skipif(not os.access(DOCKER, os.X_OK), reason="docker CLI not installed")

CID = "4edf61bfedce" + "a" * 52

HEALTH = {"Status": "healthy", "FailingStreak": 2, "Log": [
    {"Start": "2024-05-01T10:00:00.123456789Z", "End": "2024-05-01T10:00:00.5Z", "ExitCode": 0, "Output": "ok\n"},
    {"Start": "2024-05-01T12:00:01+02:00", "End": "2024-05-01T12:00:02.000100+02:00", "ExitCode": 1,
     "Output": "<bad> & \"quoted\""},
]}

CONTAINER = {
    "Id": CID, "Created": "2024-05-01T09:59:58.5Z", "Path": "sh", "Args": ["-c", "sleep 1000"],
    "State": {"Status": "running", "Running": True, "Paused": False, "Restarting": False, "OOMKilled": False,
              "Dead": False, "Pid": 4242, "ExitCode": 0, "Error": "", "StartedAt": "2024-05-01T10:00:00Z",
              "FinishedAt": "0001-01-01T00:00:00Z", "Health": HEALTH},
    "Image": "sha256:" + "b" * 64, "ResolvConfPath": "/r", "HostnamePath": "/h", "HostsPath": "/hs",
    "LogPath": "/l.log", "Name": "/web", "restartcount": 5, "Driver": "overlay2", "Platform": "linux",
    "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "docker-default", "ExecIDs": ["e1", "e2"],
    "HostConfig": {
        "Binds": ["/src:/dst:ro"], "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}},
        "NetworkMode": "bridge", "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}, "AutoRemove": True, "VolumeDriver": "",
        "VolumesFrom": ["other:ro"], "ConsoleSize": [24, 80], "Annotations": {"org.a": "1"}, "CapAdd": ["NET_ADMIN"],
        "CapDrop": ["MKNOD"], "CgroupnsMode": "private", "Dns": ["1.1.1.1"], "DnsOptions": ["ndots:2"],
        "DnsSearch": ["example.com"], "ExtraHosts": ["h:1.2.3.4"], "GroupAdd": ["audio"], "IpcMode": "private",
        "Cgroup": "", "Links": ["/db:/web/db"], "OomScoreAdj": 100, "PidMode": "", "Privileged": False,
        "PublishAllPorts": True, "ReadonlyRootfs": True, "SecurityOpt": ["no-new-privileges"],
        "StorageOpt": {"size": "1G"}, "Tmpfs": {"/run": "rw"}, "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864,
        "Sysctls": {"net.core.somaxconn": "1024"}, "Runtime": "crun", "Isolation": "", "CpuShares": 512,
        "Memory": 67108864, "NanoCpus": 1500000000, "CgroupParent": "/x", "BlkioWeight": 300,
        "BlkioWeightDevice": [{"Path": "/dev/sda", "Weight": 200}],
        "BlkioDeviceReadBps": [{"Path": "/dev/sda", "Rate": 1024}], "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": None, "BlkioDeviceWriteIOps": [], "CpuPeriod": 100000, "CpuQuota": 50000,
        "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "0-1", "CpusetMems": "",
        "Devices": [{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"}],
        "DeviceCgroupRules": ["c 1:3 rwm"],
        "DeviceRequests": [{"Driver": "nvidia", "Count": -1, "DeviceIDs": None, "Capabilities": [["gpu"]],
                            "Options": {}}],
        "KernelMemory": 0, "KernelMemoryTCP": 4096, "MemoryReservation": 1024, "MemorySwap": -1,
        "MemorySwappiness": None, "OomKillDisable": False, "PidsLimit": 100,
        "Ulimits": [{"Name": "nofile", "Hard": 200, "Soft": 100}], "CpuCount": 0, "CpuPercent": 0,
        "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        "Mounts": [{"Type": "bind", "Source": "/a", "Target": "/b", "ReadOnly": True,
                    "BindOptions": {"Propagation": "rprivate", "CreateMountpoint": True}},
                   {"Type": "volume", "Source": "v", "Target": "/v",
                    "VolumeOptions": {"NoCopy": True, "Labels": {"l": "1"}, "DriverConfig": {"Name": "local"}}},
                   {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 65536, "Mode": 1023}}],
        "MaskedPaths": ["/proc/kcore"], "ReadonlyPaths": None, "Init": True,
    },
    "GraphDriver": {"Data": {"MergedDir": "/m", "UpperDir": "/u"}, "Name": "overlay2"},
    "SizeRw": 0, "SizeRootFs": 4261550,
    "Mounts": [{"Type": "volume", "Name": "data", "Source": "/var/lib/v/data", "Destination": "/data",
                "Driver": "local", "Mode": "z", "RW": True, "Propagation": ""},
               {"Type": "bind", "Source": "/src", "Destination": "/dst", "Mode": "ro", "RW": False,
                "Propagation": "rprivate"}],
    "Config": {"Hostname": "4edf61bfedce", "Domainname": "example.com", "User": "1000:1000", "AttachStdin": False,
               "AttachStdout": True, "AttachStderr": True, "ExposedPorts": {"80/tcp": {}, "53/udp": {}}, "Tty": True,
               "OpenStdin": True, "StdinOnce": False, "Env": ["PATH=/bin", "UNI=ünï <&>"], "Cmd": ["-c", "sleep 1000"],
               "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 1500000000, "Timeout": 90000000000,
                               "StartPeriod": 3723000000000, "StartInterval": 250000, "Retries": 4},
               "ArgsEscaped": True, "Image": "busybox", "Volumes": {"/data": {}}, "WorkingDir": "/w",
               "Entrypoint": ["sh"], "NetworkDisabled": True, "MacAddress": "02:42:ac:11:00:02",
               "OnBuild": ["RUN true"], "Labels": {"a": "1", "b": "<&>"}, "StopSignal": "SIGUSR1",
               "StopTimeout": 0, "Shell": ["/bin/sh", "-c"], "Unknown": "dropped"},
    "NetworkSettings": {
        "Bridge": "", "SandboxID": "s" * 64, "SandboxKey": "/var/run/docker/netns/x",
        "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
                  "443/tcp": None},
        "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
        "SecondaryIPAddresses": [{"Addr": "10.0.0.9", "PrefixLen": 24}], "SecondaryIPv6Addresses": None,
        "EndpointID": "ep", "Gateway": "172.17.0.1", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
        "IPAddress": "172.17.0.2", "IPPrefixLen": 16, "IPv6Gateway": "", "MacAddress": "02:42:ac:11:00:02",
        "Networks": {"bridge": {"IPAMConfig": {"IPv4Address": "172.17.0.2", "LinkLocalIPs": ["169.254.0.1"]},
                                "Links": None, "Aliases": ["web", "w"], "MacAddress": "02:42:ac:11:00:02",
                                "DriverOpts": {"o": "1"}, "GwPriority": 10, "NetworkID": "n" * 64,
                                "EndpointID": "ep", "Gateway": "172.17.0.1", "IPAddress": "172.17.0.2",
                                "IPPrefixLen": 16, "IPv6Gateway": "", "GlobalIPv6Address": "",
                                "GlobalIPv6PrefixLen": 0, "DNSNames": ["web", "4edf61bfedce"]}},
    },
    "ImageManifestDescriptor": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                "digest": "sha256:" + "c" * 64, "size": 1234,
                                "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
}

IMAGE = {
    "Id": "sha256:" + "1" * 64, "RepoTags": ["busybox:latest", "busybox:v2"],
    "RepoDigests": ["busybox@sha256:" + "9" * 64], "Parent": "sha256:" + "2" * 64, "Comment": "imported",
    "Created": "2024-04-01T00:00:00.000000001Z", "Container": "abc",
    "ContainerConfig": {"Hostname": "abc", "Cmd": ["/bin/sh", "-c", "#(nop) CMD [\"sh\"]"], "Labels": None},
    "DockerVersion": "24.0.7", "Author": "me <me@example.com>",
    "Config": {"User": "nobody", "ExposedPorts": {"8080/tcp": {}}, "Env": ["A=1"], "Entrypoint": ["/entry"],
               "Cmd": ["sh"], "Volumes": {"/v": {}}, "WorkingDir": "/w", "Labels": {"org.x": "y"},
               "StopSignal": "SIGTERM", "ArgsEscaped": True,
               "Healthcheck": {"Test": ["NONE"], "Interval": 60000000000}, "OnBuild": ["RUN a"],
               "Shell": ["/bin/bash", "-c"]},
    "Architecture": "arm", "Variant": "v7", "Os": "linux", "OsVersion": "", "Size": 4261550,
    "VirtualSize": 4261550,
    "GraphDriver": {"Data": {"UpperDir": "/u"}, "Name": "overlay2"},
    "RootFS": {"Type": "layers", "Layers": ["sha256:" + "3" * 64, "sha256:" + "4" * 64]},
    "Metadata": {"LastTagTime": "2024-05-02T03:04:05.060708+02:00"},
    "Descriptor": {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + "5" * 64,
                   "size": 999, "annotations": {"k": "v"}},
}

VERSION = {
    "Platform": {"Name": "Berth Engine"},
    "Components": [
        {"Name": "Engine", "Version": "0.1.0", "Details": {
            "ApiVersion": "1.45", "Arch": "amd64", "BuildTime": "2024-01-05T10:20:30.000000000+00:00",
            "Experimental": "true", "GitCommit": "abc", "GoVersion": "go1.22", "KernelVersion": "6.1",
            "MinAPIVersion": "1.24", "Os": "linux"}},
        {"Name": "containerd", "Version": "1.7.0", "Details": {"GitCommit": "deadbeef"}},
        {"Name": "runc", "Version": "1.1.12"},
    ],
    "Version": "0.1.0", "ApiVersion": "1.45", "MinAPIVersion": "1.24", "GitCommit": "abc", "GoVersion": "go1.22",
    "Os": "linux", "Arch": "amd64", "KernelVersion": "6.1", "Experimental": True,
    "BuildTime": "2024-01-05T10:20:30.000000000+00:00",
}

INFO = {
    "ID": "d41f4c5ca20756a8c2974bf6d10df14f", "Containers": 4, "ContainersRunning": 2, "ContainersPaused": 1,
    "ContainersStopped": 1, "Images": 3, "Driver": "overlay2",
    "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
    "SystemStatus": [["Role", "primary"]],
    "Plugins": {"Volume": ["local"], "Network": ["bridge", "host"], "Authorization": ["authz"], "Log": ["json-file"]},
    "MemoryLimit": True, "SwapLimit": False, "KernelMemory": True, "KernelMemoryTCP": False, "CpuCfsPeriod": True,
    "CpuCfsQuota": True, "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
    "Debug": False, "NFd": 33, "OomKillDisable": True, "NGoroutines": 40, "SystemTime": "2024-05-01T10:00:00.5Z",
    "LoggingDriver": "json-file", "CgroupDriver": "systemd", "CgroupVersion": "2", "NEventsListener": 1,
    "KernelVersion": "6.1", "OperatingSystem": "Debian GNU/Linux 12 (bookworm)", "OSVersion": "12",
    "OSType": "linux", "Architecture": "x86_64", "IndexServerAddress": "https://index.docker.io/v1/",
    "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": None, "AllowNondistributableArtifactsHostnames": [],
                       "InsecureRegistryCIDRs": ["127.0.0.0/8", "10.0.0.0/8"],
                       "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": [], "Secure": True,
                                                      "Official": True}},
                       "Mirrors": ["https://mirror.example/"]},
    "NCPU": 8, "MemTotal": 16777216000, "GenericResources": None, "DockerRootDir": "/var/lib/berth",
    "HttpProxy": "http://proxy:3128", "HttpsProxy": "", "NoProxy": "localhost", "Name": "host",
    "Labels": ["a=b"], "ExperimentalBuild": True, "ServerVersion": "0.1.0",
    "Runtimes": {"crun": {"path": "/usr/bin/crun", "runtimeArgs": ["--debug"], "status": {"x": "y"}},
                 "runc": {"path": "runc", "runtimeType": "io.containerd.runc.v2", "options": {"SystemdCgroup": True}}},
    "DefaultRuntime": "crun",
    "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False, "Error": "",
              "RemoteManagers": [{"NodeID": "n1", "Addr": "10.0.0.1:2377"}], "Nodes": 3, "Managers": 1,
              "Warnings": ["w"]},
    "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "catatonit",
    "ContainerdCommit": {"ID": "c1", "Expected": "c1"}, "RuncCommit": {"ID": "r1"}, "InitCommit": {"ID": ""},
    "SecurityOptions": ["name=seccomp,profile=builtin", "name=cgroupns"], "ProductLicense": "Community",
    "DefaultAddressPools": [{"Base": "172.30.0.0/16", "Size": 24}],
    "FirewallBackend": {"Driver": "nftables", "Info": [["ReloadedAt", "now"]]},
    "CDISpecDirs": ["/etc/cdi"], "DiscoveredDevices": [{"Source": "cdi", "ID": "vendor.com/gpu=0"}],
    "Containerd": {"Address": "/run/containerd/containerd.sock",
                   "Namespaces": {"Containers": "moby", "Plugins": "plugins.moby"}},
    "Warnings": ["WARNING: No swap limit support"],
}


def routes() -> dict:
    return {
        "GET /containers/(web|" + CID + ")/json": json_reply(CONTAINER),
        "GET /images/busybox/json": json_reply(IMAGE),
        "GET /version": json_reply(VERSION),
        "GET /info": json_reply(INFO),
    }


CASES = [
    ["inspect", "-f", "{{json .}}", "web"],
    ["container", "inspect", "-f", "{{json .Config}}|{{json .HostConfig}}", "web"],
    ["inspect", "-f", "{{json .NetworkSettings}}|{{json .Mounts}}|{{json .State}}", "web"],
    ["inspect", "-f", "{{.RestartCount}} {{.ID}} {{.SizeRw}} {{.SizeRootFs}} {{.HostConfig.Init}}", "web"],
    ["inspect", "-f", "{{range .State.Health.Log}}{{.Start}}|{{.End}}|{{json .End}}|{{.ExitCode}};{{end}}", "web"],
    ["inspect", "-f", "{{with .Config.Healthcheck}}{{.Interval}} {{.Timeout}} {{.StartPeriod}} "
                      "{{.StartInterval}} {{.Retries}} {{.Test}}{{end}}", "web"],
    ["inspect", "-f", "{{.Config.Healthcheck}}", "web"],
    ["inspect", "-f", "{{.Mounts}}", "web"],
    ["inspect", "-f", "{{.NetworkSettings.Ports}} {{.HostConfig.PortBindings}}", "web"],
    ["inspect", "-f", "{{.HostConfig.Devices}} {{.HostConfig.DeviceRequests}} {{.HostConfig.ConsoleSize}}", "web"],
    ["inspect", "-f", "{{json .HostConfig.Mounts}} {{json .HostConfig.Ulimits}}", "web"],
    ["inspect", "-f", "{{.Config.StopTimeout}} {{.HostConfig.MemorySwappiness}} {{.HostConfig.PidsLimit}}", "web"],
    ["inspect", "-f", "{{.Config.ExposedPorts}} {{.Config.Volumes}} {{.HostConfig.Tmpfs}}", "web"],
    ["inspect", "-f", "{{json .ImageManifestDescriptor}} {{.ImageManifestDescriptor.Platform.Variant}}", "web"],
    ["inspect", "-f", "{{.NetworkSettings.SecondaryIPAddresses}} {{.NetworkSettings.IPAddress}}", "web"],
    ["inspect", "-f", '{{index .Config.Labels "nope"}}|{{index .NetworkSettings.Networks "nope"}}', "web"],
    ["inspect", "-f", "{{.Config.Unknown}}", "web"],
    ["inspect", "-f", "{{.restartcount}}", "web"],
    ["image", "inspect", "-f", "{{json .}}", "busybox"],
    ["image", "inspect", "-f", "{{.Metadata.LastTagTime}}|{{.Config.Healthcheck}}|{{json .Config}}", "busybox"],
    ["image", "inspect", "-f", "{{json .ContainerConfig}} {{.Config.Labels}} {{.RootFS}}", "busybox"],
    ["version", "--format", "{{json .Server}}"],
    ["version", "--format", "{{.Server}}"],
    ["version", "--format", "{{range .Server.Components}}{{.Name}} {{getDetailsOrder .}};{{end}}"],
    ["version", "--format", '{{index (index .Server.Components 0).Details "BuildTime"}}'],
    ["info", "--format", "{{json .}}"],
    ["info", "--format", "json"],
    ["info", "--format", "{{.Swarm}} {{.Plugins}} {{.ContainerdCommit}} {{.DriverStatus}} {{.SystemStatus}}"],
    ["info", "--format", "{{.Runtimes}}"],
    ["info", "--format", "{{json .RegistryConfig}} {{.RegistryConfig.InsecureRegistryCIDRs}}"],
    ["info", "--format", "{{.DefaultAddressPools}} {{.Containerd.Namespaces}} {{json .FirewallBackend}}"],
]


def _berth(host: str, args: list[str]) -> tuple[int, bytes, bytes]:
    """berth in-process, its output as bytes (what a terminal would receive)."""
    out, err = io.BytesIO(), io.BytesIO()
    stdout, stderr = io.TextIOWrapper(out, "utf-8", newline=""), io.TextIOWrapper(err, "utf-8", newline="")
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = stdout, stderr
    try:
        status = main(["-H", host, *args])
    finally:
        sys.stdout, sys.stderr = saved
    stdout.flush()
    stderr.flush()
    return status, out.getvalue(), err.getvalue()


def _docker(host: str, args: list[str], tmp: str) -> tuple[int, bytes, bytes]:
    env = dict(os.environ, DOCKER_CONFIG=os.path.join(tmp, "cfg"), HOME=tmp)
    env.pop("DOCKER_HOST", None)
    p = subprocess.run([DOCKER, "-H", host, *args], env=env, capture_output=True, stdin=subprocess.DEVNULL,
                       timeout=30)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture(scope="module")
def daemon():
    with FakeDaemon(routes()) as d:
        yield d


@pytest.fixture(scope="module")
def client_swaps(daemon, tmp_path_factory):
    """Each CLI's report about itself (version, Go version, commit), exchanged in `info`."""
    tmp = str(tmp_path_factory.mktemp("swap"))
    theirs = _docker(daemon.host, ["info", "--format", "{{json .ClientInfo}}"], tmp)[1].rstrip(b"\n")
    ours = _berth(daemon.host, ["info", "--format", "{{json .ClientInfo}}"])[1].rstrip(b"\n")
    assert theirs.startswith(b'{"Debug":') and ours.startswith(b'{"Debug":')
    return [(theirs, ours)]


@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a)[:80])
def test_typed_template_output_matches_docker(daemon, client_swaps, args, tmp_path):
    status, out, err = _docker(daemon.host, args, str(tmp_path))
    for theirs, ours in client_swaps:
        out = out.replace(theirs, ours)
    assert _berth(daemon.host, args) == (status, out, err)
