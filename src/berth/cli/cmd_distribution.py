"""`pull`, `push`, `login`, `logout`, `save` and `load` (also under `image`).

Credentials live in docker's config.json format (`auths: {host: {auth:
base64(user:pass)}}`) in the client config directory (~/.berth), and are also
read from ~/.docker/config.json, so a `docker login` is honoured. They reach
the daemon as docker's X-Registry-Auth header (base64url JSON).
"""

from __future__ import annotations

import json
import os
import sys

from .command import Cli, CliError, Command
from .flags import FlagSet, Values

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

INDEX_SERVER = "https://index.docker.io/v1/"
CHUNK = 1 << 20


# ---------------------------------------------------------------- credentials
def _config_dir(cli: Cli) -> str:
    if getattr(cli, "config_dir", ""):
        return cli.config_dir
    return os.environ.get("BERTH_CONFIG") or os.path.join(os.path.expanduser("~"), ".berth")


def _read_config(path: str) -> dict:
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise CliError(f"loading config file: {path}: {exc}") from None
    return doc if isinstance(doc, dict) else {}


def _write_config(path: str, doc: dict) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(doc, indent="\t") + "\n")
    os.rename(tmp, path)


def registry_key(domain: str) -> str:
    """The config.json key docker uses for a registry host."""
    if domain in ("docker.io", "index.docker.io", "registry-1.docker.io", ""):
        return INDEX_SERVER
    return domain


def _server_host(server: str) -> str:
    host = server.split("://", 1)[-1].split("/", 1)[0]
    return host


def find_credentials(cli: Cli, domain: str) -> dict | None:
    key = registry_key(domain)
    for path in (os.path.join(_config_dir(cli), "config.json"),
                 os.path.join(os.path.expanduser("~"), ".docker", "config.json")):
        auths = _read_config(path).get("auths") or {}
        for name, entry in auths.items():
            if not isinstance(entry, dict):
                continue
            if name == key or _server_host(name) == _server_host(key) or \
                    (key == INDEX_SERVER and _server_host(name) in ("index.docker.io", "docker.io")):
                auth = entry.get("auth") or ""
                import base64

                try:
                    user, _, password = base64.b64decode(auth).decode().partition(":")
                except ValueError:
                    continue
                if entry.get("identitytoken"):
                    return {"username": user, "identitytoken": entry["identitytoken"], "serveraddress": name}
                if user or password:
                    return {"username": user, "password": password, "serveraddress": name}
    return None


def registry_auth_header(cli: Cli, domain: str) -> list[tuple[str, str]]:
    import base64

    creds = find_credentials(cli, domain) or {}
    raw = json.dumps(creds, separators=(",", ":")).encode()
    return [("X-Registry-Auth", base64.urlsafe_b64encode(raw).decode())]


def _domain_of(name: str) -> tuple[Any, str]:
    from .reference import ReferenceError_, parse_normalized

    try:
        ref = parse_normalized(name)
    except ReferenceError_ as exc:
        raise CliError(str(exc)) from None
    return ref, getattr(ref, "domain", "") or "docker.io"


def _display(cli: Cli, resp: Any, quiet: bool = False, on_aux: Any = None) -> None:
    from .jsonmessage import display_stream
    from .terminal import is_terminal, terminal_size

    def write(text: str) -> None:
        cli.out.write(text)
        cli.out.flush()

    if quiet:
        from .jsonmessage import StreamMessageError

        for msg in resp.iter_json():
            if isinstance(msg, dict) and (msg.get("error") or msg.get("errorDetail")):
                detail = msg.get("errorDetail") or {}
                raise StreamMessageError(detail.get("message") or msg.get("error"))
        return
    display_stream(resp.iter_json(), write, is_terminal(cli.out), terminal_size(cli.out)[1], on_aux)


# ---------------------------------------------------------------- pull
def _pull_flags(fs: FlagSet) -> None:
    fs.bool("all-tags", "a", "Download all tagged images in the repository")
    fs.bool("disable-content-trust", "", "Skip image verification", default=True)
    fs.string("platform", "", "Set platform if server is multi-platform capable",
              default=os.environ.get("DOCKER_DEFAULT_PLATFORM", ""))
    fs.bool("quiet", "q", "Suppress verbose output")


def _split_ref(ref: Any) -> tuple[str, str, str]:
    """(familiar repository name, tag, digest) of a parsed reference."""
    return ref.familiar_name, ref.tag or "", ref.digest or ""


def _pull(cli: Cli, v: Values, args: list[str]) -> int:
    name = args[0]
    ref, domain = _domain_of(name)
    repo, tag, digest = _split_ref(ref)
    if v.all_tags and (tag or digest):
        raise CliError("tag can't be used with --all-tags/-a")
    if not v.all_tags and not tag and not digest:
        tag = "latest"
        if not v.quiet:
            cli.out.write("Using default tag: latest\n")
    params = {"fromImage": repo, "tag": digest or tag or None, "platform": v.platform or None}
    resp = cli.client().request("POST", "/images/create", params, headers=registry_auth_header(cli, domain))
    _display(cli, resp, v.quiet)
    if not v.all_tags:
        cli.out.write(f"{ref.name}{'@' + digest if digest else ':' + tag}\n")
    return 0


def pull_command() -> Command:
    return Command("pull", "[OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry",
                   _pull, _pull_flags, ("exact", 1), aliases="image pull, pull")


# ---------------------------------------------------------------- push
def _push_flags(fs: FlagSet) -> None:
    fs.bool("all-tags", "a", "Push all tags of an image to the repository")
    fs.bool("disable-content-trust", "", "Skip image signing", default=True)
    fs.string("platform", "", "Push a platform-specific manifest as a single-platform image to the registry.\n"
              "Image index won't be pushed, meaning that other manifests, including attestations won't be "
              "preserved.\n'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)")
    fs.bool("quiet", "q", "Suppress verbose output")


def _push(cli: Cli, v: Values, args: list[str]) -> int:
    ref, domain = _domain_of(args[0])
    repo, tag, digest = _split_ref(ref)
    if v.all_tags and (tag or digest):
        raise CliError("tag can't be used with --all-tags/-a")
    if v.platform:
        raise CliError("--platform is not supported by berthd: images are single-platform")
    if not v.all_tags and not tag and not digest:
        tag = "latest"
        if not v.quiet:
            cli.out.write("Using default tag: latest\n")
    from .client import path_escape

    resp = cli.client().request("POST", f"/images/{path_escape(repo)}/push", {"tag": digest or tag or None},
                                headers=registry_auth_header(cli, domain))
    _display(cli, resp, v.quiet)
    if v.quiet:
        cli.out.write(f"{repo}{':' + tag if tag else ''}\n")
    return 0


def push_command() -> Command:
    return Command("push", "[OPTIONS] NAME[:TAG]", "Upload an image to a registry",
                   _push, _push_flags, ("exact", 1), aliases="image push, push")


# ---------------------------------------------------------------- login / logout
def _login_flags(fs: FlagSet) -> None:
    fs.string("password", "p", "Password or Personal Access Token (PAT)")
    fs.bool("password-stdin", "", "Take the Password or Personal Access Token (PAT) from stdin")
    fs.string("username", "u", "Username")


def _login(cli: Cli, v: Values, args: list[str]) -> int:
    import base64

    server = args[0] if args else INDEX_SERVER
    user, password = v.username.strip(), v.password
    if v.password:
        cli.err.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
        if v.password_stdin:
            raise CliError("--password and --password-stdin are mutually exclusive")
    if v.password_stdin:
        if not user:
            raise CliError("Must provide --username with --password-stdin")
        data = cli.stdin.read()
        password = data.rstrip("\n").rstrip("\r") if isinstance(data, str) else data.decode().rstrip("\r\n")
    if not user or not password:
        from .terminal import is_terminal

        if not is_terminal(cli.stdin):
            raise CliError("Error: Cannot perform an interactive login from a non TTY device")
        if not user:
            cli.out.write("Username: ")
            cli.out.flush()
            user = cli.stdin.readline().strip()
            if not user:
                raise CliError("Error: Non-null Username Required")
        if not password:
            import getpass

            password = getpass.getpass("Password: ")
            if not password:
                raise CliError("Error: Password Required")
    key = server
    host = _server_host(server)
    if host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        key = INDEX_SERVER
    body = {"username": user, "password": password, "serveraddress": key}
    resp = cli.client().request("POST", "/auth", json_body=body)
    answer = resp.json() or {}
    path = os.path.join(_config_dir(cli), "config.json")
    doc = _read_config(path)
    entry: dict = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    if answer.get("IdentityToken"):
        entry = {"auth": base64.b64encode(f"{user}:".encode()).decode(), "identitytoken": answer["IdentityToken"]}
    doc.setdefault("auths", {})[key] = entry
    _write_config(path, doc)
    cli.err.write(f"WARNING! Your credentials are stored unencrypted in '{path}'.\n"
                  "Configure a credential helper to remove this warning. See\n"
                  "https://docs.docker.com/go/credential-store/\n\n")
    cli.out.write((answer.get("Status") or "Login Succeeded") + "\n")
    return 0


def login_command() -> Command:
    return Command("login", "[OPTIONS] [SERVER]",
                   "Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.",
                   _login, _login_flags, ("max", 1))


def _logout(cli: Cli, v: Values, args: list[str]) -> int:
    server = args[0] if args else INDEX_SERVER
    host = _server_host(server)
    keys = {server, host}
    if host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        keys = {INDEX_SERVER, "docker.io", "index.docker.io"}
    path = os.path.join(_config_dir(cli), "config.json")
    doc = _read_config(path)
    auths = doc.get("auths") or {}
    found = [k for k in auths if k in keys or _server_host(k) in keys]
    shown = INDEX_SERVER if INDEX_SERVER in keys else server
    if not found:
        cli.out.write(f"Not logged in to {shown}\n")
        return 0
    cli.out.write(f"Removing login credentials for {shown}\n")
    for k in found:
        auths.pop(k, None)
    _write_config(path, doc)
    return 0


def logout_command() -> Command:
    return Command("logout", "[SERVER]",
                   "Log out from a registry.\nIf no server is specified, the default is defined by the daemon.",
                   _logout, None, ("max", 1))


# ---------------------------------------------------------------- save / load
def _save_flags(fs: FlagSet) -> None:
    fs.string("output", "o", "Write to a file, instead of STDOUT")
    fs.string("platform", "", 'Save only the given platform variant. Formatted as "os[/arch[/variant]]" '
              '(e.g., "linux/amd64")')


def _save(cli: Cli, v: Values, args: list[str]) -> int:
    from .terminal import is_terminal

    if v.platform:
        raise CliError("--platform is not supported by berthd: images are single-platform")
    if not v.output and is_terminal(cli.out):
        raise CliError("Cowardly refusing to save to a terminal. Use the -o flag or redirect")
    if v.output:
        target = os.path.abspath(v.output)
        parent = os.path.dirname(target)
        if not os.path.isdir(parent):
            raise CliError(f'failed to save image: invalid output path: directory "{parent}" does not exist')
        if os.path.isdir(target):
            raise CliError(f'failed to save image: invalid output path: "{v.output}" is a directory')
    resp = cli.client().request("GET", "/images/get", {"names": list(args)})
    if v.output:
        tmp = os.path.join(os.path.dirname(target), f".berth_temp_{os.getpid()}")
        try:
            with open(tmp, "wb") as f:
                f.writelines(resp.iter_raw())
            os.rename(tmp, target)
        except OSError as exc:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise CliError(f"failed to save image: {exc.strerror or exc}") from None
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return 0
    out = getattr(cli.out, "buffer", None) or sys.stdout.buffer
    for chunk in resp.iter_raw():
        out.write(chunk)
    out.flush()
    return 0


def save_command() -> Command:
    return Command("save", "[OPTIONS] IMAGE [IMAGE...]",
                   "Save one or more images to a tar archive (streamed to STDOUT by default)",
                   _save, _save_flags, ("min", 1), aliases="image save, save")


def _load_flags(fs: FlagSet) -> None:
    fs.string("input", "i", "Read from tar archive file, instead of STDIN")
    fs.string("platform", "", 'Load only the given platform variant. Formatted as "os[/arch[/variant]]" '
              '(e.g., "linux/amd64")')
    fs.bool("quiet", "q", "Suppress the load output")


def _chunks(f: Any) -> Iterator[bytes]:
    while True:
        data = f.read(CHUNK)
        if not data:
            return
        yield data


def _load(cli: Cli, v: Values, args: list[str]) -> int:
    from .terminal import is_terminal

    if v.platform:
        raise CliError("--platform is not supported by berthd: images are single-platform")
    opened = None
    if v.input:
        try:
            opened = open(v.input, "rb")
        except OSError as exc:
            raise CliError(f"open {v.input}: {(exc.strerror or str(exc)).lower()}") from None
        source = opened
    else:
        if is_terminal(cli.stdin):
            raise CliError("requested load from stdin, but stdin is empty")
        source = getattr(cli.stdin, "buffer", cli.stdin)
    try:
        quiet = v.quiet or not is_terminal(cli.out)
        resp = cli.client().request("POST", "/images/load", {"quiet": "1" if quiet else None},
                                    body=_chunks(source), headers=[("Content-Type", "application/x-tar")])
        _display(cli, resp)
    finally:
        if opened is not None:
            opened.close()
    return 0


def load_command() -> Command:
    return Command("load", "[OPTIONS]", "Load an image from a tar archive or STDIN",
                   _load, _load_flags, ("none",), aliases="image load, load")
