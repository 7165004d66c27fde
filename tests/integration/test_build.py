"""The image builder through the real docker CLI (DOCKER_BUILDKIT=0, the legacy
`POST /build`) and through `berth build`, against one sandboxed berthd."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile

import pytest


MULTISTAGE = """\
FROM busybox AS base
RUN echo built > /built.txt
FROM busybox AS unused
RUN exit 1
FROM busybox
ARG GREETING=hello
COPY data/ /data/
COPY --from=base /built.txt /x/
RUN echo "$GREETING from run" > /greeting
ENV A=b
WORKDIR /app
CMD ["sh", "-c", "cat /data/a.txt /x/built.txt /greeting; pwd; echo $A"]
"""


def write(root, files: dict[str, str]) -> str:
    for name, content in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(content)
    return str(root)


def docker_build(sb, *args, input=None):
    env = dict(sb.env(), DOCKER_BUILDKIT="0")
    import subprocess

    return subprocess.run(["/usr/local/bin/docker", "build", *args], input=input, env=env,
                          capture_output=True, text=True, timeout=120)


def steps_of(out: str) -> list[str]:
    """The text of the build output between Step lines, one chunk per step."""
    chunks, cur = [], None
    for line in out.splitlines():
        if line.startswith("Step "):
            if cur is not None:
                chunks.append(cur)
            cur = line + "\n"
        elif cur is not None:
            cur += line + "\n"
    if cur is not None:
        chunks.append(cur)
    return chunks


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    root = tmp_path_factory.mktemp("ctx")
    return write(root, {"Dockerfile": MULTISTAGE, "data/a.txt": "from context\n"})


def test_docker_cli_builds_multistage_then_everything_is_cached_and_the_image_runs(sandbox, ctx):
    first = docker_build(sandbox, "-t", "app", ctx)
    assert first.returncode == 0, first.stdout + first.stderr + sandbox.log_text()
    assert "Sending build context to Docker daemon" in first.stdout
    assert "Step 1/10 : FROM busybox AS base" in first.stdout
    assert "exit 1" not in first.stdout  # the stage nothing needs is skipped
    assert " ---> Running in " in first.stdout and "Removed intermediate container" in first.stdout
    assert "Successfully tagged app:latest" in first.stdout
    second = docker_build(sandbox, "-t", "app", ctx)
    assert second.returncode == 0, second.stderr
    for chunk in steps_of(second.stdout):
        if " : FROM " not in chunk:
            assert " ---> Using cache" in chunk, chunk
    built = [line for line in first.stdout.splitlines() if line.startswith("Successfully built")]
    assert built == [line for line in second.stdout.splitlines() if line.startswith("Successfully built")]
    run = sandbox.docker("run", "--rm", "app")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n") == ["from context", "built", "hello from run", "/app", "b", ""]


def test_berth_build_plain_progress_cache_and_run(sandbox, ctx):
    first = sandbox.berth("build", "-t", "app-berth", "--build-arg", "GREETING=hi", ctx)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Step 8/10 : ENV A=b" in first.stdout
    second = sandbox.berth("build", "-t", "app-berth", "--build-arg", "GREETING=hi", ctx)
    assert second.returncode == 0
    chunks = [c for c in steps_of(second.stdout) if " : FROM " not in c]
    assert chunks and all(" ---> Using cache" in c for c in chunks), second.stdout
    run = sandbox.berth("run", "--rm", "app-berth")
    assert "hi from run" in run.stdout
    # the live display on a TTY: steps with times and CACHED marks
    tty = sandbox.berth("build", "--progress", "tty", "-t", "app-berth", "--build-arg", "GREETING=hi", ctx)
    assert tty.returncode == 0
    assert "[+] Building" in tty.stdout and " => CACHED [2/10] RUN echo built > /built.txt" in tty.stdout
    assert "Successfully tagged app-berth:latest" in tty.stdout


def test_docker_sdk_builds(sandbox, tmp_path):
    import docker

    write(tmp_path, {"Dockerfile": "FROM busybox\nARG X\nRUN echo sdk-$X > /sdk\nLABEL via=sdk\n"})
    client = docker.DockerClient(base_url=sandbox.host_url, version="1.45")
    try:
        image, logs = client.images.build(path=str(tmp_path), tag="sdk:1", buildargs={"X": "ok"}, rm=True)
        lines = "".join(chunk.get("stream", "") for chunk in logs)
        assert "Successfully tagged sdk:1" in lines
        assert image.tags == ["sdk:1"] and image.labels == {"via": "sdk"}
        assert client.containers.run("sdk:1", ["cat", "/sdk"], remove=True) == b"sdk-ok\n"
        with pytest.raises(docker.errors.BuildError, match="returned a non-zero code: 7"):
            write(tmp_path, {"Dockerfile": "FROM busybox\nRUN exit 7\n"})
            client.images.build(path=str(tmp_path))
    finally:
        client.close()


def test_a_missing_base_image_is_pulled_and_pull_refreshes_it(sandbox, tmp_path):
    import subprocess
    import sys
    import time

    reg = subprocess.Popen(sandbox.nsenter_argv([sys.executable, "-m", "berth.cli.main", "registry", "serve",
                                                 "--addr", "127.0.0.1:18766", "--root", str(tmp_path / "reg")]),
                           env=sandbox.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert sandbox.berth("tag", "busybox", "127.0.0.1:18766/bb").returncode == 0
        for _ in range(50):
            if sandbox.berth("push", "127.0.0.1:18766/bb").returncode == 0:
                break
            time.sleep(0.1)
        assert sandbox.berth("rmi", "127.0.0.1:18766/bb").returncode == 0
        write(tmp_path / "ctx", {"Dockerfile": "FROM 127.0.0.1:18766/bb\nRUN echo on-pulled-base\n"})
        out = sandbox.berth("build", "-t", "frompull", str(tmp_path / "ctx"))
        assert out.returncode == 0, out.stdout + out.stderr
        assert "latest: Pulling from bb" in out.stdout
        assert "Status: Downloaded newer image for 127.0.0.1:18766/bb:latest" in out.stdout
        again = docker_build(sandbox, "--pull", "-t", "frompull", str(tmp_path / "ctx"))
        assert again.returncode == 0, again.stderr
        assert "Status: Image is up to date for 127.0.0.1:18766/bb:latest" in again.stdout
        assert " ---> Using cache" in again.stdout
    finally:
        reg.kill()
        reg.wait()


def test_independent_stages_run_at_the_same_time(sandbox, tmp_path):
    """Each stage waits (5 s at most) for a file the other writes into a shared cache
    mount: built one after the other, the first would fail."""
    import uuid

    ident = uuid.uuid4().hex
    wait = ("touch /sync/{me}; i=0; while [ ! -f /sync/{other} ]; do i=$((i+1)); "
            "[ $i -gt 50 ] && exit 1; sleep 0.1; done; echo {me} > /{me}")
    mount = f"--mount=type=cache,id={ident},target=/sync"
    write(tmp_path, {"Dockerfile": f"""\
FROM busybox AS a
RUN {mount} {wait.format(me="a", other="b")}
FROM busybox AS b
RUN {mount} {wait.format(me="b", other="a")}
FROM busybox
COPY --from=a /a /a
COPY --from=b /b /b
"""})
    out = sandbox.berth("build", "--no-cache", "-t", "parallel", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    steps = [line for line in out.stdout.splitlines() if line.startswith("Step ")]
    assert [s.split(" : ")[0] for s in steps] == [f"Step {n}/7" for n in range(1, 8)]  # output stays in order
    assert sandbox.berth("run", "--rm", "parallel", "cat", "/a", "/b").stdout == "a\nb\n"


def test_copy_and_add_semantics(sandbox, tmp_path):
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w:gz") as t:
        data = b"inside the archive\n"
        info = tarfile.TarInfo("pkg/readme")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    (tmp_path / "bundle.tar.gz").write_bytes(payload.getvalue())
    write(tmp_path, {
        "Dockerfile": """\
FROM busybox
COPY dir /d1
COPY dir/ /d2/
COPY f1 f2 /multi/
COPY f* /glob/
COPY f1 /renamed
COPY f1 /etc
COPY --chown=nobody:users --chmod=640 f1 /owned/
ADD bundle.tar.gz /unpacked/
COPY bundle.tar.gz /notunpacked/
WORKDIR /w
COPY f1 .
""",
        "dir/sub/deep": "deep\n", "dir/top": "top\n", "f1": "one\n", "f2": "two\n"})
    out = sandbox.berth("build", "-q", "-t", "copytest", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().startswith("sha256:")
    script = ("ls /d1 /d2 /multi /glob | tr '\\n' ' '; echo; cat /renamed /etc/f1; "
              "stat -c '%U:%G %a' /owned/f1 /d1/top; cat /unpacked/pkg/readme; ls /notunpacked; ls /w")
    run = sandbox.berth("run", "--rm", "copytest", "sh", "-c", script)
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["/d1:", "sub", "top", "/d2:", "sub", "top", "/glob:", "f1", "f2",
                                "/multi:", "f1", "f2"], run.stdout
    assert lines[1:3] == ["one", "one"]
    assert lines[3:5] == ["nobody:users 640", "root:root 644"]
    assert lines[5:] == ["inside the archive", "bundle.tar.gz", "f1"]


def test_run_mounts_and_add_from_an_unreachable_url(sandbox, tmp_path):
    write(tmp_path, {"Dockerfile": """\
FROM busybox
RUN --mount=type=cache,target=/cache sh -c 'echo x >> /cache/f; wc -l < /cache/f'
RUN --mount=type=bind,source=f,target=/m cat /m
""", "f": "bound from the context\n"})
    first = sandbox.berth("build", "--no-cache", str(tmp_path))
    second = sandbox.berth("build", "--no-cache", str(tmp_path))
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "bound from the context" in first.stdout
    counts = [int(out.stdout.split(" ---> Running in ")[1].splitlines()[1]) for out in (first, second)]
    assert counts[1] == counts[0] + 1  # the cache mount outlives the build
    write(tmp_path, {"Dockerfile": "FROM busybox\nADD http://127.0.0.1:1/nothing /x\n"})
    out = sandbox.berth("build", str(tmp_path))
    assert out.returncode == 1
    assert 'Get "http://127.0.0.1:1/nothing": dial tcp 127.0.0.1:1: connect: connection refused' in out.stderr


def test_add_from_a_url_and_run_options(sandbox, tmp_path):
    import subprocess
    import time

    served = tmp_path / "served"
    write(served, {"page.txt": "downloaded\n"})
    server = subprocess.Popen(sandbox.nsenter_argv(["python3", "-m", "http.server", "18765", "--bind", "127.0.0.1",
                                                    "-d", str(served)]),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        write(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox
ADD http://127.0.0.1:18765/page.txt /web/
RUN stat -c '%a %U' /web/page.txt; cat /web/page.txt
RUN df -k /dev/shm | tail -1; ls /sys/class/net
"""})
        for _ in range(50):
            if sandbox.nsenter(["wget", "-q", "-O", "-", "http://127.0.0.1:18765/page.txt"]).returncode == 0 or \
                    sandbox.nsenter(["python3", "-c", "import urllib.request as u; "
                                     "u.urlopen('http://127.0.0.1:18765/page.txt')"]).returncode == 0:
                break
            time.sleep(0.1)
        out = sandbox.berth("build", "--network", "none", "--shm-size", "8m", str(tmp_path / "ctx"))
        assert out.returncode == 0, out.stdout + out.stderr
        assert "600 root" in out.stdout and "downloaded" in out.stdout
        shm = [line for line in out.stdout.splitlines() if line.startswith("shm ")]
        assert shm and shm[0].split()[1] == "8192", out.stdout
        nets = out.stdout.split(shm[0])[1].splitlines()[1:]
        assert nets[0] == "lo" and nets[1].startswith(" --->")  # --network none: loopback only
    finally:
        server.kill()
        server.wait()


def test_heredocs_in_run_and_copy(sandbox, tmp_path):
    write(tmp_path, {"Dockerfile": """\
FROM busybox
ARG WHO=builder
RUN <<EOF
echo "script line one"
echo "script sees $WHO"
EOF
RUN cat <<EOT
fed to cat
EOT
COPY <<-EOT /greeting
\thello ${WHO}
\tEOT
"""})
    out = sandbox.berth("build", "--no-cache", "-t", "heredocs", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "script line one\nscript sees builder\n" in out.stdout and "fed to cat\n" in out.stdout
    assert sandbox.berth("run", "--rm", "heredocs", "cat", "/greeting").stdout == "hello builder\n"


def test_from_scratch_with_a_file_from_another_stage(sandbox, tmp_path):
    write(tmp_path, {"Dockerfile": "FROM busybox AS tools\nFROM scratch\n"
                                   "COPY --from=tools /bin/busybox /bin/busybox\n"
                                   'ENTRYPOINT ["/bin/busybox"]\nCMD ["echo", "from scratch"]\n'})
    out = docker_build(sandbox, "-t", "scratchy", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "Step 2/5 : FROM scratch\n ---> \n" in out.stdout
    assert sandbox.docker("run", "--rm", "scratchy").stdout == "from scratch\n"
    layers = json.loads(sandbox.berth("image", "inspect", "-f", "{{json .RootFS.Layers}}", "scratchy").stdout)
    assert len(layers) == 1


def test_copy_of_equal_inputs_gives_the_same_layer_digest(sandbox, tmp_path):
    write(tmp_path, {"Dockerfile": "FROM busybox\nCOPY f /f\n", "f": "same\n"})
    os.utime(tmp_path / "f", (1_600_000_000, 1_600_000_000))
    a = sandbox.berth("build", "-q", "--no-cache", str(tmp_path)).stdout.strip()
    b = sandbox.berth("build", "-q", "--no-cache", str(tmp_path)).stdout.strip()
    layers = [json.loads(sandbox.berth("image", "inspect", "-f", "{{json .RootFS.Layers}}", x).stdout)
              for x in (a, b)]
    assert a != b and layers[0] == layers[1]


def test_build_args_labels_and_the_image_config_and_history(sandbox, tmp_path):
    write(tmp_path, {"Dockerfile": """\
ARG BASE=busybox
FROM ${BASE}
ARG V=default
ARG UNSET
ENV E=$V
RUN echo "$V" > /v
LABEL a=1 "b c"="d e"
EXPOSE 80 53/udp
VOLUME /data
USER nobody
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=3 CMD true
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo $E"]
"""})
    out = docker_build(sandbox, "-t", "cfg", "--build-arg", "V=given", "--build-arg", "HTTP_PROXY=http://p:1",
                       "--label", "from=cli", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    inspect = json.loads(sandbox.docker("image", "inspect", "cfg").stdout)[0]
    cfg = inspect["Config"]
    assert cfg["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "E=given"]
    assert cfg["Labels"] == {"a": "1", "b c": "d e", "from": "cli"}
    assert cfg["ExposedPorts"] == {"53/udp": {}, "80/tcp": {}}
    assert cfg["Volumes"] == {"/data": {}}
    assert cfg["User"] == "nobody" and cfg["StopSignal"] == "SIGINT"
    assert cfg["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000, "Retries": 3}
    assert cfg["Entrypoint"] == ["/bin/sh", "-c"] and cfg["Cmd"] == ["echo $E"]
    hist = [json.loads(line) for line in
            sandbox.docker("history", "--no-trunc", "--format", "{{json .}}", "cfg").stdout.splitlines()]
    created = [h["CreatedBy"] for h in reversed(hist)]
    assert "/bin/sh -c #(nop)  ARG V=default" in created
    assert "|1 V=given /bin/sh -c echo \"$V\" > /v" in created  # HTTP_PROXY is not recorded
    assert '/bin/sh -c #(nop)  CMD ["echo $E"]' in created
    assert "/bin/sh -c #(nop)  VOLUME [/data]" in created
    assert "/bin/sh -c #(nop)  EXPOSE 53/udp 80" in created  # as docker 20.10 records `EXPOSE 80 53/udp`
    assert ('/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "true"] "5s" "0s" "0s" "0s" \'\\x03\'}'
            in created)
    raw = json.loads(sandbox.berth("image", "inspect", "-f", "{{json .RootFS}}", "cfg").stdout)
    assert len(raw["Layers"]) == 2  # busybox and the RUN; every other step is config only
    run = sandbox.berth("run", "--rm", "--entrypoint", "cat", "cfg", "/v")
    assert run.stdout == "given\n"
    assert "[Warning] One or more build-args" not in out.stdout  # HTTP_PROXY is a builtin
    unused = docker_build(sandbox, "--build-arg", "NOPE=1", str(tmp_path))
    assert "[Warning] One or more build-args [NOPE] were not consumed" in unused.stdout


def test_arg_scoping_and_shell(sandbox, tmp_path):
    write(tmp_path, {"Dockerfile": """\
ARG X=meta
FROM busybox
MAINTAINER someone
RUN echo "before [$X]"
ARG X
SHELL ["/bin/sh", "-ec"]
RUN echo "after [$X]"
"""})
    out = sandbox.berth("build", "--no-cache", "-t", "scoped", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "before []" in out.stdout and "after [meta]" in out.stdout
    author = sandbox.berth("image", "inspect", "-f", "{{.Author}}", "scoped").stdout.strip()
    assert author == "someone"
    hist = sandbox.docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", "scoped").stdout.splitlines()
    assert hist[0] == '|1 X=meta /bin/sh -ec echo "after [$X]"'
    assert hist[1] == "/bin/sh -c #(nop)  SHELL [/bin/sh -ec]"
    app = sandbox.docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", "app").stdout.splitlines()
    assert "/bin/sh -c #(nop) WORKDIR /app" in app  # one space after #(nop), as docker writes it


def test_dockerignore_is_applied_by_the_client_and_by_the_daemon(sandbox, tmp_path):
    write(tmp_path, {
        "Dockerfile": "FROM busybox\nCOPY . /ctx/\nCMD find /ctx -type f\n",
        ".dockerignore": "**/*.log\nsecret\n!keep.log\n/top-only\n",
        "a.log": "x", "keep.log": "x", "sub/b.log": "x", "secret": "x", "top-only": "x",
        "sub/top-only": "x", "ok.txt": "x"})
    out = sandbox.berth("build", "-t", "ign", str(tmp_path))
    assert out.returncode == 0, out.stderr
    found = sorted(sandbox.berth("run", "--rm", "ign").stdout.split())
    expected = ["/ctx/.dockerignore", "/ctx/Dockerfile", "/ctx/keep.log", "/ctx/ok.txt", "/ctx/sub/top-only"]
    assert found == expected
    # a client that sends everything: the daemon applies .dockerignore itself
    from harness import raw_request

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        t.add(str(tmp_path), arcname=".")
    status, _h, body = raw_request(sandbox, "POST", "/v1.45/build?t=ign2", buf.getvalue(), "application/x-tar")
    assert status == 200 and b"Successfully tagged ign2:latest" in body, body
    assert sorted(sandbox.berth("run", "--rm", "ign2").stdout.split()) == expected


def test_dockerfile_from_stdin_outside_the_context_iidfile_and_quiet(sandbox, tmp_path):
    ctx = tmp_path / "ctx"
    write(ctx, {"f": "ctxfile\n"})
    out = sandbox.berth("build", "-q", "-f", "-", "-t", "stdin", str(ctx), input="FROM busybox\nCOPY f /f\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\n") == 1 and out.stdout.startswith("sha256:")
    elsewhere = tmp_path / "other.Dockerfile"
    elsewhere.write_text("FROM busybox\nCOPY f /g\n")
    iid = tmp_path / "iid"
    out = sandbox.berth("build", "-f", str(elsewhere), "--iidfile", str(iid), str(ctx))
    assert out.returncode == 0, out.stderr
    assert iid.read_text().startswith("sha256:") and "\n" not in iid.read_text()
    assert sandbox.berth("run", "--rm", iid.read_text(), "cat", "/g").stdout == "ctxfile\n"
    only = sandbox.berth("build", "-t", "dfonly", "-", input="FROM busybox\nENV X=1\n")
    assert only.returncode == 0 and "Successfully tagged dfonly:latest" in only.stdout
    write(ctx, {"Dockerfile": "FROM busybox\nCOPY f /from-tar\n"})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        t.add(str(ctx), arcname=".")
    piped = sandbox.berth("build", "-t", "piped", "-", input=buf.getvalue())
    assert piped.returncode == 0, piped.stderr
    assert sandbox.berth("run", "--rm", "piped", "cat", "/from-tar").stdout == "ctxfile\n"
    d = docker_build(sandbox, "-q", "-f", "-", str(ctx), input="FROM busybox\nCOPY f /h\n")
    assert d.returncode == 0 and d.stdout.strip().startswith("sha256:"), d.stderr


# ---------------------------------------------------------------------- bad input
def test_syntax_error_names_the_line(sandbox, tmp_path):
    write(tmp_path, {"Dockerfile": "FROM busybox\nRUN true\n\nRUNN nope\n"})
    out = docker_build(sandbox, str(tmp_path))
    assert out.returncode == 1
    assert "Error response from daemon: dockerfile parse error on line 4: unknown instruction: RUNN" in out.stderr


def test_failing_run_reports_the_command_and_code(sandbox, tmp_path):
    write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo before; exit 3\n"})
    out = docker_build(sandbox, str(tmp_path))
    assert "before" in out.stdout
    assert "The command '/bin/sh -c echo before; exit 3' returned a non-zero code: 3" in out.stderr
    assert out.returncode == 3  # docker's CLI exits with the code the errorDetail carries
    berth = sandbox.berth("build", str(tmp_path))
    assert berth.returncode == 3 and "returned a non-zero code: 3" in berth.stderr


def test_copy_of_missing_and_outside_paths(sandbox, tmp_path):
    write(tmp_path, {"Dockerfile": "FROM busybox\nCOPY nope /x\n"})
    out = docker_build(sandbox, str(tmp_path))
    assert out.returncode == 1
    assert ("COPY failed: file not found in build context or excluded by .dockerignore: "
            "stat nope: file does not exist") in out.stderr
    write(tmp_path, {"Dockerfile": "FROM busybox\nCOPY ../outside /x\n"})
    out = docker_build(sandbox, str(tmp_path))
    assert out.returncode == 1 and "forbidden path outside the build context: ../outside" in out.stderr


def test_unknown_target(sandbox, tmp_path):
    write(tmp_path, {"Dockerfile": "FROM busybox AS a\nRUN true\n"})
    out = docker_build(sandbox, "--target", "x", str(tmp_path))
    assert out.returncode == 1
    assert "Error response from daemon: failed to reach build target x in Dockerfile" in out.stderr
    other = docker_build(sandbox, "--platform", "linux/s390x", str(tmp_path))
    assert other.returncode == 1 and "builds for linux/" in other.stderr
    from harness import raw_request

    status, _h, body = raw_request(sandbox, "POST", "/v1.45/build?remote=https://example.invalid/repo.git")
    assert status == 501 and b"remote build contexts are not supported" in body
    status, _h, body = raw_request(sandbox, "POST", "/v1.45/session")
    assert status == 501 and b"DOCKER_BUILDKIT=0" in body
    url = sandbox.berth("build", "https://github.com/example/repo.git")
    assert url.returncode == 1 and "remote build contexts are not supported by berth" in url.stderr


def test_symlinks_in_the_context_stay_inside_it(sandbox, tmp_path):
    write(tmp_path, {"Dockerfile": "FROM busybox\nCOPY link /copied\n"})
    os.symlink("/etc/passwd", tmp_path / "link")  # absolute: resolved inside the context, never the host's
    out = sandbox.berth("build", "-t", "links", str(tmp_path))
    assert out.returncode == 1
    assert "COPY failed: file not found in build context" in out.stderr
    write(tmp_path, {"etc/passwd": "context's own\n"})
    out = sandbox.berth("build", "-t", "links", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert sandbox.berth("run", "--rm", "links", "cat", "/copied").stdout == "context's own\n"
    # a tar whose member climbs out is refused
    from harness import raw_request

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = b"FROM busybox\n"
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("../escape")
        info.size = 1
        t.addfile(info, io.BytesIO(b"x"))
    status, _h, body = raw_request(sandbox, "POST", "/v1.45/build", buf.getvalue(), "application/x-tar")
    assert status == 400 and b"outside of the context" in body


def test_onbuild_triggers_run_in_children(sandbox, tmp_path):
    write(tmp_path / "parent", {"Dockerfile": "FROM busybox\nONBUILD RUN echo triggered > /t\n"})
    write(tmp_path / "child", {"Dockerfile": "FROM onparent\nRUN cat /t\n"})
    assert sandbox.berth("build", "-t", "onparent", str(tmp_path / "parent")).returncode == 0
    out = sandbox.berth("build", "-t", "onchild", str(tmp_path / "child"))
    assert out.returncode == 0, out.stderr
    assert "# Executing 1 build trigger" in out.stdout and "triggered" in out.stdout
    first = out.stdout.split("Step 2/2")[0]
    assert first.count(" ---> ") == 3  # Running in, Removed intermediate container, then the id once (docker's)
    cfg = json.loads(sandbox.berth("image", "inspect", "-f", "{{json .Config.OnBuild}}", "onchild").stdout)
    assert not cfg  # triggers are not inherited by grandchildren


def test_client_disconnecting_mid_build_leaves_no_container_or_mount(sandbox, tmp_path):
    import socket
    import time

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = b"FROM busybox\nRUN echo started; sleep 60\n"
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    body = buf.getvalue()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sandbox.sock)
    s.sendall(f"POST /v1.45/build?t=gone HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
              f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    got = b""
    deadline = time.monotonic() + 30
    while got.count(b"started") < 2 and time.monotonic() < deadline:  # the Step line, then the output
        got += s.recv(65536)
    cid = got.split(b"Running in ")[1][:12].decode()
    s.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        left = sandbox.berth("ps", "-aq", "--no-trunc").stdout
        mounts = sandbox.nsenter(["cat", "/proc/self/mountinfo"]).stdout
        if cid not in left and cid not in mounts and "/build/" not in mounts:
            break
        time.sleep(0.2)
    assert cid not in sandbox.berth("ps", "-aq", "--no-trunc").stdout
    mounts = sandbox.nsenter(["cat", "/proc/self/mountinfo"]).stdout
    assert cid not in mounts and "/build/" not in mounts
    assert not os.listdir(os.path.join(sandbox.data_root, "build")) or all(
        n == "cache-mounts" for n in os.listdir(os.path.join(sandbox.data_root, "build")))


def test_cache_survives_a_daemon_restart_and_builder_prune_drops_it(sandbox, tmp_path):
    write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo cached > /c\nCOPY f /f\n", "f": "x\n"})
    assert sandbox.berth("build", "-t", "durable", str(tmp_path)).returncode == 0
    sandbox.kill_daemon(15)
    sandbox.start_daemon()
    again = sandbox.berth("build", "-t", "durable", str(tmp_path))
    assert again.stdout.count(" ---> Using cache") == 2, again.stdout
    pruned = sandbox.berth("builder", "prune", "-f")
    assert pruned.returncode == 0 and "Total reclaimed space:" in pruned.stdout, pruned.stderr
    # the keys are gone, the tagged image's own history still serves --cache-from
    reused = sandbox.berth("build", "--cache-from", "durable", "-t", "durable", str(tmp_path))
    assert reused.stdout.count(" ---> Using cache") == 2, reused.stdout
    cold = sandbox.berth("build", "-t", "durable", str(tmp_path))
    assert cold.returncode == 0 and "Using cache" not in cold.stdout


def test_an_image_with_ninety_layers_builds_and_runs(sandbox, tmp_path):
    """The overlay lowerdir string of 90 layers passes mount(2)'s one page: such chains
    are mounted one lowerdir+ at a time (builder views and container rootfs)."""
    ctx = tmp_path / "deep-layers"
    ctx.mkdir()
    (ctx / "f").write_text("x\n")
    steps = "".join(f"COPY f /layer{i}\n" for i in range(90))
    (ctx / "Dockerfile").write_text("FROM busybox\n" + steps)
    res = subprocess.run(["docker", "build", "-q", "-t", "ninety-layers", str(ctx)], capture_output=True, text=True,
                         env=dict(sandbox.env(), DOCKER_BUILDKIT="0"), timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    out = sandbox.docker("run", "--rm", "ninety-layers", "sh", "-c", "ls / | grep -c '^layer'")
    assert (out.returncode, out.stdout.strip()) == (0, "90"), out.stderr
    layers = sandbox.docker("image", "inspect", "-f", "{{len .RootFS.Layers}}", "ninety-layers").stdout.strip()
    assert int(layers) == 91
    assert sandbox.docker("rmi", "ninety-layers").returncode == 0
