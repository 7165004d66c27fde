"""`system df` / `system prune` against a fake daemon, compared with the docker CLI byte for byte.

The fake daemon serves disk-usage data the sandbox cannot produce (shared image sizes, paused
containers, volumes of unknown size, build cache records in use or shared), and prune answers
including a failure half-way; the requests both CLIs send are compared too.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import pytest

from berth.cli.main import main
from test_cli_support import FakeDaemon, error_reply, json_reply

DOCKER = "/usr/local/bin/docker"
pytestmark = pytest.mark.skipif(not os.access(DOCKER, os.X_OK), reason="docker CLI not installed")


def _rfc3339(unix: float, frac: str = "") -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(unix)) + frac + "Z"


def disk_usage(now: int) -> dict:
    return {
        "LayersSize": 9_000_000,
        "Images": [
            {"Id": "sha256:" + "1" * 64, "ParentId": "", "RepoTags": ["busybox:latest", "bb:2"], "RepoDigests": [],
             "Created": now - 86400 * 3, "Size": 4_000_000, "SharedSize": 1_000_000, "Labels": None, "Containers": 2},
            {"Id": "sha256:" + "2" * 64, "ParentId": "", "RepoTags": [], "RepoDigests": [],
             "Created": now - 7200, "Size": 3_000_000, "SharedSize": 0, "Labels": {}, "Containers": 0},
            {"Id": "sha256:" + "3" * 64, "ParentId": "", "RepoTags": ["localhost:5000/app/x:v1"], "RepoDigests": [],
             "Created": now - 600, "Size": 2_000_000, "SharedSize": -1, "Labels": {}, "Containers": 1},
        ],
        "Containers": [
            {"Id": "a" * 64, "Names": ["/web"], "Image": "busybox", "ImageID": "sha256:" + "1" * 64,
             "Command": "sleep 1000", "Created": now - 300, "Ports": [], "Labels": {"k": "v"}, "State": "running",
             "Status": "Up 5 minutes", "HostConfig": {"NetworkMode": "bridge"},
             "NetworkSettings": {"Networks": {"bridge": {}}},
             "Mounts": [{"Type": "volume", "Name": "data", "Driver": "local", "Destination": "/d"}],
             "SizeRw": 12_345, "SizeRootFs": 4_012_345},
            {"Id": "b" * 64, "Names": ["/paused"], "Image": "bb:2", "ImageID": "sha256:" + "1" * 64,
             "Command": "top", "Created": now - 3600, "Ports": [], "Labels": {}, "State": "paused",
             "Status": "Up 1 hour (Paused)", "HostConfig": {"NetworkMode": "bridge"},
             "NetworkSettings": {"Networks": {}}, "Mounts": [], "SizeRw": 1_000, "SizeRootFs": 4_001_000},
            {"Id": "c" * 64, "Names": ["/old"], "Image": "localhost:5000/app/x:v1", "ImageID": "sha256:" + "3" * 64,
             "Command": "/bin/true", "Created": now - 86400, "Ports": [], "Labels": {}, "State": "exited",
             "Status": "Exited (0) 23 hours ago", "HostConfig": {"NetworkMode": "none"},
             "NetworkSettings": {"Networks": {}}, "Mounts": [], "SizeRw": 3_000_000, "SizeRootFs": 5_000_000},
        ],
        "Volumes": [
            {"CreatedAt": _rfc3339(now - 100), "Driver": "local", "Labels": {"a": "1"}, "Mountpoint": "/v/data",
             "Name": "data", "Options": None, "Scope": "local", "UsageData": {"RefCount": 1, "Size": 2_500_000}},
            {"CreatedAt": _rfc3339(now - 100), "Driver": "local", "Labels": None, "Mountpoint": "/v/idle",
             "Name": "idle", "Options": None, "Scope": "local", "UsageData": {"RefCount": 0, "Size": 500_000}},
            {"CreatedAt": _rfc3339(now - 100), "Driver": "local", "Labels": None, "Mountpoint": "/v/unknown",
             "Name": "unknown", "Options": None, "Scope": "local", "UsageData": {"RefCount": 0, "Size": -1}},
        ],
        "BuildCache": [
            {"ID": "k" * 25, "Parents": ["p" * 25], "Type": "regular", "Description": "mount / from exec",
             "InUse": True, "Shared": False, "Size": 700_000, "CreatedAt": _rfc3339(now - 5000, ".123400000"),
             "LastUsedAt": _rfc3339(now - 50), "UsageCount": 3},
            {"ID": "j" * 25, "Parents": None, "Type": "source.local", "Description": "local source",
             "InUse": False, "Shared": True, "Size": 10_000, "CreatedAt": _rfc3339(now - 4000),
             "LastUsedAt": None, "UsageCount": 1},
            {"ID": "m" * 25, "Parents": [], "Type": "regular", "Description": "",
             "InUse": False, "Shared": False, "Size": 123_456, "CreatedAt": _rfc3339(now - 90000),
             "LastUsedAt": _rfc3339(now - 7000), "UsageCount": 0},
        ],
    }


def routes(now: int, fail_images: bool = False) -> dict:
    return {
        "GET /system/df": json_reply(disk_usage(now)),
        "POST /containers/prune": json_reply({"ContainersDeleted": ["c" * 64], "SpaceReclaimed": 3_000_000}),
        "POST /networks/prune": json_reply({"NetworksDeleted": ["n1", "n2"]}),
        "POST /volumes/prune": json_reply({"VolumesDeleted": None, "SpaceReclaimed": 0}),
        "POST /images/prune": (error_reply(500, "image prune is busy") if fail_images else json_reply(
            {"ImagesDeleted": [{"Untagged": "bb:2"}, {"Deleted": "sha256:" + "2" * 64}],
             "SpaceReclaimed": 3_000_000})),
        "POST /build/prune": json_reply({"CachesDeleted": ["m" * 25], "SpaceReclaimed": 123_456}),
    }


def _requests(d: FakeDaemon) -> list:
    return [(r.method, r.path, sorted(r.query.items())) for r in d.requests if not r.path.endswith("_ping")]


def run_berth(args, capsys, now, answer="y\n", fail_images=False, config=None):
    with FakeDaemon(routes(now, fail_images)) as d:
        old = sys.stdin
        sys.stdin = io.StringIO(answer)
        try:
            status = main(["-H", d.host, *(["--config", str(config)] if config else []), *args])
        finally:
            sys.stdin = old
        out = capsys.readouterr()
        return status, out.out, out.err.replace("berth", "docker"), _requests(d)


def run_docker(args, tmp_path, now, answer="y\n", fail_images=False, config=None):
    env = dict(os.environ, DOCKER_CONFIG=str(config or tmp_path / "cfg"), HOME=str(tmp_path))
    env.pop("DOCKER_HOST", None)
    with FakeDaemon(routes(now, fail_images)) as d:
        p = subprocess.run([DOCKER, "-H", d.host, *args], env=env, capture_output=True, text=True,
                           input=answer, timeout=30)
        return p.returncode, p.stdout, p.stderr, _requests(d)


DF_CASES = [
    ["system", "df"],
    ["system", "df", "-v"],
    ["system", "df", "--format", "json"],
    ["system", "df", "-v", "--format", "json"],
    ["system", "df", "-v", "--format", "{{range .BuildCache}}{{json .}}\n{{end}}"],
    ["system", "df", "-v", "--format", "{{range .Images}}{{.Repository}} {{.Tag}} {{.ID}} {{.UniqueSize}}\n{{end}}"],
    ["system", "df", "-v", "--format", "{{range .Containers}}{{.Names}} {{.Size}} {{.LocalVolumes}}\n{{end}}"],
    ["system", "df", "-v", "--format", "{{range .BuildCache}}{{.ID}} {{.Parent}} {{.InUse}} {{.CreatedAt}}|"
                                       "{{.LastUsedAt}}|{{.LastUsedSince}}|{{.Description}}\n{{end}}"],
]


@pytest.mark.parametrize("args", DF_CASES, ids=lambda a: " ".join(a[2:]) or "plain")
def test_df_same_as_docker(args, tmp_path, capsys):
    now = int(time.time())
    for _ in range(3):  # "N seconds ago" may tick between the two runs
        got, want = run_berth(args, capsys, now), run_docker(args, tmp_path, now)
        if got == want:
            break
        time.sleep(0.3)
    assert got[1] == want[1]
    assert got == want


@pytest.mark.parametrize("args,answer,fail", [
    (["system", "prune"], "y\n", False),
    (["system", "prune", "-a", "--volumes", "--filter", "label=a=b", "--filter", "until=24h"], "y\n", False),
    (["system", "prune", "-af", "--volumes", "--filter", "label!=keep"], "", False),
    (["system", "prune", "-f", "--volumes"], "", True),
    (["system", "prune"], "yes\n", False),
], ids=lambda a: repr(a))
def test_prune_same_as_docker(args, answer, fail, tmp_path, capsys):
    now = int(time.time())
    got = run_berth(args, capsys, now, answer, fail)
    want = run_docker(args, tmp_path, now, answer, fail)
    assert got[3] == want[3]  # the same requests, in the same order
    assert got[:3] == want[:3]


@pytest.mark.parametrize("config", [["label=keep=no"], ["label!=x", "until=2h", "bogus"], ["label=q", "label!=z"],
                                    ["label!=z", "label=q", "label=r"], {"pruneFilters": "x"}, "{bad"],
                         ids=repr)
@pytest.mark.parametrize("args", [["system", "prune", "--filter", "label!=y"], ["system", "prune"],
                                  ["system", "prune", "--filter", "label=x", "--filter", "until=1h"],
                                  ["system", "prune", "-f", "--volumes", "--filter", "label=x"],
                                  ["container", "prune", "--filter", "label=x"], ["image", "prune", "-a"]],
                         ids=" ".join)
def test_config_prune_filters_same_as_docker(args, config, tmp_path, capsys):
    """config.json's pruneFilters are merged into each prune (and shown in system prune's prompt)."""
    import json

    cfg = tmp_path / "pf"
    cfg.mkdir()
    text = config if isinstance(config, str) else json.dumps(config if isinstance(config, dict)
                                                              else {"pruneFilters": config})
    (cfg / "config.json").write_text(text)
    now = int(time.time())
    got = run_berth(args, capsys, now, config=cfg)
    want = run_docker(args, tmp_path, now, config=cfg)
    assert got[3] == want[3]
    if isinstance(config, list):
        assert got[:3] == want[:3]
    else:  # an unreadable config: docker's warning (Go's JSON error text is not Python's)
        assert got[:2] == want[:2]
        assert got[2].startswith(f"WARNING: Error parsing config file ({cfg}/config.json): ")
        assert want[2].startswith(f"WARNING: Error parsing config file ({cfg}/config.json): ")
        assert got[2].count("\n") == want[2].count("\n") == 1
