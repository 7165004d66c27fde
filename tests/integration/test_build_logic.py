"""The builder's pure pieces, without a daemon: history formats, ARG rules,
stage planning, ordered output, context intake safety, destinations."""

from __future__ import annotations

import asyncio
import io
import os
import tarfile

import pytest

from berth.build import imageconfig as ic
from berth.build.builder import plan_stages
from berth.build.context import BuildContext
from berth.build.copy import _go_match
from berth.build.parser import parse
from berth.build.state import BuildArgs, Output
from berth.build.steps import go_duration_ns
from berth.build.steps_fs import _dest
from berth.errors import InvalidParameter


def test_history_shapes_match_docker():
    assert ic.nop_created_by(["/bin/sh", "-c"], 'CMD ["sh"]') == '/bin/sh -c #(nop)  CMD ["sh"]'
    assert ic.copy_created_by(["/bin/sh", "-c"], "COPY file:ab in /x ") == "/bin/sh -c #(nop) COPY file:ab in /x "
    assert ic.go_quote_list(["sh", "-c", 'echo "hi"']) == '["sh" "-c" "echo \\"hi\\""]'
    assert ic.go_list(["/bin/bash", "-c"]) == "[/bin/bash -c]"
    health = {"Test": ["CMD-SHELL", "curl -f x"], "Interval": 30 * 10**9, "Timeout": 1_500_000_000, "Retries": 3}
    assert ic.healthcheck_comment(health) == \
        'HEALTHCHECK &{["CMD-SHELL" "curl -f x"] "30s" "1.5s" "0s" "0s" \'\\x03\'}'
    assert ic.go_duration(90 * 10**9) == "1m30s" and ic.go_duration(3_600 * 10**9) == "1h0m0s"


def test_go_durations_for_healthcheck_flags():
    assert go_duration_ns("1m30s", "interval") == 90 * 10**9
    assert go_duration_ns("250ms", "timeout") == 250 * 10**6
    with pytest.raises(InvalidParameter, match='time: invalid duration "5x"'):
        go_duration_ns("5x", "interval")


def test_wildcards_stay_within_one_path_element():
    assert _go_match("f*", "f1") and not _go_match("f*", "dir/f1")
    assert _go_match("*/f?", "dir/f1") and _go_match("[a-c]x", "bx") and not _go_match("[^a-c]x", "bx")


def test_destinations_are_relative_to_workdir():
    assert _dest(".", "/app") == "/app"
    assert _dest("sub/", "/app") == "/app/sub/"
    assert _dest("/abs", "/app") == "/abs"
    assert _dest("x", "") == "/x"


def test_build_args_scoping():
    args = BuildArgs({"V": "given", "HTTP_PROXY": "p", "UNUSED": "1"})
    args.declare_meta("BASE", "busybox")
    args.declare_meta("V", "meta-default")
    assert args.meta_env() == {"BASE": "busybox", "V": "given"}
    assert args.value_for("V", "stage-default") == "given"
    assert args.value_for("BASE", None) == "busybox"  # re-declared without a value: the meta value
    assert args.value_for("NEW", None) is None
    assert args.unused() == ["UNUSED"]


def test_stage_planning_dependencies_and_names():
    df = parse("ARG X=1\nFROM busybox AS a\nRUN true\nFROM busybox AS b\nCOPY --from=a /x /x\n"
               "FROM b AS c\nRUN --mount=type=bind,from=a,target=/m true\n")
    meta, stages = plan_stages(df.instructions)
    assert [m.keyword for m in meta] == ["ARG"]
    assert [(s.name, sorted(s.deps)) for s in stages] == [("a", []), ("b", [0]), ("c", [0, 1])]
    with pytest.raises(InvalidParameter, match="a stage name already used"):
        plan_stages(parse("FROM busybox AS a\nFROM busybox AS A\n").instructions)
    with pytest.raises(InvalidParameter, match="no build stage in current context"):
        plan_stages(parse("ARG X\nRUN true\nFROM busybox\n", check=False).instructions)


def test_output_keeps_stage_order_when_stages_run_in_parallel():
    sent: list[str] = []

    async def send(msg: dict) -> None:
        sent.append(msg["stream"])

    async def scenario() -> None:
        out = Output(send, quiet=False)
        out.set_order([0, 1, 2])
        await out.stream("1a", 1)   # stage 1 runs ahead of stage 0: buffered
        await out.stream("0a", 0)
        await out.stream("2a", 2)
        await out.stage_done(1)     # finished early: still waits for stage 0
        await out.stream("0b", 0)
        await out.stage_done(0)     # 0 done: 1's lines, then 2 becomes current
        await out.stream("2b", 2)
        await out.stage_done(2)

    asyncio.run(scenario())
    assert sent == ["0a", "0b", "1a", "2a", "2b"]


def _tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for info, data in members:
            if info.isreg():
                info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o644
    return info


@pytest.mark.parametrize("members, message", [
    ([(_info("../escape"), b"x")], "path is outside of the context"),
    ([(_info("dev", tarfile.CHRTYPE), b"")], "device nodes, FIFOs and sockets are not allowed"),
    ([(_info("link", tarfile.LNKTYPE, "/etc/passwd"), b"")], "which is not a file of the context"),
    ([(_info("s", tarfile.SYMTYPE, "/etc"), b""), (_info("s/passwd"), b"x")], "refusing to follow it"),
])
def test_hostile_contexts_are_refused(tmp_path, members, message):
    ctx = BuildContext(str(tmp_path / "ctx"))
    os.makedirs(ctx.root)
    with pytest.raises(InvalidParameter, match=message):
        ctx.extract(_tar(members))
    ctx.close()
    assert not os.path.exists("/etc/passwd.berth-test")


def test_context_index_resolves_symlinks_inside_the_context(tmp_path):
    ctx = BuildContext(str(tmp_path / "ctx"))
    os.makedirs(ctx.root)
    ctx.extract(_tar([(_info("etc/passwd"), b"own\n"), (_info("abs", tarfile.SYMTYPE, "/etc/passwd"), b""),
                      (_info("up", tarfile.SYMTYPE, "../../../etc"), b""), (_info("Dockerfile"), b"FROM x\n")]))
    ctx.wait_written()
    assert ctx.resolve("abs") == "etc/passwd" and ctx.resolve("up/passwd") == "etc/passwd"
    assert ctx.read("Dockerfile") == b"FROM x\n"
    with open(os.path.join(ctx.root, "etc/passwd"), "rb") as f:
        assert f.read() == b"own\n"
    ctx.close()
