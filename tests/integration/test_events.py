"""GET /events, `berth events` and `docker events` against berthd: history with
since/until, live streaming, docker's filter semantics and output formats."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from harness import SRC, api

pytestmark = pytest.mark.integration

HAS_DOCKER = os.path.exists("/usr/local/bin/docker")
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) (\w+) (\S+) (\S+)( \(.*\))?$")


def _now() -> str:
    return f"{time.time():.9f}"


def _events(sb, **query: str) -> list[dict]:
    q = "&".join(f"{k}={v}" for k, v in query.items())
    status, body = api(sb, "GET", f"/events?{q}")
    assert status == 200, body
    if isinstance(body, dict):
        return [body]
    if body is None:
        return []
    return [json.loads(line) for line in body.decode().splitlines() if line.strip()]


def _filters(**f: list[str]) -> str:
    from urllib.parse import quote

    return quote(json.dumps(f))


@pytest.fixture(scope="module")
def life(sandbox):
    """A labelled container's whole life, with the time window around it."""
    time.sleep(0.3)  # the fixture's image import publishes its event after answering
    since = _now()
    r = sandbox.berth("run", "--name", "evlife", "--label", "team=ev", "--label", "tier=web", "busybox",
                      "sh", "-c", "exit 3")
    assert r.returncode == 3, r.stderr
    cid = sandbox.berth("inspect", "-f", "{{.Id}}", "evlife").stdout.strip()
    assert sandbox.berth("rm", "evlife").returncode == 0
    until = _now()
    return since, until, cid


# ---------------------------------------------------------------------- the API
def test_history_between_since_and_until_in_dockers_shape(sandbox, life):
    since, until, cid = life
    evs = [e for e in _events(sandbox, since=since, until=until) if e["Actor"]["ID"] == cid]
    assert [e["Action"] for e in evs] == ["create", "attach", "start", "die", "destroy"]
    die = evs[3]
    assert die["Type"] == "container" and die["scope"] == "local"
    assert die["Actor"]["Attributes"] == {"image": "busybox", "name": "evlife", "team": "ev", "tier": "web",
                                          "exitCode": "3"}
    assert (die["status"], die["id"], die["from"]) == ("die", cid, "busybox")
    assert die["time"] == die["timeNano"] // 1_000_000_000
    times = [e["timeNano"] for e in evs]
    assert times == sorted(times) and float(since) * 1e9 <= times[0] <= float(until) * 1e9


def test_image_events_carry_the_common_fields(sandbox):
    since = _now()
    assert sandbox.berth("tag", "busybox", "evtag:1").returncode == 0
    assert sandbox.berth("rmi", "evtag:1").returncode == 0
    until = _now()
    evs = [e for e in _events(sandbox, since=since, until=until) if e["Type"] == "image"]
    assert [e["Action"] for e in evs] == ["tag", "untag"]
    for ref in ("evtag", "evtag:1"):  # the name attribute, with or without its tag
        assert len(_events(sandbox, since=since, until=until, filters=_filters(image=[ref]))) == 2, ref
    by_id = _events(sandbox, since=since, until=until, filters=_filters(image=[evs[0]["Actor"]["ID"]]))
    assert by_id[0]["Action"] == "tag"
    for e in evs:
        assert set(e) >= {"Type", "Action", "Actor", "scope", "time", "timeNano"}
        assert set(e["Actor"]) == {"ID", "Attributes"}
        assert "from" not in e


def test_until_in_the_past_ends_the_stream_at_once(sandbox, life):
    since, until, _ = life
    t0 = time.monotonic()
    _events(sandbox, since=since, until=until)
    assert time.monotonic() - t0 < 2


def test_until_in_the_future_streams_live_events_until_then(sandbox):
    until = f"{time.time() + 3:.9f}"
    s = socket.socket(socket.AF_UNIX)
    s.connect(sandbox.sock)
    s.sendall(f"GET /events?until={until}&filters={_filters(event=['create'])} HTTP/1.1\r\nHost: x\r\n"
              "Connection: close\r\n\r\n".encode())
    time.sleep(0.5)
    assert sandbox.berth("create", "--name", "evfuture", "busybox", "true").returncode == 0
    t0 = time.monotonic()
    s.settimeout(10)
    raw = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        raw += chunk
    s.close()
    sandbox.berth("rm", "evfuture")
    assert time.monotonic() - t0 < 5
    assert b'"Action":"create"' in raw and b'"name":"evfuture"' in raw


def test_since_after_until_and_bad_times_are_refused(sandbox):
    status, body = api(sandbox, "GET", "/events?since=5&until=3")
    assert (status, body) == (400, {"message": "`since` time (5) cannot be after `until` time (3)"})
    status, body = api(sandbox, "GET", "/events?since=yesterday")
    assert (status, body) == (400, {"message": 'strconv.ParseInt: parsing "yesterday": invalid syntax'})
    status, body = api(sandbox, "GET", f"/events?until=1&filters={_filters(colour=['red'])}")
    assert (status, body) == (400, {"message": "invalid filter 'colour'"})


def test_filters_type_event_container_image_label(sandbox, life):
    since, until, cid = life

    def actions(**f: list[str]) -> list[str]:
        return [e["Action"] for e in _events(sandbox, since=since, until=until, filters=_filters(**f))
                if e["Actor"]["ID"] == cid or e["Type"] != "container"]

    everything = ["create", "attach", "start", "die", "destroy"]
    assert actions(type=["container"]) == everything
    assert actions(type=["image"]) == []
    assert actions(event=["die", "start"]) == ["start", "die"]
    for ref in (cid, cid[:12], "evlife", "evl"):  # id, short id, name, and prefixes of them
        assert actions(container=[ref]) == everything, ref
    assert actions(container=["other"]) == []
    # docker compares the image attribute as given or without its tag, not normalised
    assert actions(image=["busybox"], type=["container"]) == everything
    assert actions(image=["busybox:latest"], type=["container"]) == []
    assert actions(image=["alpine"]) == []
    assert actions(label=["team"]) == everything
    assert actions(label=["team=ev"]) == everything
    assert actions(label=["team=ev", "tier=web"]) == everything  # every label filter must hold
    assert actions(label=["team=ev", "tier=db"]) == []
    assert actions(label=["team=other"]) == []


def test_event_filter_matches_exec_events_by_their_bare_name(sandbox):
    assert sandbox.berth("run", "-d", "--name", "evexec", "busybox", "sleep", "60").returncode == 0
    try:
        since = _now()
        assert sandbox.berth("exec", "evexec", "true").returncode == 0
        evs = _events(sandbox, since=since, until=_now(), filters=_filters(event=["exec_create"]))
        assert [e["Action"] for e in evs] == ["exec_create: true"]
    finally:
        sandbox.berth("rm", "-f", "evexec")


def test_live_stream_delivers_events_as_they_happen(sandbox):
    proc = subprocess.Popen([sys.executable, "-m", "berth.cli.main", "events", "--filter", "container=evlive",
                             "--format", "{{.Action}}"], stdout=subprocess.PIPE, env=sandbox.env())
    try:
        time.sleep(1.0)
        assert sandbox.berth("create", "--name", "evlive", "busybox", "true").returncode == 0
        t0 = time.monotonic()
        assert proc.stdout.readline() == b"create\n"
        assert time.monotonic() - t0 < 2
        assert sandbox.berth("rm", "evlive").returncode == 0
        assert proc.stdout.readline() == b"destroy\n"
    finally:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------- berth events
def test_berth_events_default_lines(sandbox, life):
    since, until, cid = life
    r = sandbox.berth("events", "--since", since, "--until", until, "--filter", "container=evlife")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 5
    m = LINE.match(lines[3])
    assert m, lines[3]
    assert m.group(2, 3, 4) == ("container", "die", cid)
    assert m.group(5) == " (exitCode=3, image=busybox, name=evlife, team=ev, tier=web)"


def test_berth_events_formats(sandbox, life):
    since, until, cid = life
    base = ("events", "--since", since, "--until", until, "--filter", "container=evlife", "--filter", "event=die")
    r = sandbox.berth(*base, "--format", "json")
    doc = json.loads(r.stdout)
    assert list(doc) == ["status", "id", "from", "Type", "Action", "Actor", "scope", "time", "timeNano"]
    r = sandbox.berth(*base, "--format", "{{.Status}} {{.ID}} {{.From}} {{.Actor.Attributes.team}} {{.Scope}}")
    assert r.stdout == f"die {cid} busybox ev local\n"
    r = sandbox.berth(*base, "--format", "{{json .Actor.Attributes}}")
    assert r.stdout == '{"exitCode":"3","image":"busybox","name":"evlife","team":"ev","tier":"web"}\n'


def test_berth_events_relative_times(sandbox, life):
    r = sandbox.berth("events", "--since", "10m", "--until", "0s", "--filter", "container=evlife",
                      "--format", "{{.Action}}")
    assert r.stdout.split() == ["create", "attach", "start", "die", "destroy"]


def test_berth_events_errors(sandbox):
    r = sandbox.berth("events", "--format", "{{.Nope}}")
    assert r.returncode == 64
    assert r.stderr == ('Error parsing format: template: :1:2: executing "" at <.Nope>: '
                        "can't evaluate field Nope in type *events.Message\n")
    r = sandbox.berth("events", "--since", "bogus")
    assert (r.returncode, r.stderr) == (1, 'failed to parse value as time or duration: "bogus"\n')
    r = sandbox.berth("events", "--filter", "nonsense")
    assert r.returncode == 125 and "bad format of filter (expected name=value)" in r.stderr
    r = sandbox.berth("events", "--until", "1", "--filter", "colour=red")
    assert (r.returncode, r.stderr) == (1, "Error response from daemon: invalid filter 'colour'\n")


# ---------------------------------------------------------------------- docker events
@pytest.mark.skipif(not HAS_DOCKER, reason="docker CLI not installed")
def test_docker_events_since_matches_berth_events(sandbox, life):
    since, until, _ = life
    for fmt in ((), ("--format", "json"), ("--format", "{{.Type}}/{{.Action}}/{{.Actor.Attributes.name}}")):
        args = ("events", "--since", since, "--until", until, *fmt)
        d, b = sandbox.docker(*args), sandbox.berth(*args)
        assert d.returncode == b.returncode == 0, (d.stderr, b.stderr)
        assert d.stdout == b.stdout and d.stdout


@pytest.mark.skipif(not HAS_DOCKER, reason="docker CLI not installed")
def test_docker_events_filters(sandbox, life):
    since, until, cid = life
    r = sandbox.docker("events", "--since", since, "--until", until, "--filter", f"container={cid[:12]}",
                       "--filter", "label=team=ev", "--filter", "event=start", "--format", "{{.Action}} {{.ID}}")
    assert r.stdout == f"start {cid}\n"


# ---------------------------------------------------------------------- the bus itself
def test_history_is_bounded_and_slow_subscribers_are_cut_off():
    sys.path.insert(0, SRC)
    from berth.engine import events as ev

    bus = ev.EventBus(keep=10)
    sub = bus.subscribe()
    for i in range(ev.SUBSCRIBER_BACKLOG + 5):
        bus.publish("container", "create", f"id{i}", {"n": i})
    assert len(bus.recent) == 10
    assert [e.actor_id for e in bus.history(None, None)][0] == f"id{ev.SUBSCRIBER_BACKLOG - 5}"
    assert sub.overflowed and sub.queue.qsize() == ev.SUBSCRIBER_BACKLOG + 1  # the last item ends its stream
    times = [e.time_ns for e in bus.recent]
    assert times == sorted(set(times))
