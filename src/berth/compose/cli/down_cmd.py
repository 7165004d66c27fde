"""`compose down`: containers in reverse dependency order, then networks, then (with -v)
volumes, then (with --rmi) images. Works from labels alone when only `-p` is given."""

from __future__ import annotations

import threading
from typing import Any

from ...cli.command import APIError
from ...cli.flags import FlagSet, Values
from .. import engine as L
from ..errors import ComposeError
from .context import ComposeContext


def flags_down(fs: FlagSet) -> None:
    fs.bool("remove-orphans", "", "Remove containers for services not defined in the Compose file")
    fs.string("rmi", "", 'Remove images used by services. "local" remove only images that don\'t have a custom tag ("local"|"all")')
    fs.int("timeout", "t", "Specify a shutdown timeout in seconds")
    fs.bool("volumes", "v", "Remove named volumes declared in the \"volumes\" section of the Compose file and anonymous volumes attached to containers")


def _name(c: dict) -> str:
    return (c.get("Names") or ["/"])[0].lstrip("/")


def _levels_reverse(project: Any, containers: list[dict]) -> list[list[dict]]:
    """Dependents before their dependencies; unknown services (orphans) first."""
    by_service: dict[str, list[dict]] = {}
    for c in containers:
        by_service.setdefault((c.get("Labels") or {}).get(L.SERVICE, ""), []).append(c)
    if project is None:
        return [containers] if containers else []
    known = [s for s in project.services if s in by_service]
    levels = list(project.dependency_levels(list(project.services)))
    out = [[c for s, cs in by_service.items() if s not in project.services for c in cs]]
    for level in reversed(levels):
        out.append([c for s in level if s in known for c in by_service[s]])
    return [lvl for lvl in out if lvl]


def stop_remove(ctx: ComposeContext, containers: list[dict], project: Any, timeout: int | None,
                remove: bool = True, volumes: bool = False) -> None:
    engine = ctx.engine()
    ev = ctx.progress().event
    errors: list[BaseException] = []

    def one(c: dict) -> None:
        name = _name(c)
        try:
            if c.get("State") in ("running", "paused", "restarting"):
                ev("Container", name, "Stopping")
                if not ctx.dry_run:
                    try:
                        engine.stop(c["Id"], timeout)
                    except APIError:
                        if not remove:
                            raise  # a forced removal below still ends the container
                ev("Container", name, "Stopped")
            if remove:
                ev("Container", name, "Removing")
                if not ctx.dry_run:
                    engine.remove(c["Id"], volumes=volumes, force=True)
                ev("Container", name, "Removed")
        except APIError as exc:
            if not exc.not_found:
                errors.append(exc)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    for level in _levels_reverse(project, containers):
        threads = [threading.Thread(target=one, args=(c,)) for c in level]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            exc = errors[0]
            if isinstance(exc, APIError):
                raise ComposeError(f"Error response from daemon: {exc.detail}")
            raise exc


def run_down(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    if v.rmi and v.rmi not in ("local", "all"):
        raise ComposeError(f'invalid value for --rmi: "{v.rmi}"')
    project = None
    try:
        project = ctx.project(services=args)
        name = project.name
    except ComposeError:
        if not ctx.g.get("project_name") or ctx.g.get("file"):
            raise
        from ..loader.project import check_project_name

        name = check_project_name(ctx.g.project_name)
    engine = ctx.engine()
    progress = ctx.progress()
    timeout = v.timeout if v.was_set("timeout") else None
    containers = engine.containers(name, all=True)
    if args:
        containers = [c for c in containers if (c.get("Labels") or {}).get(L.SERVICE) in args]
    known = set(project.services) | set(project.disabled) if project else None
    if known is not None and not v.remove_orphans:
        orphans = [c for c in containers if (c.get("Labels") or {}).get(L.SERVICE) not in known
                   and (c.get("Labels") or {}).get(L.ONEOFF) != "True"]
        if orphans:
            ctx.cli.err.write(f"WARN[0000] Found orphan containers ([{', '.join(_name(c) for c in orphans)}]) for "
                              "this project. If you removed or renamed this service in your compose file, you can "
                              "run this command with the --remove-orphans flag to clean it up.\n")
            containers = [c for c in containers if c not in orphans]
    images = {c.get("Image") for c in containers}
    stop_remove(ctx, containers, project, timeout, remove=True, volumes=v.volumes)
    if args:
        progress.summary()
        return 0
    for net in engine.networks({"label": [f"{L.PROJECT}={name}"]}):
        if project is not None and any(n.name == net["Name"] and n.external for n in project.networks.values()):
            continue
        progress.event("Network", net["Name"], "Removing")
        if not ctx.dry_run:
            try:
                engine.call("DELETE", f"/networks/{net['Id']}")
            except APIError as exc:
                if not exc.not_found:
                    ctx.cli.err.write(f"Error response from daemon: {exc.detail}\n")
                    continue
        progress.event("Network", net["Name"], "Removed")
    if v.volumes:
        for vol in engine.volumes({"label": [f"{L.PROJECT}={name}"]}):
            progress.event("Volume", vol["Name"], "Removing")
            if not ctx.dry_run:
                try:
                    engine.call("DELETE", f"/volumes/{vol['Name']}")
                except APIError as exc:
                    if not exc.not_found:
                        raise ComposeError(f"Error response from daemon: {exc.detail}") from None
            progress.event("Volume", vol["Name"], "Removed")
    if v.rmi:
        wanted = set()
        if project is not None:
            for s in project.services.values():
                if v.rmi == "all" or (s.build and "image" not in _explicit_image(s)):
                    wanted.add(s.image)
        else:
            wanted = {i for i in images if i}
        for ref in sorted(wanted):
            progress.event("Image", ref, "Removing")
            if not ctx.dry_run:
                try:
                    engine.call("DELETE", f"/images/{ref}")
                except APIError as exc:
                    if not exc.not_found:
                        ctx.cli.err.write(f"Error response from daemon: {exc.detail}\n")
                        continue
            progress.event("Image", ref, "Removed")
    progress.summary()
    return 0


def _explicit_image(svc: Any) -> dict:
    """`rmi local` keeps images whose name the user chose; compose's default name is project-service."""
    return {"image": True} if not svc.image.endswith(f"-{svc.name}") else {}
