""".dockerignore: reading the file, matching paths, walking a context.

Docker's semantics (docker CLI / moby `patternmatcher` and `ignorefile`):

- a line starting with `#` is a comment (only in the first column); lines
  are trimmed; empty lines are skipped; `!` starts an exception;
- each pattern is cleaned like Go's filepath.Clean (`./a//b/../c` -> `a/c`)
  and a leading `/` is dropped, so patterns are relative to the context root;
- patterns use Go's filepath.Match syntax (`*` and `?` never match `/`,
  `[a-z]` / `[^a-z]` classes, `\\` escapes the next character) plus `**`,
  which matches any number of directories (zero included);
- a path is excluded when it, or one of its parent directories, matches a
  pattern; the last matching pattern wins, so a later `!pattern` can bring a
  path back;
- when walking, an excluded directory is still descended when an exception
  pattern starts with that directory's path (`!dir/keep`), but the directory
  entry itself is not sent.

A malformed pattern (`[` without `]`, a trailing `\\` inside a class, a bare
`!`) is an error, as in docker.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from berth.errors import InvalidParameter

__all__ = [
    "DockerignoreError",
    "read_patterns",
    "go_clean",
    "IgnoreMatcher",
    "trim_build_files",
]


class DockerignoreError(InvalidParameter):
    """A .dockerignore pattern docker refuses."""


def go_clean(path: str) -> str:
    """Go's path.Clean: the shortest equivalent path, purely lexically."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    out: list[str] = []
    for part in path.split("/"):
        if part == "" or part == ".":
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    cleaned = "/".join(out)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def read_patterns(text: str) -> list[str]:
    """The patterns of a .dockerignore file, cleaned as docker does."""
    if text.startswith("\ufeff"):
        text = text[1:]
    patterns: list[str] = []
    for line in text.split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern[0] == "!"
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern[0] == "/":
                pattern = pattern[1:]
        if invert:
            pattern = "!" + pattern
        patterns.append(pattern)
    return patterns


def _check_syntax(pattern: str) -> None:
    """Go's filepath.Match syntax check (ErrBadPattern)."""
    bad = DockerignoreError("syntax error in pattern")
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                raise bad
            i += 2
            continue
        if ch != "[":
            i += 1
            continue
        i += 1
        if i < n and pattern[i] == "^":
            i += 1
        first = True
        while True:
            if i >= n:
                raise bad
            if pattern[i] == "]" and not first:
                i += 1
                break
            lo, i = _class_char(pattern, i, bad)
            if i < n and pattern[i] == "-":
                _hi, i = _class_char(pattern, i + 1, bad)
            first = False
            del lo


def _class_char(pattern: str, i: int, bad: Exception) -> tuple[str, int]:
    n = len(pattern)
    if i >= n or pattern[i] in "-]":
        raise bad
    if pattern[i] == "\\":
        i += 1
        if i >= n:
            raise bad
    return pattern[i], i + 1


_EXACT, _PREFIX, _SUFFIX, _REGEX = 1, 2, 3, 4
_ESCAPE = frozenset(".+()|{}$")


@dataclass
class _Pattern:
    text: str
    exclusion: bool
    kind: int = 0
    regex: re.Pattern[str] | None = None

    def compile(self) -> None:
        out = ["^"]
        kind = _EXACT
        p = self.text
        i, n = 0, len(p)
        idx = 0
        while i < n:
            ch = p[i]
            i += 1
            if ch == "*":
                if i < n and p[i] == "*":
                    i += 1
                    if i < n and p[i] == "/":
                        i += 1
                    if i >= n:
                        if kind == _EXACT:
                            kind = _PREFIX
                        else:
                            out.append(".*")
                            kind = _REGEX
                    else:
                        out.append("(.*/)?")
                        kind = _REGEX
                    if idx == 0:
                        kind = _SUFFIX
                else:
                    out.append("[^/]*")
                    kind = _REGEX
            elif ch == "?":
                out.append("[^/]")
                kind = _REGEX
            elif ch in _ESCAPE:
                out.append("\\" + ch)
            elif ch == "\\":
                if i < n:
                    out.append("\\" + p[i])
                    i += 1
                    kind = _REGEX
                else:
                    out.append("\\\\")
            elif ch in "[]":
                out.append(ch)
                kind = _REGEX
            else:
                out.append(ch)
            idx += 1
        if kind == _REGEX:
            out.append(r"\Z")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    self.regex = re.compile("".join(out))
                except re.error:
                    raise DockerignoreError("syntax error in pattern") from None
        self.kind = kind

    def match(self, path: str) -> bool:
        kind = self.kind
        if kind == _EXACT:
            return path == self.text
        if kind == _PREFIX:
            return path.startswith(self.text[:-2])
        if kind == _SUFFIX:
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix[:1] == "/" and path == suffix[1:]
        assert self.regex is not None
        return self.regex.match(path) is not None


class IgnoreMatcher:
    """Decides which context paths .dockerignore excludes.

    matches(path): True when the slash-separated relative path is excluded
    (docker's MatchesOrParentMatches). walk(root): the kept paths of a
    context directory, in docker's order, descending excluded directories
    only where an exception may bring something back.
    """

    def __init__(self, patterns: list[str]) -> None:
        self.patterns: list[_Pattern] = []
        self.exclusions = False
        for raw in patterns:
            p = raw.strip()
            if not p:
                continue
            p = go_clean(p)
            exclusion = False
            if p[0] == "!":
                if len(p) == 1:
                    raise DockerignoreError('illegal exclusion pattern: "!"')
                exclusion = True
                p = p[1:]
                self.exclusions = True
            _check_syntax(p)
            pat = _Pattern(p, exclusion)
            pat.compile()
            self.patterns.append(pat)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, path: str) -> bool:
        path = go_clean(path)
        if path == ".":
            return False  # docker never excludes the context root
        parent = path.rsplit("/", 1)[0] if "/" in path else "."
        parent_dirs = parent.split("/") if parent != "." else []
        matched = False
        for pat in self.patterns:
            if pat.exclusion != matched:
                continue
            m = pat.match(path)
            if not m:
                for i in range(len(parent_dirs)):
                    if pat.match("/".join(parent_dirs[: i + 1])):
                        m = True
                        break
            if m:
                matched = not pat.exclusion
        return matched

    def _match_with_parent(
        self, path: str, parent: list[bool] | None
    ) -> tuple[bool, list[bool]]:
        """docker's MatchesUsingParentResults: the parent directory's
        per-pattern results spare re-matching every ancestor."""
        matched = False
        info = [False] * len(self.patterns)
        for i, pat in enumerate(self.patterns):
            m = parent[i] if parent else False
            if not m:
                if pat.exclusion != matched:
                    continue
                m = pat.match(path)
            info[i] = m
            if m:
                matched = not pat.exclusion
        return matched, info

    def _may_descend(self, rel_dir: str) -> bool:
        if not self.exclusions:
            return False
        prefix = rel_dir + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns)

    def walk(self, root: str, *, keep: tuple[str, ...] = ()) -> Iterator[tuple[str, os.DirEntry[str]]]:
        """Yield (relative path, DirEntry) for every kept entry under root,
        depth first, entries sorted by name like Go's WalkDir. Paths in
        `keep` are never excluded (docker always sends the Dockerfile and
        .dockerignore)."""
        yield from self._walk(root, "", None, frozenset(keep))

    def _walk(
        self, dirpath: str, rel: str, parent: list[bool] | None, keep: frozenset[str]
    ) -> Iterator[tuple[str, os.DirEntry[str]]]:
        with os.scandir(dirpath) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            path = rel + entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if self.patterns and path not in keep:
                skip, info = self._match_with_parent(path, parent)
            else:
                skip, info = False, [False] * len(self.patterns)
            if skip:
                if is_dir and self._may_descend(path):
                    yield from self._walk(entry.path, path + "/", info, keep)
                continue
            yield path, entry
            if is_dir:
                yield from self._walk(entry.path, path + "/", info, keep)


def trim_build_files(patterns: list[str], dockerfile: str, from_stdin: bool = False) -> list[str]:
    """docker CLI's TrimBuildFilesFromExcludes: the Dockerfile and
    .dockerignore are always sent, whatever .dockerignore says (the daemon
    needs them and drops them again itself)."""
    out = list(patterns)
    try:
        m = IgnoreMatcher(out)
    except DockerignoreError:
        return out
    if _legacy_matches(m, ".dockerignore"):
        out.append("!.dockerignore")
    dockerfile = dockerfile.replace(os.sep, "/")
    if from_stdin:
        return out
    if _legacy_matches(IgnoreMatcher(out), dockerfile):
        out.append("!" + dockerfile)
    return out


def _legacy_matches(m: IgnoreMatcher, path: str) -> bool:
    """patternmatcher.Matches (deprecated variant the CLI still uses here):
    only the parent at the pattern's own depth is tried."""
    path = go_clean(path)
    if path == ".":
        return False
    parent = path.rsplit("/", 1)[0] if "/" in path else "."
    parent_dirs = parent.split("/")
    matched = False
    for pat in m.patterns:
        if pat.exclusion != matched:
            continue
        hit = pat.match(path)
        if not hit and parent != ".":
            depth = len(pat.text.split("/"))
            if depth <= len(parent_dirs):
                hit = pat.match("/".join(parent_dirs[:depth]))
        if hit:
            matched = not pat.exclusion
    return matched
