"""`run` and `create`.

`run` follows docker's sequence exactly, because its observable behaviour
depends on it: create (pulling on "not found"), hijack the attach stream and
register the wait *before* starting, so no early output and no fast exit can be
missed; then start, stream, and exit with the container's status. Failures map
to docker's exit codes: 125 for the daemon/CLI, 126 "cannot execute", 127
"command not found".
"""

from __future__ import annotations

from .command import APIError, Cli, CliError, Command, report_run_error
from .containeropts import CreateSpec, OptionError, add_create_flags, build_create_spec
from .flags import FlagSet, Values
from .terminal import is_terminal, terminal_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PULL_OPTIONS = ("always", "missing", "never", "")


def start_error_status(message: str) -> int:
    """docker's runStartContainerErr: 127 not found, 126 cannot execute, else 125."""
    msg = message
    prefix = "Error response from daemon: "
    if msg.startswith(prefix):
        msg = msg[len(prefix):]
    if ("executable file not found" in msg or "no such file or directory" in msg
            or "system cannot find the file specified" in msg):
        return 127
    if "permission denied" in msg or "is a directory" in msg:
        return 126
    return 125


def _pull_option_error(value: str) -> str:
    return (f"invalid pull option: '{value}': must be one of "
            '"always", "missing" or "never"')


def pull_image(cli: Cli, image: str, platform: str, quiet: bool) -> None:
    """POST /images/create?fromImage=… and show progress on stderr (docker's run/create pull)."""
    from .jsonmessage import display_stream
    from .reference import parse_normalized

    ref = parse_normalized(image).with_default_tag()
    params: dict[str, Any] = {"fromImage": ref.name, "tag": ref.digest or ref.tag}
    if platform:
        params["platform"] = platform
    resp = cli.client().request("POST", "/images/create", params)
    if quiet:
        for _ in resp.iter_json():
            pass
        return
    display_stream(resp.iter_json(), _writer(cli.err), is_terminal(cli.err), terminal_size(cli.err)[1])


def _writer(stream: Any) -> Any:
    def write(text: str) -> None:
        stream.write(text)
        stream.flush()

    return write


def create_container(cli: Cli, spec: CreateSpec, pull: str, quiet: bool) -> str:
    """Create (pulling a missing image when allowed); print warnings; return the ID."""
    from .reference import ReferenceError_, parse_normalized

    image = spec.body["Image"]
    named = None
    if not _is_digest_id(image):
        try:
            named = parse_normalized(image).with_default_tag()
        except ReferenceError_ as exc:
            raise CliError(str(exc)) from None
    cid_file = None
    if spec.cidfile:
        import os

        if os.path.exists(spec.cidfile):
            raise CliError(
                f"container ID file found, make sure the other container isn't running or delete {spec.cidfile}"
            )
        try:
            cid_file = open(spec.cidfile, "x")
        except OSError as exc:
            raise CliError(f"failed to create the container ID file: {exc.strerror.lower()}") from None
    written = False
    try:
        client = cli.client()
        if pull == "always" and named is not None:
            pull_image(cli, image, spec.platform, quiet)
        try:
            resp = client.post("/containers/create", spec.query(), spec.body)
        except APIError as exc:
            if not (exc.not_found and named is not None and pull == "missing"):
                raise
            if not quiet:
                cli.err.write(f"Unable to find image '{named.familiar_string()}' locally\n")
                cli.err.flush()
            pull_image(cli, image, spec.platform, quiet)
            resp = client.post("/containers/create", spec.query(), spec.body)
        for warning in (resp or {}).get("Warnings") or []:
            cli.err.write(f"WARNING: {warning}\n")
        cid = resp["Id"]
        if cid_file is not None:
            cid_file.write(cid)
            written = True
        return cid
    finally:
        if cid_file is not None:
            cid_file.close()
            if not written:
                try:
                    import os

                    os.unlink(spec.cidfile)
                except OSError:
                    pass


def _is_digest_id(image: str) -> bool:
    """(sha256:)?[a-f0-9]{64}"""
    hexpart = image[7:] if image.startswith("sha256:") else image
    return len(hexpart) == 64 and all(c in "0123456789abcdef" for c in hexpart)


# --- create -------------------------------------------------------------------------------


def _create_flags(fs: FlagSet) -> None:
    add_create_flags(fs, run=False)


def _create(cli: Cli, v: Values, args: list[str]) -> int:
    if v.pull not in PULL_OPTIONS:
        report_run_error(cli, "create", _pull_option_error(v.pull))
        return 125
    try:
        spec = build_create_spec(v, args[0], args[1:], terminal_size(cli.out))
    except OptionError as exc:
        report_run_error(cli, "create", exc.message or "")
        return 125
    for w in spec.warnings:
        cli.err.write(w + "\n")
    cid = create_container(cli, spec, v.pull, v.quiet)
    cli.out.write(cid + "\n")
    return 0


def create_command() -> Command:
    return Command(
        "create", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container",
        _create, _create_flags, ("min", 1), interspersed=False,
        aliases="container create, create",
    )


# --- run ----------------------------------------------------------------------------------


def _run_flags(fs: FlagSet) -> None:
    add_create_flags(fs, run=True)


def _run(cli: Cli, v: Values, args: list[str]) -> int:
    if v.pull not in PULL_OPTIONS:
        report_run_error(cli, "run", _pull_option_error(v.pull))
        return 125
    try:
        spec = build_create_spec(v, args[0], args[1:], terminal_size(cli.out))
    except OptionError as exc:
        report_run_error(cli, "run", exc.message or "")
        return 125
    cfg = spec.body
    if not v.detach:
        if cfg["AttachStdin"] and cfg["Tty"] and not is_terminal(cli.stdin):
            raise CliError("the input device is not a TTY")
    else:
        if v.attach:
            raise CliError("conflicting options: cannot specify both --attach and --detach")
        cfg["AttachStdin"] = cfg["AttachStdout"] = cfg["AttachStderr"] = False
        cfg["StdinOnce"] = False
    for w in spec.warnings:
        cli.err.write(w + "\n")

    try:
        cid = create_container(cli, spec, v.pull, v.quiet)
    except CliError as exc:
        message = exc.message or ""
        report_run_error(cli, "run", message)
        return start_error_status(message)
    return _start_and_stream(cli, v, cid, cfg)


def _start_and_stream(cli: Cli, v: Values, cid: str, cfg: dict[str, Any]) -> int:
    client = cli.client()
    tty = bool(cfg["Tty"])
    a_in, a_out, a_err = cfg["AttachStdin"], cfg["AttachStdout"], cfg["AttachStderr"]
    attach = a_in or a_out or a_err
    proxy = None
    if v.sig_proxy and not tty:
        from .terminal import SignalProxy

        proxy = SignalProxy(lambda sig: client.post(f"/containers/{cid}/kill", {"signal": sig}))
    if not (a_out or a_err):
        cli.out.write(cid + "\n")
        cli.out.flush()
    try:
        if proxy is not None:
            proxy.start()
        hijacked = None
        wait_resp = None
        try:
            if attach:
                params: dict[str, Any] = {"stream": True}
                if a_in:
                    params["stdin"] = True
                if a_out:
                    params["stdout"] = True
                if a_err:
                    params["stderr"] = True
                if v.detach_keys:
                    params["detachKeys"] = v.detach_keys
                hijacked = client.hijack(f"/containers/{cid}/attach", params)
            if attach or v.rm:
                condition = "removed" if v.rm else "next-exit"
                wait_resp = client.request_early("POST", f"/containers/{cid}/wait", {"condition": condition})
            client.post(f"/containers/{cid}/start")
        except CliError as exc:
            if hijacked is not None:
                hijacked.close()
            message = exc.message or ""
            report_run_error(cli, "run", message)
            if v.rm and wait_resp is not None:
                try:
                    wait_resp.response().read()
                except (OSError, CliError):
                    pass
            return start_error_status(message)
        if hijacked is not None:
            from .session import run_session

            result = run_session(
                cli, hijacked, tty=tty, stdin=a_in, stdout=a_out, stderr=a_err,
                keys=v.detach_keys,
                resize=lambda h, w: client.post(f"/containers/{cid}/resize", {"h": h, "w": w}),
            )
            if result == "detached":
                return 0
        if not (a_out or a_err):
            return 0
        return wait_status(cli, wait_resp)
    finally:
        if proxy is not None:
            proxy.stop()


def wait_status(cli: Cli, pending: Any) -> int:
    """The exit status from a /wait response; 125 when waiting itself failed."""
    if pending is None:
        return 0
    try:
        resp = pending.response() if hasattr(pending, "response") else pending
        if resp.status >= 400:
            err = cli.client().error_from(resp)
            cli.err.write(f"error waiting for container: {err.detail}\n")
            return 125
        data = resp.json() or {}
    except (OSError, ValueError, CliError) as exc:
        cli.err.write(f"error waiting for container: {exc}\n")
        return 125
    error = data.get("Error") or {}
    if error and error.get("Message"):
        cli.err.write(f"Error waiting for container: {error['Message']}\n")
        return 125
    return int(data.get("StatusCode", 0))


def run_command() -> Command:
    return Command(
        "run", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container from an image",
        _run, _run_flags, ("min", 1), interspersed=False,
        aliases="container run, run",
    )
