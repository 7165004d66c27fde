""".dockerignore semantics: docker's documented examples and the matching
rules of moby's patternmatcher, restated as data here."""

from __future__ import annotations

import os

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
