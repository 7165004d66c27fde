"""`compose build`, `compose pull`, `compose push`."""

from __future__ import annotations

from ...cli.command import execute
from ...cli.flags import FlagSet, Values
from ..errors import ComposeError
from .context import ComposeContext


def flags_build(fs: FlagSet) -> None:
    fs.list("build-arg", "", "Set build-time variables for services", kind="stringArray")
    fs.string("builder", "", "Set builder to use")
    fs.string("memory", "m", "Set memory limit for the build container. Not supported by BuildKit.")
    fs.bool("no-cache", "", "Do not use cache when building the image")
    fs.bool("pull", "", "Always attempt to pull a newer version of the image")
    fs.bool("push", "", "Push service images")
    fs.bool("quiet", "q", "Don't print anything to STDOUT")
    fs.string("ssh", "", "Set SSH authentications used when building service images.")
    fs.bool("with-dependencies", "", "Also build dependencies (transitively)")


def run_build(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    from ..build import build_service

    if v.ssh:
        raise ComposeError("--ssh is not supported by berth compose")
    if v.builder:
        raise ComposeError("--builder: berth builds with the daemon's own builder; there are no others to choose")
    memory = 0
    if v.memory:
        from ..loader.shortsyntax import size_bytes

        memory = size_bytes(v.memory, "--memory")
    project = ctx.project(services=args)
    ctx.services(args)
    names = project.with_dependencies(args, True) if (args and v.with_dependencies) else (args or list(project.services))
    extra = {}
    for item in v.build_arg or []:
        k, eq, val = item.partition("=")
        extra[k] = val if eq else project.environment.get(k)
    progress = ctx.progress()
    if v.quiet:
        progress.mode = "quiet"
    built = []
    for n in names:
        svc = project.services[n]
        if not svc.build:
            continue
        if ctx.dry_run:
            progress.event("Service", n, "Building")
            continue
        build_service(project, svc, ctx.engine(), progress, no_cache=v.no_cache, pull=v.pull,
                      extra_args=extra, quiet=v.quiet, memory=memory)
        built.append(svc.image)
    if v.push:
        _push(ctx, built, quiet=v.quiet)
    return 0


def _push(ctx: ComposeContext, images: list[str], quiet: bool, ignore: bool = False) -> None:
    from ...cli.cmd_distribution import push_command
    from ...cli.command import CliError

    for ref in images:
        ctx.progress().event("Image", ref, "Pushing")
        try:
            status = execute(ctx.cli, push_command(), "berth push", ["-q", ref] if quiet else [ref])
        except CliError as exc:
            status = exc.status or 1
            if exc.message:
                ctx.cli.err.write(exc.message.rstrip() + "\n")
        if status:
            if ignore:
                continue
            raise ComposeError(f"failed to push {ref}", status=status)
        ctx.progress().event("Image", ref, "Pushed")


def flags_push(fs: FlagSet) -> None:
    fs.bool("ignore-push-failures", "", "Push what it can and ignores images with push failures")
    fs.bool("include-deps", "", "Also push images of services declared as dependencies")
    fs.bool("quiet", "q", "Push without printing progress information")


def run_push(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    project = ctx.project(services=args)
    ctx.services(args)
    names = project.with_dependencies(args, True) if (args and v.include_deps) else (args or list(project.services))
    images = [project.services[n].image for n in names if project.services[n].build or project.services[n].image]
    images = [i for n, i in zip(names, images) if project.services[n].build]
    if ctx.dry_run:
        for i in images:
            ctx.progress().event("Image", i, "Pushing")
        return 0
    _push(ctx, images, v.quiet, v.ignore_push_failures)
    return 0


def flags_pull(fs: FlagSet) -> None:
    fs.bool("ignore-buildable", "", "Ignore images that can be built")
    fs.bool("ignore-pull-failures", "", "Pull what it can and ignores images with pull failures")
    fs.bool("include-deps", "", "Also pull services declared as dependencies")
    fs.string("policy", "", 'Apply pull policy ("missing"|"always")')
    fs.bool("quiet", "q", "Pull without printing progress information")


def run_pull(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    from ..build import pull_image

    project = ctx.project(services=args)
    ctx.services(args)
    names = project.with_dependencies(args, True) if (args and v.include_deps) else (args or list(project.services))
    progress = ctx.progress()
    if v.quiet:
        progress.mode = "quiet"
    failed = None
    for n in names:
        svc = project.services[n]
        if svc.build and (v.ignore_buildable or svc.config.get("pull_policy") == "build"):
            continue
        if v.policy == "missing" and ctx.engine().image(svc.image):
            continue
        if ctx.dry_run:
            progress.event("Image", svc.image, "Pulling")
            continue
        try:
            pull_image(svc.image, ctx.engine(), progress)
        except ComposeError as exc:
            if svc.build:
                ctx.cli.err.write(f"WARN[0000] {exc.message}\n")
                continue
            if v.ignore_pull_failures:
                ctx.cli.err.write(f"WARN[0000] {exc.message}\n")
                continue
            failed = exc
            break
    if failed:
        raise failed
    return 0
