"""A container's filesystem as data: `commit`, `diff` and `export`.

Texts, argument rules and exit codes follow docker's CLI 28 (with "docker"
replaced by "berth").
"""

from __future__ import annotations

from .command import Cli, CliError, Command
from .flags import FlagSet, Values

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# --- commit ------------------------------------------------------------------------------


def _commit_flags(fs: FlagSet) -> None:
    fs.string("author", "a", 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    fs.list("change", "c", "Apply Dockerfile instruction to the created image")
    fs.string("message", "m", "Commit message")
    fs.bool("pause", "p", "Pause container during commit", default=True)


def commit_query(container: str, reference: str, v: Values) -> dict[str, Any]:
    """The query docker's client.ContainerCommit sends."""
    params: dict[str, Any] = {"container": container}
    if reference:
        from .reference import ReferenceError_, parse_normalized

        try:
            ref = parse_normalized(reference)
        except ReferenceError_ as exc:
            raise CliError(str(exc)) from None
        if ref.digest:
            raise CliError("refusing to create a tag with a digest reference")
        ref = ref.with_default_tag()
        params["repo"] = ref.familiar_name
        params["tag"] = ref.tag
    if v.message:
        params["comment"] = v.message
    if v.author:
        params["author"] = v.author
    if v.change:
        params["changes"] = list(v.change)
    if not v.pause:
        params["pause"] = "0"
    return params


def _commit(cli: Cli, v: Values, args: list[str]) -> int:
    reference = args[1] if len(args) > 1 else ""
    params = commit_query(args[0], reference, v)
    answer = cli.client().post("/commit", params) or {}
    cli.out.write(f"{answer.get('Id', '')}\n")
    return 0


def commit_command() -> Command:
    return Command("commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]", "Create a new image from a container's changes",
                   _commit, _commit_flags, ("range", 1, 2), interspersed=False,
                   aliases="container commit, commit")


# --- diff --------------------------------------------------------------------------------

_KINDS = {0: "C", 1: "A", 2: "D"}


def diff_lines(changes: list[dict[str, Any]] | None) -> str:
    out = []
    for change in changes or ():
        kind = _KINDS.get(change.get("Kind"), "")
        out.append(f"{kind} {change.get('Path', '')}\n")
    return "".join(out)


def _diff(cli: Cli, v: Values, args: list[str]) -> int:
    changes = cli.client().get(f"/containers/{args[0]}/changes")
    cli.out.write(diff_lines(changes))
    return 0


def diff_command() -> Command:
    return Command("diff", "CONTAINER", "Inspect changes to files or directories on a container's filesystem",
                   _diff, None, ("exact", 1), aliases="container diff, diff")


# --- export ------------------------------------------------------------------------------


def _export_flags(fs: FlagSet) -> None:
    fs.string("output", "o", "Write to a file, instead of STDOUT")


def validate_output_path(path: str) -> str | None:
    """docker's command.ValidateOutputPath: the reason a path cannot be written, or None."""
    import os

    parent = os.path.dirname(os.path.abspath(path)) or "/"
    try:
        st = os.stat(parent)
    except OSError as exc:
        return f"invalid output path: stat {parent}: {_errno_text(exc)}"
    import stat as stat_mod

    if not stat_mod.S_ISDIR(st.st_mode):
        return f"invalid output path: {parent} is not a directory"
    if not os.access(parent, os.W_OK):
        return f"invalid output path: directory {parent} is not writable"
    try:
        st = os.stat(path)
    except OSError:
        return None
    if stat_mod.S_ISDIR(st.st_mode):
        return f"invalid output path: {path} is a directory"
    return None


def _errno_text(exc: OSError) -> str:
    import os

    return os.strerror(exc.errno).lower() if exc.errno else str(exc)


def copy_to_file(path: str, chunks: Any) -> None:
    """docker's command.CopyToFile: a temporary file next to `path`, renamed over it at the end."""
    import os
    import tempfile

    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".docker_temp_", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.chmod(tmp, 0o600)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _export(cli: Cli, v: Values, args: list[str]) -> int:
    if not v.output:
        isatty = getattr(cli.out, "isatty", None)
        if isatty is not None and isatty():
            raise CliError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    else:
        problem = validate_output_path(v.output)
        if problem:
            raise CliError(f"failed to export container: {problem}")
    resp = cli.client().request("GET", f"/containers/{args[0]}/export")
    if v.output:
        copy_to_file(v.output, resp.iter_raw())
        return 0
    cli.out.flush()
    out = cli.out_binary()
    for chunk in resp.iter_raw():
        out.write(chunk)
    out.flush()
    return 0


def export_command() -> Command:
    return Command("export", "[OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive",
                   _export, _export_flags, ("exact", 1), aliases="container export, export")
