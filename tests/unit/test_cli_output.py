"""List and inspect output compared with docker CLI 28's, character for character.

Expected texts were produced by /usr/local/bin/docker (28.2.2) against a fake
daemon serving the fixtures below (with "docker" spelled "berth"). Times are
relative to now so the "CREATED" columns are stable.
"""

from __future__ import annotations

import time

import pytest

from berth.cli.display import displayable_ports, ellipsis, go_quote
from berth.cli.formatter import go_json, tabwrite
from berth.cli.cmd_inspect import json_reindent
from berth.cli.main import main
from test_cli_support import FakeDaemon, Reply, error_reply, json_reply


def fixtures(now: int) -> dict:
    containers = [
        {"Id": "4edf61bfedce" + "a" * 52, "Names": ["/web"], "Image": "busybox", "ImageID": "sha256:" + "b" * 64,
         "Command": "sh -c 'while true; do sleep 1; done'", "Created": now - 7200,
         "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                   {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                   {"PrivatePort": 443, "Type": "tcp"}, {"PrivatePort": 444, "Type": "tcp"},
                   {"PrivatePort": 53, "Type": "udp"}],
         "Labels": {"b": "2", "a": "1"}, "State": "running", "Status": "Up 2 hours",
         "HostConfig": {"NetworkMode": "bridge"}, "NetworkSettings": {"Networks": {"bridge": {}}},
         "Mounts": [{"Name": "vol1", "Source": "/var/lib/x", "Driver": "local"}], "SizeRw": 12345,
         "SizeRootFs": 4260000},
        {"Id": "8ad16badf470" + "c" * 52, "Names": ["/db", "/web/db"], "Image": "sha256:" + "d" * 64,
         "ImageID": "sha256:" + "d" * 64, "Command": "/true", "Created": now - 70, "Ports": [], "Labels": {},
         "State": "exited", "Status": "Exited (0) About a minute ago", "HostConfig": {"NetworkMode": "none"},
         "NetworkSettings": {"Networks": {}}, "Mounts": []},
        {"Id": "9ad16badf470" + "e" * 52, "Names": ["/x"],
         "Image": "docker.io/library/alpine:3.19@sha256:" + "f" * 64, "ImageID": "sha256:" + "f" * 64,
         "Command": "", "Created": now - 5 * 3600,
         "Ports": [{"IP": "127.0.0.1", "PrivatePort": 5000, "PublicPort": 5000, "Type": "tcp"},
                   {"IP": "127.0.0.1", "PrivatePort": 5001, "PublicPort": 5001, "Type": "tcp"}],
         "Labels": None, "State": "created", "Status": "Created", "HostConfig": {"NetworkMode": "default"},
         "NetworkSettings": {"Networks": {}}, "Mounts": []},
    ]
    images = [
        {"Id": "sha256:" + "1" * 64, "ParentId": "", "RepoTags": ["busybox:latest"],
         "RepoDigests": ["busybox@sha256:" + "9" * 64], "Created": now - 86400 * 20, "Size": 4261550,
         "SharedSize": -1, "Labels": None, "Containers": -1},
        {"Id": "sha256:" + "2" * 64, "ParentId": "", "RepoTags": [], "RepoDigests": [], "Created": now - 3600 * 5,
         "Size": 123456789, "SharedSize": -1, "Labels": {}, "Containers": 2},
        {"Id": "sha256:" + "3" * 64, "ParentId": "", "RepoTags": ["localhost:5000/bb:v1"], "RepoDigests": [],
         "Created": now - 3600 * 30, "Size": 999, "SharedSize": -1, "Labels": {}, "Containers": -1},
    ]
    history = [
        {"Id": "sha256:" + "1" * 64, "Created": now - 86400 * 20, "CreatedBy": '/bin/sh -c #(nop)  CMD ["sh"]',
         "Tags": ["busybox:latest"], "Size": 0, "Comment": ""},
        {"Id": "<missing>", "Created": now - 86400 * 21,
         "CreatedBy": "/bin/sh -c #(nop) ADD file:7e9002edaafd4e4579b65c8f0aaabde1aeb7fd3f8d95579f7bc3a7c94f8d8b7e in / ",
         "Tags": None, "Size": 4261550, "Comment": "imported from -"},
    ]
    top = {"Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
           "Processes": [["root", "12345", "12300", "0", "10:00", "?", "00:00:00", "sh -c while true; do sleep 1; done"],
                         ["root", "12399", "12345", "0", "10:01", "?", "00:00:00", "sleep 1"]]}
    inspect = ('{"Id":"c1","Created":"2024-01-01T00:00:00.000000000Z","Args":["-c","x"],"Empty":[],"Obj":{},'
               '"State":{"Running":true,"Pid":1234},"Name":"/web","Config":{"Env":["A=1","B=<&>"],'
               '"Labels":{"x":"y"}},"NetworkSettings":{"Ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},'
               '{"HostIp":"::","HostPort":"8080"}],"443/tcp":null,"53/udp":[{"HostIp":"127.0.0.1","HostPort":"5353"}]}}}')
    return {
        "GET /containers/json": json_reply(containers),
        "GET /images/json": json_reply(images),
        "GET /images/busybox/history": json_reply(history),
        "GET /containers/c1/top": json_reply(top),
        "GET /containers/c1/json": Reply(200, inspect, content_type="application/json"),
        "GET /images/busybox/json": Reply(200, '{"Id":"sha256:111","RepoTags":["busybox:latest"],"Size":4261550}',
                                          content_type="application/json"),
        "POST /containers/prune": json_reply({"ContainersDeleted": ["a" * 64, "b" * 64], "SpaceReclaimed": 12345}),
        "POST /images/prune": json_reply({"ImagesDeleted": [{"Untagged": "busybox:latest"},
                                                            {"Deleted": "sha256:" + "1" * 64}],
                                          "SpaceReclaimed": 4261550}),
        "DELETE /images/busybox": json_reply([{"Untagged": "busybox:latest"},
                                              {"Untagged": "busybox@sha256:" + "9" * 64},
                                              {"Deleted": "sha256:" + "1" * 64}]),
        "DELETE /containers/(good|x)": Reply(204),
        "DELETE /containers/.*": error_reply(404, "No such container: nope"),
        "POST /containers/good/stop": Reply(204),
        "POST /containers/.*/stop": error_reply(404, "No such container: bad"),
        "POST /containers/.*/start": error_reply(500, "boom start"),
        "POST /containers/c1/wait": json_reply({"StatusCode": 3}),
        "GET /info": json_reply({"Swarm": {"LocalNodeState": "inactive", "ControlAvailable": False}}),
    }


@pytest.fixture
def daemon():
    with FakeDaemon(fixtures(int(time.time()))) as d:
        yield d


def berth(daemon: FakeDaemon, capsys, *args: str) -> tuple[int, str, str]:
    status = main(["-H", daemon.host, *args])
    out = capsys.readouterr()
    return status, out.out, out.err


PS_A = """\
CONTAINER ID   IMAGE          COMMAND                  CREATED              STATUS                          PORTS                                                          NAMES
4edf61bfedce   busybox        "sh -c 'while true; …"   2 hours ago          Up 2 hours                      53/udp, 443-444/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp   web
8ad16badf470   dddddddddddd   "/true"                  About a minute ago   Exited (0) About a minute ago                                                                  db
9ad16badf470   alpine:3.19    ""                       5 hours ago          Created                         127.0.0.1:5000-5001->5000-5001/tcp                             x
"""

PS_SIZE = """\
CONTAINER ID   IMAGE          COMMAND                  CREATED              STATUS                          PORTS                                                          NAMES     SIZE
4edf61bfedce   busybox        "sh -c 'while true; …"   2 hours ago          Up 2 hours                      53/udp, 443-444/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp   web       12.3kB (virtual 4.26MB)
8ad16badf470   dddddddddddd   "/true"                  About a minute ago   Exited (0) About a minute ago                                                                  db        0B
9ad16badf470   alpine:3.19    ""                       5 hours ago          Created                         127.0.0.1:5000-5001->5000-5001/tcp                             x         0B
"""

IMAGES = """\
REPOSITORY          TAG       IMAGE ID       CREATED        SIZE
busybox             latest    111111111111   2 weeks ago    4.26MB
<none>              <none>    222222222222   5 hours ago    123MB
localhost:5000/bb   v1        333333333333   30 hours ago   999B
"""

IMAGES_DIGESTS = """\
REPOSITORY          TAG       DIGEST                                                                    IMAGE ID       CREATED        SIZE
busybox             latest    sha256:9999999999999999999999999999999999999999999999999999999999999999   111111111111   2 weeks ago    4.26MB
<none>              <none>    <none>                                                                    222222222222   5 hours ago    123MB
localhost:5000/bb   v1        <none>                                                                    333333333333   30 hours ago   999B
"""

HISTORY = """\
IMAGE          CREATED       CREATED BY                                      SIZE      COMMENT
111111111111   2 weeks ago   /bin/sh -c #(nop)  CMD ["sh"]                   0B        
<missing>      3 weeks ago   /bin/sh -c #(nop) ADD file:7e9002edaafd4e457…   4.26MB    imported from -
"""

TOP = """\
UID                 PID                 PPID                C                   STIME               TTY                 TIME                CMD
root                12345               12300               0                   10:00               ?                   00:00:00            sh -c while true; do sleep 1; done
root                12399               12345               0                   10:01               ?                   00:00:00            sleep 1
"""

INSPECT = """\
[
    {
        "Id": "c1",
        "Created": "2024-01-01T00:00:00.000000000Z",
        "Args": [
            "-c",
            "x"
        ],
        "Empty": [],
        "Obj": {},
        "State": {
            "Running": true,
            "Pid": 1234
        },
        "Name": "/web",
        "Config": {
            "Env": [
                "A=1",
                "B=<&>"
            ],
            "Labels": {
                "x": "y"
            }
        },
        "NetworkSettings": {
            "Ports": {
                "80/tcp": [
                    {
                        "HostIp": "0.0.0.0",
                        "HostPort": "8080"
                    },
                    {
                        "HostIp": "::",
                        "HostPort": "8080"
                    }
                ],
                "443/tcp": null,
                "53/udp": [
                    {
                        "HostIp": "127.0.0.1",
                        "HostPort": "5353"
                    }
                ]
            }
        }
    }
]
"""


@pytest.mark.parametrize(
    "args, expected",
    [
        (["ps", "-a"], PS_A),
        (["container", "ls", "-a"], PS_A),
        (["ps", "-a", "-s"], PS_SIZE),
        (["ps", "-a", "-q"], "4edf61bfedce\n8ad16badf470\n9ad16badf470\n"),
        (["images"], IMAGES),
        (["image", "ls", "--digests"], IMAGES_DIGESTS),
        (["images", "-q"], "111111111111\n222222222222\n333333333333\n"),
        (["history", "busybox"], HISTORY),
        (["history", "-q", "busybox"], "111111111111\n<missing>\n"),
        (["top", "c1"], TOP),
        (["inspect", "c1"], INSPECT),
        (["container", "inspect", "c1"], INSPECT),
        (["port", "c1"], "53/udp -> 127.0.0.1:5353\n80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n"),
        (["port", "c1", "80"], "0.0.0.0:8080\n[::]:8080\n"),
        (["container", "prune", "-f"],
         "Deleted Containers:\n" + "a" * 64 + "\n" + "b" * 64 + "\n\nTotal reclaimed space: 12.35kB\n"),
        (["image", "prune", "-f"],
         "Deleted Images:\nuntagged: busybox:latest\ndeleted: sha256:" + "1" * 64 + "\n\nTotal reclaimed space: 4.262MB\n"),
        (["rmi", "busybox"], "Untagged: busybox:latest\nUntagged: busybox@sha256:" + "9" * 64
         + "\nDeleted: sha256:" + "1" * 64 + "\n"),
        (["ps", "-a", "--format", "table {{.Names}}\\t{{.Ports}}"],
         "NAMES     PORTS\nweb       53/udp, 443-444/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp\ndb        \n"
         "x         127.0.0.1:5000-5001->5000-5001/tcp\n"),
        (["inspect", "--format", "{{.State.Pid}} {{json .Config.Env}} {{.Name}}", "c1"], '1234 ["A=1","B=<&>"] /web\n'),
        (["wait", "c1"], "3\n"),
    ],
    ids=lambda a: " ".join(a) if isinstance(a, list) else None,
)
def test_output_matches_docker(daemon, capsys, args, expected):
    status, out, err = berth(daemon, capsys, *args)
    assert (status, err) == (0, "")
    assert out == expected


def test_ps_json_lines_use_go_escaping(daemon, capsys):
    status, out, _ = berth(daemon, capsys, "ps", "-a", "--format", "json")
    first = out.splitlines()[0]
    assert first.startswith('{"Command":"\\"sh -c \'while true; …\\"","CreatedAt":"')
    assert '"Ports":"53/udp, 443-444/tcp, 0.0.0.0:8080-\\u003e80/tcp, [::]:8080-\\u003e80/tcp"' in first
    assert '"Platform":null' in first and '"Size":"12.3kB (virtual 4.26MB)"' in first
    # docker validates the format over an empty row first and asks for sizes only when
    # that run reads .Size: "json" is plain text there, `{{json .}}` reads every field.
    assert "size" not in daemon.calls("GET", "containers/json")[0].query
    berth(daemon, capsys, "ps", "-a", "--format", "{{json .}}")
    assert daemon.calls("GET", "containers/json")[1].query["size"] == ["1"]


@pytest.mark.parametrize(
    "args, status, out, err",
    [
        (["port", "c1", "443/tcp"], 1, "", "Error: No public port '443/tcp' published for c1\n"),
        (["inspect", "c1", "nope", "busybox"], 1, None, "Error: No such object: nope\n"),
        (["inspect", "--type", "bogus", "c1"], 1, "",
         'unknown type: "bogus": must be one of "config", "container", "image", "network", "node", "plugin", '
         '"secret", "service", "task", "volume"\n'),
        (["inspect", "--format", "{{.Foo", "c1"], 64, "", "template parsing error: template: :1: unclosed action\n"),
        (["rm", "good", "nope"], 1, "good\n", "Error response from daemon: No such container: nope\n"),
        (["rm", "-f", "x", "nope"], 0, "x\n", "Error response from daemon: No such container: nope\n"),
        (["stop", "good", "bad", "bad2"], 1, "good\n",
         "Error response from daemon: No such container: bad\nError response from daemon: No such container: bad\n"),
        (["start", "a", "b"], 1, "",
         "Error response from daemon: boom start\nError response from daemon: boom start\n"
         "Error: failed to start containers: a, b\n"),
        (["ps", "-a", "--format", "{{.Foo}}"], 1, "",
         'failed to execute template: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type '
         "*formatter.ContainerContext\n"),
        (["tag", "busybox", "localhost:5000/Foo"], 1, "",
         'Error parsing reference: "localhost:5000/Foo" is not a valid repository/tag: invalid reference format: '
         "repository name (Foo) must be lowercase\n"),
    ],
)
def test_failures_match_docker(daemon, capsys, args, status, out, err):
    got_status, got_out, got_err = berth(daemon, capsys, *args)
    assert got_status == status
    assert got_err == err
    if out is not None:
        assert got_out == out


def test_prune_prompt_and_decline(daemon, capsys, monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    status, out, _ = berth(daemon, capsys, "container", "prune")
    assert status == 0
    assert out == "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "
    assert not daemon.calls("POST", "prune")
    monkeypatch.setattr(sys, "stdin", io.StringIO("yes\n"))  # docker 28's prompt takes only y/Y
    assert berth(daemon, capsys, "container", "prune")[0] == 0
    assert not daemon.calls("POST", "prune")
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    status, out, _ = berth(daemon, capsys, "container", "prune", "--filter", "until=10m")
    assert out.startswith("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? "
                          "[y/N] Deleted Containers:\n")
    assert daemon.calls("POST", "prune")[0].query == {"filters": ['{"until":{"10m":true}}']}


def test_list_queries(daemon, capsys):
    berth(daemon, capsys, "ps", "-a", "-n", "3", "-s", "-f", "status=exited", "-f", "label=a=b")
    berth(daemon, capsys, "ps", "-l")
    berth(daemon, capsys, "images", "-a", "-f", "dangling=true", "bu*")
    queries = [r.query for r in daemon.calls("GET", "json$")]
    assert queries[0] == {"all": ["1"], "limit": ["3"], "size": ["1"],
                          "filters": ['{"label":{"a=b":true},"status":{"exited":true}}']}
    assert queries[1] == {"limit": ["1"]}
    assert queries[2] == {"all": ["1"], "filters": ['{"dangling":{"true":true},"reference":{"bu*":true}}']}


# --- helpers ----------------------------------------------------------------------------------


def test_tabwriter_columns_and_min_width():
    assert tabwrite("A\tBB\tC\nxxxxxxxxxxxxx\ty\tz\n") == "A               BB        C\nxxxxxxxxxxxxx   y         z\n"
    # A column only exists where consecutive lines have a cell in it (elastic tabstops).
    assert tabwrite("aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee\n", minwidth=0, padding=1) == (
        "aaaa bbb d\naa   b   dd\na    \naa   cccc eee\n"
    )


def test_ports_column_grouping():
    assert displayable_ports([{"PrivatePort": 80, "Type": "tcp"}, {"PrivatePort": 81, "Type": "tcp"},
                              {"PrivatePort": 83, "Type": "tcp"}]) == "80-81/tcp, 83/tcp"
    assert displayable_ports([{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}]) == (
        "0.0.0.0:8080->80/tcp")


def test_command_column_quoting_and_ellipsis():
    assert go_quote('echo "hi"\t\x01é') == '"echo \\"hi\\"\\t\\x01é"'
    assert ellipsis("sh -c 'while true; do sleep 1; done'", 20) == "sh -c 'while true; …"
    assert ellipsis("short", 20) == "short"
    assert ellipsis("日本語テキスト", 7) == "日本語…"


def test_go_json_escapes_html_characters():
    assert go_json({"a": "x->y & <z>", "b": "é"}) == '{"a":"x-\\u003ey \\u0026 \\u003cz\\u003e","b":"é"}'


def test_json_reindent_keeps_tokens_verbatim():
    raw = '{"a":[],"b":{},"c":"\\u003c,:{}[]\\"","d":1.50,"e":[1,{"f":null}]}'
    assert json_reindent(raw) == (
        '{\n    "a": [],\n    "b": {},\n    "c": "\\u003c,:{}[]\\"",\n    "d": 1.50,\n    "e": [\n        1,\n'
        '        {\n            "f": null\n        }\n    ]\n}'
    )
    assert json_reindent(' { "a" : [ 1 , 2 ] } ', None) == '{"a":[1,2]}'


# --- the same cases, checked live against the real docker CLI when it is installed -------------

DOCKER = "/usr/local/bin/docker"
LIVE = [
    ["ps", "-a"], ["ps", "-a", "-s"], ["ps", "-a", "--no-trunc"], ["ps", "-a", "--format", "json"],
    ["ps", "-a", "--format", "table {{.ID}}\\t{{json .Labels}}\\t{{upper .Names}}\\t{{.Label \"a\"}}"],
    ["images"], ["images", "--digests"], ["images", "--no-trunc"], ["images", "--format", "json"],
    ["history", "busybox"], ["history", "--no-trunc", "-H=false", "busybox"], ["history", "--format", "json", "busybox"],
    ["top", "c1"], ["inspect", "c1"], ["inspect", "c1", "nope", "busybox"], ["inspect", "--format", "json", "c1", "busybox"],
    ["port", "c1"], ["port", "c1", "53/udp"], ["port", "c1", "99"], ["container", "prune", "-f"],
    ["image", "prune", "-f"], ["rmi", "busybox"], ["rm", "good", "nope"], ["rm", "-f", "x", "nope"],
    ["stop", "good", "bad"], ["start", "a", "b"], ["wait", "c1"], ["ps", "-a", "--format", "{{.Foo"],
    ["run"], ["rename", "a"], ["ps", "x"], ["port", "a", "b", "c"], ["images", "a", "b"], ["foo"],
    ["image", "foo"], ["--foo"], ["ps", "--foo"], ["run", "--cpus", "x", "busybox"],
]


@pytest.mark.skipif(not __import__("os").access(DOCKER, __import__("os").X_OK), reason="docker CLI not installed")
@pytest.mark.parametrize("args", LIVE, ids=lambda a: " ".join(a)[:50])
def test_live_same_output_as_docker(args, capsys, tmp_path):
    import os
    import subprocess

    env = dict(os.environ, DOCKER_CONFIG=str(tmp_path / "cfg"), HOME=str(tmp_path))
    env.pop("DOCKER_HOST", None)
    with FakeDaemon(fixtures(int(time.time()))) as d:
        proc = subprocess.run([DOCKER, "-H", d.host, *args], env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=30)
        status = main(["-H", d.host, *args])
    out = capsys.readouterr()

    def ours(text: str) -> str:
        import re

        return re.sub(r"docker(?!\.io)", "berth", text).replace("Docker", "Berth")

    assert (status, out.out, out.err) == (proc.returncode, ours(proc.stdout), ours(proc.stderr))


def test_rm_link_is_refused_without_touching_the_container(daemon, capsys):
    assert berth(daemon, capsys, "rm", "-l", "good") == (
        1, "", "Error: removing legacy links (rm --link) is not supported by berth\n")
    assert not daemon.calls("DELETE")
