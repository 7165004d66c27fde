""".dockerignore semantics: docker's documented examples and the matching
rules of moby's patternmatcher, restated as data here."""

from __future__ import annotations

import http.server
import io
import os
import shutil
import socketserver
import subprocess
import tarfile
import threading

import pytest

from berth.build.dockerignore import (
    DockerignoreError,
    IgnoreMatcher,
    go_clean,
    read_patterns,
    trim_build_files,
)


def test_read_patterns_cleans_and_skips():
    text = (
        "\ufeff# a comment\n"
        "   # not a comment: only column one starts a comment\n"
        "\n"
        "  ./build//out/../dist  \r\n"
        "/abs/path\n"
        "/\n"
        "! keep.txt\n"
        "!/docs/README.md\n"
        "node_modules/\n"
        "*.log\n"
    )
    assert read_patterns(text) == [
        "# not a comment: only column one starts a comment",
        "build/dist",
        "abs/path",
        "/",
        "!keep.txt",
        "!docs/README.md",
        "node_modules",
        "*.log",
    ]


@pytest.mark.parametrize(
    "path,expected",
    [("", "."), ("a//b/./c/..", "a/b"), ("/../x", "/x"), ("../../y", "../../y"),
     ("./", "."), ("//a/", "/a"), ("a/b/../../..", "..")],
)
def test_go_clean(path, expected):
    assert go_clean(path) == expected


# (pattern, path, excluded) — single pattern, the path or one of its parents
CASES = [
    ("*", "main.go", True),
    ("*.go", "main.go", True),
    ("*.go", "cmd/main.go", False),  # `*` does not cross directories
    ("*/*.go", "cmd/main.go", True),
    ("**", "any/thing/at/all", True),
    ("**/", "file", True),
    ("**/*.go", "main.go", True),  # ** matches zero directories too
    ("**/*.go", "a/b/c/main.go", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/sub/file", True),
    ("abc/**", "abc", False),  # the directory itself is not matched
    ("**/dir", "dir", True),
    ("**/dir", "x/dir/file", True),  # through the parent
    ("**/dir2/*", "dir/dir2/file", True),
    ("**file", "dir/dir/file", True),
    ("**/foo/bar", "foo/bar", True),
    ("**/.foo", "bar.foo", False),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcZdef", False),  # `.` is literal
    ("abc?def", "abcZdef", True),
    ("a?b", "a/b", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "axb", False),
    ("[\\]a]", "]", True),
    ("[x\\-]", "-", True),
    ("[a-ζ]*", "α", True),
    ("docs", "docs/README.md", True),
    ("docs/", "docs/sub/file", True),
    ("temp?", "tempa", True),
    ("*/temp*", "somedir/temporary.txt", True),
    ("*/*/temp*", "somedir/subdir/temporary.txt", True),
    ("*/temp*", "temp", False),
]


@pytest.mark.parametrize("pattern,path,excluded", CASES)
def test_single_pattern(pattern, path, excluded):
    assert IgnoreMatcher([pattern]).matches(path) is excluded


def test_context_root_is_never_excluded():
    assert IgnoreMatcher(["*", "**"]).matches(".") is False
    assert IgnoreMatcher(["*"]).matches("./") is False


def test_exceptions_last_match_wins():
    m = IgnoreMatcher(read_patterns("*.md\n!README*.md\nREADME-secret.md\n"))
    assert m.matches("CHANGES.md")
    assert not m.matches("README.md")
    assert m.matches("README-secret.md")
    # an exception before the pattern it should override has no effect
    m = IgnoreMatcher(["!fileutils.go", "*.go"])
    assert m.matches("fileutils.go")
    m = IgnoreMatcher(["docs", "!docs/README.md"])
    assert not m.matches("docs/README.md") and m.matches("docs/other.md")
    m = IgnoreMatcher(["**", "!util/docker/web"])
    assert not m.matches("util/docker/web/foo")
    m = IgnoreMatcher(["**", "!util/docker/web", "util/docker/web/foo"])
    assert m.matches("util/docker/web/foo")


@pytest.mark.parametrize("bad", ["[", "[^", "[^bc", "a[", "[]a]", "[-]", "[x-]", "[-x]",
                                 "[a-b-c]", "\\"])
def test_malformed_patterns(bad):
    with pytest.raises(DockerignoreError) as e:
        IgnoreMatcher([bad])
    assert str(e.value) == "syntax error in pattern"


def test_bare_exclamation_is_an_error():
    with pytest.raises(DockerignoreError) as e:
        IgnoreMatcher(read_patterns("foo\n!\n"))
    assert str(e.value) == 'illegal exclusion pattern: "!"'


def _tree(root, files):
    for f in files:
        p = os.path.join(root, f)
        if f.endswith("/"):
            os.makedirs(p, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as fh:
            fh.write(f)


def test_walk_keeps_exceptions_inside_excluded_dirs(tmp_path):
    _tree(tmp_path, [
        "Dockerfile", ".dockerignore", "app/main.py", "app/__pycache__/x.pyc",
        "node_modules/a/index.js", "docs/README.md", "docs/guide.md", "docs/img/logo.png",
        "logs/", "build/out.bin", "build/keep/me.txt",
    ])
    os.symlink("app", tmp_path / "link")
    m = IgnoreMatcher(read_patterns(
        "**/__pycache__\nnode_modules\ndocs\n!docs/README.md\nlogs\nbuild\n!build/keep\n"
        "Dockerfile\n.dockerignore\n"))
    kept = [p for p, _ in m.walk(str(tmp_path), keep=("Dockerfile", ".dockerignore"))]
    assert kept == [
        ".dockerignore", "Dockerfile", "app", "app/main.py",
        "build/keep", "build/keep/me.txt", "docs/README.md", "link",
    ]
    # the walk agrees with matches() for every file it yields
    assert not any(m.matches(p) for p in kept if p not in ("Dockerfile", ".dockerignore"))


def test_walk_wildcard_exception_does_not_reopen_directory(tmp_path):
    # docker only descends an excluded directory when an exception pattern
    # starts with the directory's own path
    _tree(tmp_path, ["vendor/lib/keep.txt", "vendor/lib/drop.txt"])
    m = IgnoreMatcher(["vendor", "!*/lib/keep.txt"])
    assert [p for p, _ in m.walk(str(tmp_path))] == []
    assert not m.matches("vendor/lib/keep.txt")  # the matcher alone would keep it


def test_walk_without_patterns(tmp_path):
    _tree(tmp_path, ["b", "a/c"])
    assert [p for p, _ in IgnoreMatcher([]).walk(str(tmp_path))] == ["a", "a/c", "b"]


def test_trim_build_files():
    assert trim_build_files(["*"], "Dockerfile") == ["*", "!.dockerignore", "!Dockerfile"]
    assert trim_build_files(["*.md"], "Dockerfile") == ["*.md"]
    assert trim_build_files(["build"], "build/Dockerfile.dev") == ["build", "!build/Dockerfile.dev"]
    assert trim_build_files(["*"], "Dockerfile", from_stdin=True) == ["*", "!.dockerignore"]


# -- against the real docker CLI ----------------------------------------------
# The docker CLI applies .dockerignore itself before it uploads the context
# (DOCKER_BUILDKIT=0). A stand-in daemon on a unix socket records the tar the
# CLI sends, so the walk is compared with docker's own result.


DOCKER = shutil.which("docker")


class _Recorder(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def _reply(self, code: int, body: bytes = b"", ctype: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Api-Version", "1.45")
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):
        self._reply(200)

    def do_GET(self):
        self._reply(200, b"OK", "text/plain") if self.path.endswith("/_ping") else self._reply(404)

    def do_POST(self):
        body = self._body()
        if "/build" not in self.path:
            self._reply(404)
            return
        self.server.tars.append(body)
        self._reply(200, b'{"aux":{"ID":"sha256:' + b"0" * 64 + b'"}}\n')


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture(scope="module")
def docker_cli(tmp_path_factory):
    if DOCKER is None:
        pytest.skip("the docker CLI is not installed")
    root = tmp_path_factory.mktemp("cli")
    sock = str(root / "d.sock")
    server = _UnixServer(sock, _Recorder)
    server.tars = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, DOCKER_HOST="unix://" + sock, DOCKER_BUILDKIT="0",
               DOCKER_CONFIG=str(root / "cfg"))

    def sent(ctx: str, dockerfile: str | None = None) -> list[str]:
        cmd = [DOCKER, "build", "-q"] + (["-f", dockerfile] if dockerfile else []) + [ctx]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        tar = tarfile.open(fileobj=io.BytesIO(server.tars.pop()))
        return [m.name.rstrip("/") for m in tar.getmembers()]

    yield sent
    server.shutdown()


TREE = [
    "Dockerfile", "README.md", "main.go", "notes.txt", ".git/HEAD", ".git/objects/ab/cd",
    "app/main.py", "app/util.py", "app/__pycache__/util.pyc", "app/tests/test_a.py",
    "docs/README.md", "docs/guide.md", "docs/img/logo.png", "node_modules/x/index.js",
    "build/out.bin", "build/keep/me.txt", "tmp/", "a b/c d.txt", "weird[1].txt",
    "deep/a/b/c/file.log", "deep/a/file.log", "x.log",
]

IGNORE_CASES = {
    "none": "",
    "comments-and-blank": "# comment\n\n   \n",
    "star": "*\n",
    "star-with-exceptions": "*\n!app\n!docs/README.md\n",
    "dirs-and-exceptions": "docs\n!docs/README.md\nbuild\n!build/keep\nnode_modules\n.git\n",
    "double-star": "**/*.log\n**/__pycache__\n",
    "exception-then-pattern": "!README.md\n*.md\n",
    "leading-slash-and-dots": "/notes.txt\n./app/../main.go\n/deep/a/\n",
    "wildcard-exception-in-excluded-dir": "deep\n!*/a/file.log\n!deep/a/b\n",
    "classes-and-escapes": "weird\\[1\\].txt\n[a-c]*\n!app/main.py\n",
    "dockerfile-and-ignore-listed": "Dockerfile\n.dockerignore\n*.go\n",
    "spaces": "a b\n  tmp  \n",
    "prefix-double-star": "app/**\n!app/tests\n",
    "everything-back": "**\n!**/*.md\n",
    "climbing-out": "../x\n../../deep\n/../notes.txt\n",
    "suffix-quirk": "**md\n",
    "question-marks": "?.log\nmain.g?\n",
    "trailing-slash-exception": "docs/\n!docs/img/\n",
}


@pytest.mark.parametrize("name", sorted(IGNORE_CASES))
def test_walk_matches_docker_cli(docker_cli, tmp_path, name):
    _tree(tmp_path, TREE)
    (tmp_path / ".dockerignore").write_text(IGNORE_CASES[name])
    expected = docker_cli(str(tmp_path))
    patterns = trim_build_files(read_patterns(IGNORE_CASES[name]), "Dockerfile")
    ours = [p for p, _ in IgnoreMatcher(patterns).walk(str(tmp_path))]
    assert ours == expected


def test_walk_matches_docker_cli_with_dockerfile_elsewhere(docker_cli, tmp_path):
    _tree(tmp_path, TREE + ["ci/Dockerfile.ci", "ci/other"])
    os.symlink("app", tmp_path / "link-to-app")
    os.symlink("/etc/passwd", tmp_path / "link-out")
    text = "ci\n*.md\nlink-out\n"
    (tmp_path / ".dockerignore").write_text(text)
    expected = docker_cli(str(tmp_path), str(tmp_path / "ci" / "Dockerfile.ci"))
    patterns = trim_build_files(read_patterns(text), "ci/Dockerfile.ci")
    assert [p for p, _ in IgnoreMatcher(patterns).walk(str(tmp_path))] == expected
    assert "ci/Dockerfile.ci" in expected and "ci/other" not in expected
