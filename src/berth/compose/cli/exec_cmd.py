"""`compose exec`, `compose run`, `compose cp`: resolve the service's container, then use
the berth CLI's own exec/start/cp code in-process (never a subprocess)."""

from __future__ import annotations

import secrets

from ...cli.command import execute
from ...cli.flags import FlagSet, Values
from .. import engine as L
from ..errors import ComposeError
from .context import ComposeContext


def _container(ctx: ComposeContext, service: str, index: int = 0, running: bool = True) -> str:
    project = ctx.project(services=[service])
    if service not in project.services:
        raise ComposeError(f"no such service: {service}")
    rows = [c for c in ctx.engine().containers(project.name, all=not running)
            if (c.get("Labels") or {}).get(L.SERVICE) == service
            and (c.get("Labels") or {}).get(L.ONEOFF) != "True"]
    if index:
        rows = [c for c in rows if (c.get("Labels") or {}).get(L.NUMBER) == str(index)]
    if not rows:
        if running:
            raise ComposeError(f'service "{service}" is not running')
        raise ComposeError(f'no container found for service "{service}"')
    rows.sort(key=lambda c: int((c.get("Labels") or {}).get(L.NUMBER, "0") or 0))
    return (rows[0].get("Names") or ["/"])[0].lstrip("/")


def _stdin_tty(ctx: ComposeContext) -> bool:
    try:
        return ctx.cli.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def flags_exec(fs: FlagSet) -> None:
    fs.bool("detach", "d", "Detached mode: Run command in the background")
    fs.list("env", "e", "Set environment variables", kind="stringArray")
    fs.int("index", "", "Index of the container if service has multiple replicas")
    fs.bool("interactive", "i", "Keep STDIN open even if not attached", default=True, hidden=True)
    fs.bool("no-TTY", "T", "Disable pseudo-TTY allocation. By default `docker compose exec` allocates a TTY.")
    fs.bool("privileged", "", "Give extended privileges to the process")
    fs.bool("tty", "t", "Allocate a pseudo-TTY", default=True, hidden=True)
    fs.string("user", "u", "Run the command as this user")
    fs.string("workdir", "w", "Path to workdir directory for this command")


def run_exec(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    if len(args) < 2:
        raise ComposeError('"berth compose exec" requires at least 2 arguments.')
    name = _container(ctx, args[0], v.index)
    argv: list[str] = []
    if v.detach:
        argv.append("-d")
    elif v.interactive:
        argv.append("-i")
    if not v.no_TTY and v.tty and not v.detach and _stdin_tty(ctx):
        argv.append("-t")
    for e in v.env or []:
        argv += ["-e", e]
    if v.user:
        argv += ["-u", v.user]
    if v.workdir:
        argv += ["-w", v.workdir]
    if v.privileged:
        argv.append("--privileged")
    from ...cli.cmd_exec import exec_command

    return execute(ctx.cli, exec_command(), "berth exec", argv + [name] + args[1:])


def flags_run(fs: FlagSet) -> None:
    fs.bool("build", "", "Build image before starting container")
    fs.list("cap-add", "", "Add Linux capabilities", kind="list")
    fs.list("cap-drop", "", "Drop Linux capabilities", kind="list")
    fs.bool("detach", "d", "Run container in background and print container ID")
    fs.string("entrypoint", "", "Override the entrypoint of the image")
    fs.list("env", "e", "Set environment variables", kind="stringArray")
    fs.bool("interactive", "i", "Keep STDIN open even if not attached", default=True)
    fs.list("label", "l", "Add or override a label", kind="stringArray")
    fs.string("name", "", "Assign a name to the container")
    fs.bool("no-TTY", "T", "Disable pseudo-TTY allocation (default: auto-detected)")
    fs.bool("no-deps", "", "Don't start linked services")
    fs.list("publish", "p", "Publish a container's port(s) to the host", kind="stringArray")
    fs.bool("quiet-pull", "", "Pull without printing progress information")
    fs.bool("remove-orphans", "", "Remove containers for services not defined in the Compose file")
    fs.bool("rm", "", "Automatically remove the container when it exits")
    fs.bool("service-ports", "", "Run command with all service's ports enabled and mapped to the host")
    fs.bool("tty", "t", "Allocate a pseudo-TTY", default=True, hidden=True)
    fs.bool("use-aliases", "", "Use the service's network useAliases in the network(s) the container connects to")
    fs.string("user", "u", "Run as specified username or uid")
    fs.list("volume", "v", "Bind mount a volume", kind="stringArray")
    fs.string("workdir", "w", "Working directory inside the container")


def run_run(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    import asyncio
    import copy

    from ..convergence import Converger, UpOptions
    from ..create_body import config_hash, create_body
    from ..loader.shortsyntax import parse_port, parse_volume
    from ..model import Service

    if not args:
        raise ComposeError('"berth compose run" requires at least 1 argument.')
    project = ctx.project(services=args[:1])
    name = args[0]
    if name not in project.services:
        raise ComposeError(f"no such service: {name}")
    progress = ctx.progress()
    engine = ctx.engine()
    conv = Converger(project, engine, progress)
    if v.remove_orphans:
        for c in conv.orphans():
            engine.remove(c["Id"], force=True)
    deps = [] if v.no_deps else [d for d in project.with_dependencies([name]) if d != name]
    conv.ensure_networks([name] + deps)
    conv.ensure_volumes([name] + deps)
    if deps:
        opts = UpOptions(build="always" if v.build else "auto")
        actions = conv.plan(deps, opts)
        asyncio.run(conv.converge(deps, actions, opts))
    svc = project.services[name]
    cfg = copy.deepcopy(svc.config)
    if not v.service_ports:
        cfg.pop("ports", None)
    for p in v.publish or []:
        cfg.setdefault("ports", []).extend(parse_port(p, "--publish"))
    for vol in v.volume or []:
        cfg.setdefault("volumes", []).append(parse_volume(vol, "--volume"))
    env = dict(cfg.get("environment") or {})
    for e in v.env or []:
        k, eq, val = e.partition("=")
        env[k] = val if eq else __import__("os").environ.get(k)
    if env:
        cfg["environment"] = env
    labels = dict(cfg.get("labels") or {})
    for item in v.label or []:
        k, _, val = item.partition("=")
        labels[k] = val
    if labels:
        cfg["labels"] = labels
    if v.entrypoint:
        import shlex

        cfg["entrypoint"] = shlex.split(v.entrypoint)
    if v.user:
        cfg["user"] = v.user
    if v.workdir:
        cfg["working_dir"] = v.workdir
    if v.cap_add:
        cfg["cap_add"] = list(cfg.get("cap_add") or []) + v.cap_add
    if v.cap_drop:
        cfg["cap_drop"] = list(cfg.get("cap_drop") or []) + v.cap_drop
    tty = not v.no_TTY and not v.detach and _stdin_tty(ctx)
    cfg["tty"] = tty
    cfg["stdin_open"] = bool(v.interactive) and not v.detach
    cfg.pop("container_name", None)
    cfg["restart"] = "no"
    one = Service(name, cfg)
    conv.quiet_pull = bool(v.quiet_pull)
    image_id = conv.image_id(svc, "always" if v.build else "auto")
    cname = v.name or f"{project.name}-{name}-run-{secrets.token_hex(6)}"
    body = create_body(project, one, 1, image_id, config_hash(one), oneoff=True,
                       command=args[1:] or None)
    if cfg["stdin_open"]:
        # as `docker run -i`: the client's end of input closes the process's stdin
        # instead of ending the attach (and losing the output that follows)
        body.update(AttachStdin=True, AttachStdout=True, AttachStderr=True, StdinOnce=True)
    body["Labels"][L.ONEOFF] = "True"
    body["Labels"].pop(L.NUMBER, None)
    if v.rm:
        body["HostConfig"]["AutoRemove"] = False  # removed by us after the exit code is read
    if not v.use_aliases:  # a one-off answers to its own name only, unless --use-aliases
        for ep in (body.get("NetworkingConfig") or {}).get("EndpointsConfig", {}).values():
            ep.pop("Aliases", None)
    cid = engine.create(cname, body, cfg.get("platform", ""))
    conv._connect_extra_networks(one, cid, cname, aliases=v.use_aliases)
    conv.inject_files(one, cid)
    if v.detach:
        engine.start(cid)
        ctx.cli.out.write(cname + "\n")
        return 0
    from ...cli.cmd_container import start_command
    from ...cli.command import CliError

    argv = ["-a"] + (["-i"] if cfg["stdin_open"] else []) + [cid]
    status = 0
    try:
        status = execute(ctx.cli, start_command(), "berth start", argv)
        info = engine.inspect(cid)
        status = int((info.get("State") or {}).get("ExitCode", status) or 0)
    except CliError as exc:
        status = exc.status
        if exc.message:
            ctx.cli.err.write(exc.message.rstrip("\n") + "\n")
    finally:
        if v.rm:
            try:
                engine.remove(cid, force=True)
            except Exception:  # noqa: BLE001
                pass
    return status


def flags_cp(fs: FlagSet) -> None:
    fs.bool("all", "", "Include containers created by the run command", hidden=True)
    fs.bool("archive", "a", "Archive mode (copy all uid/gid information)")
    fs.bool("follow-link", "L", "Always follow symbol link in SRC_PATH")
    fs.int("index", "", "Index of the container if service has multiple replicas")


def run_cp(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    if len(args) != 2:
        raise ComposeError('"berth compose cp" requires exactly 2 arguments.')
    out_args = []
    for a in args:
        service, sep, path = a.partition(":")
        if sep and not a.startswith("/") and not a.startswith("."):
            out_args.append(f"{_container(ctx, service, v.index, running=False)}:{path}")
        else:
            out_args.append(a)
    from ...cli.cmd_cp import cp_command

    flags = (["-a"] if v.archive else []) + (["-L"] if v.follow_link else [])
    return execute(ctx.cli, cp_command(), "berth cp", flags + out_args)




def flags_attach(fs: FlagSet) -> None:
    fs.string("detach-keys", "", "Override the key sequence for detaching from a container.")
    fs.int("index", "", "index of the container if service has multiple replicas.")
    fs.bool("no-stdin", "", "Do not attach STDIN")
    fs.bool("sig-proxy", "", "Proxy all received signals to the process", default=True)


def run_attach(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    if len(args) != 1:
        raise ComposeError('"berth compose attach" requires exactly 1 argument.')
    from ...cli.cmd_attach import attach_command

    argv = (["--no-stdin"] if v.no_stdin else []) + ([f"--detach-keys={v.detach_keys}"] if v.detach_keys else [])
    argv += [f"--sig-proxy={'true' if v.sig_proxy else 'false'}", _container(ctx, args[0], v.index)]
    return execute(ctx.cli, attach_command(), "berth attach", argv)


def flags_stats(fs: FlagSet) -> None:
    fs.bool("all", "a", "Show all containers (default shows just running)")
    fs.string("format", "", "Format output using a custom template")
    fs.bool("no-stream", "", "Disable streaming stats and only pull the first result")
    fs.bool("no-trunc", "", "Do not truncate output")


def run_stats(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    project = ctx.project(services=args)
    ctx.services(args)
    names = [(c.get("Names") or ["/"])[0].lstrip("/") for c in ctx.engine().containers(project.name, all=v.all)
             if not args or (c.get("Labels") or {}).get(L.SERVICE) in args]
    if not names:
        return 0
    from ...cli.cmd_stats import stats_command

    argv = (["-a"] if v.all else []) + (["--no-stream"] if v.no_stream else []) + \
        (["--no-trunc"] if v.no_trunc else []) + (["--format", v.format] if v.format else [])
    return execute(ctx.cli, stats_command(), "berth stats", argv + names)


def flags_commit(fs: FlagSet) -> None:
    fs.string("author", "a", 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    fs.list("change", "c", "Apply Dockerfile instruction to the created image", kind="list")
    fs.int("index", "", "index of the container if service has multiple replicas.")
    fs.string("message", "m", "Commit message")
    fs.bool("pause", "p", "Pause container during commit", default=True)


def run_commit(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    if not 1 <= len(args) <= 2:
        raise ComposeError('"berth compose commit" requires 1 or 2 arguments.')
    from ...cli.cmd_commit import commit_command

    argv = ([f"--author={v.author}"] if v.author else []) + ([f"--message={v.message}"] if v.message else [])
    argv += [f"--change={c}" for c in v.change or []] + [f"--pause={'true' if v.pause else 'false'}"]
    return execute(ctx.cli, commit_command(), "berth commit",
                   argv + [_container(ctx, args[0], v.index, running=False)] + args[1:])


def flags_export(fs: FlagSet) -> None:
    fs.int("index", "", "index of the container if service has multiple replicas.")
    fs.string("output", "o", "Write to a file, instead of STDOUT")


def run_export(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    if len(args) != 1:
        raise ComposeError('"berth compose export" requires exactly 1 argument.')
    from ...cli.cmd_commit import export_command

    argv = ([f"--output={v.output}"] if v.output else []) + [_container(ctx, args[0], v.index, running=False)]
    return execute(ctx.cli, export_command(), "berth export", argv)
