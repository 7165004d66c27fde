"""`compose config`, `compose version`, `compose ls`."""

from __future__ import annotations

import json
from typing import Any

from ...cli.flags import FlagSet, Values
from ..errors import ComposeError
from .context import ComposeContext


def flags_config(fs: FlagSet) -> None:
    fs.string("format", "", 'Format the output. Values: [yaml | json]', default="yaml")
    fs.string("hash", "", "Print the service config hash, one per line.")
    fs.bool("images", "", "Print the image names, one per line.")
    fs.bool("no-consistency", "", "Don't check model consistency - warning: may produce invalid Compose output")
    fs.bool("no-interpolate", "", "Don't interpolate environment variables")
    fs.bool("no-normalize", "", "Don't normalize compose model")
    fs.bool("no-path-resolution", "", "Don't resolve file paths")
    fs.string("output", "o", "Save to file (default to stdout)")
    fs.bool("profiles", "", "Print the profile names, one per line.")
    fs.bool("quiet", "q", "Only validate the configuration, don't print anything")
    fs.bool("services", "", "Print the service names, one per line.")
    fs.bool("variables", "", "Print model variables and default values.")
    fs.bool("volumes", "", "Print the volume names, one per line.")
    fs.bool("networks", "", "Print the network names, one per line.")
    fs.bool("environment", "", "Print environment used for interpolation.")


def to_yaml(data: Any) -> str:
    """YAML like docker compose prints it: sequences indented under their key, strings
    that would read as another type double-quoted."""
    import yaml

    from ..loader.yamlfile import ComposeYAMLLoader

    class Dumper(yaml.SafeDumper):
        def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
            return super().increase_indent(flow, False)

    def str_repr(dumper: Any, value: str) -> Any:
        if "\n" in value:
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
        resolved = ComposeYAMLLoader.resolve(ComposeYAMLLoader, yaml.ScalarNode, value, (True, False))
        style = '"' if resolved != "tag:yaml.org,2002:str" or value == "" else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, str_repr)
    Dumper.ignore_aliases = lambda self, data: True  # type: ignore[method-assign]
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     indent=2, width=1 << 30)


def _variables(project_files: list[str]) -> list[tuple[str, bool, str, str]]:
    """(name, required, default, alternate) of every ${...} in the files, as `config --variables`."""
    import re

    rx = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
    found: dict[str, tuple[bool, str, str]] = {}
    for path in project_files:
        if path == "-":
            continue
        with open(path, encoding="utf-8") as fh:
            text = fh.read().replace("$$", "")
        for m in rx.finditer(text):
            name = m.group(1) or m.group(4)
            op, arg = m.group(2) or "", m.group(3) or ""
            req, default, alt = found.get(name, (False, "", ""))
            if op.endswith("?"):
                req = True
            elif op.endswith("-"):
                default = arg
            elif op.endswith("+"):
                alt = arg
            found[name] = (req, default, alt)
    return [(n, *found[n]) for n in sorted(found)]


def run_config(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    for flag in ("no-normalize", "no-path-resolution", "no-consistency"):
        if v.was_set(flag):
            raise ComposeError(f"--{flag} is not supported by berth compose config")
    out = ctx.cli.out
    if v.variables:  # the templates themselves: nothing is interpolated or checked
        from ..loader.project import resolve_files
        from .table import write_table

        rows = _variables(resolve_files(ctx.options())[0])
        if v.format == "json":
            out.write(json.dumps({n: {"Name": n, "DefaultValue": d, "AlternateValue": a, "Required": r}
                                  for n, r, d, a in rows}, indent=2) + "\n")
        else:
            write_table(out, ["NAME", "REQUIRED", "DEFAULT VALUE", "ALTERNATE VALUE"],
                        [[n, str(r).lower(), d, a] for n, r, d, a in rows])
        return 0
    project = ctx.project(services=args, interpolate=not v.no_interpolate)
    if v.quiet:
        return 0
    if v.services:
        for n in project.services:
            out.write(n + "\n")
        return 0
    if v.volumes:
        for n in project.volumes:
            out.write(n + "\n")
        return 0
    if v.networks:
        for n in project.networks:
            out.write(n + "\n")
        return 0
    if v.profiles:
        seen = []
        for s in list(project.services.values()) + list(project.disabled.values()):
            for p in s.profiles:
                if p not in seen:
                    seen.append(p)
        for p in sorted(seen):
            out.write(p + "\n")
        return 0
    if v.images:
        for s in project.services.values():
            out.write(s.image + "\n")
        return 0
    if v.environment:
        for k, val in sorted(project.environment.items()):
            out.write(f"{k}={val}\n")
        return 0
    if v.hash:
        from ..create_body import config_hash

        names = list(project.services) if v.hash == "*" else v.hash.split(",")
        for n in names:
            out.write(f"{n} {config_hash(project.service(n))}\n")
        return 0
    data = project.to_dict()
    for kind in ("services", "networks", "volumes", "secrets", "configs"):
        if kind in data:
            data[kind] = dict(sorted(data[kind].items()))
    if args:
        data["services"] = {n: s for n, s in data["services"].items() if n in args}
    if v.format == "json":
        text = json.dumps(data, indent=2) + "\n"
    elif v.format == "yaml":
        text = to_yaml(data)
    else:
        raise ComposeError(f"unsupported format {v.format!r}")
    if not v.no_interpolate:
        text = text.replace("$", "$$")  # as compose: the output loads back to the same model
    if v.output:
        with open(v.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        out.write(text)
    return 0


def flags_version(fs: FlagSet) -> None:
    fs.string("format", "f", 'Format the output. Values: [pretty | json]. (Default: pretty)')
    fs.bool("short", "", "Shows only Compose's version number")


def run_version(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    from ..engine import COMPOSE_VERSION

    if v.short:
        ctx.cli.out.write(f"{COMPOSE_VERSION}\n")
    elif v.format == "json":
        ctx.cli.out.write(json.dumps({"version": f"v{COMPOSE_VERSION}"}) + "\n")
    else:
        ctx.cli.out.write(f"Docker Compose version v{COMPOSE_VERSION} (berth)\n")
    return 0


def flags_ls(fs: FlagSet) -> None:
    fs.bool("all", "a", "Show all stopped Compose projects")
    fs.list("filter", "", "Filter output based on conditions provided", kind="filter")
    fs.string("format", "", 'Format the output. Values: [table | json]', default="table")
    fs.bool("quiet", "q", "Only display project names")


def run_ls(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    from ..engine import CONFIG_FILES, PROJECT

    engine = ctx.engine()
    rows = engine.call("GET", "/containers/json", {"all": "1", "filters": json.dumps({"label": [PROJECT]})}) or []
    projects: dict[str, dict] = {}
    for c in rows:
        labels = c.get("Labels") or {}
        p = projects.setdefault(labels[PROJECT], {"states": {}, "files": labels.get(CONFIG_FILES, "")})
        p["states"][c.get("State", "")] = p["states"].get(c.get("State", ""), 0) + 1
    wanted_name = None
    for f in v.filter or []:
        key, _, val = f.partition("=")
        if key != "name":
            raise ComposeError(f"invalid filter '{key}'")
        wanted_name = val
    out_rows = []
    for name in sorted(projects):
        p = projects[name]
        if not v.all and "running" not in p["states"]:
            continue
        if wanted_name and wanted_name not in name:
            continue
        status = ", ".join(f"{s}({n})" for s, n in sorted(p["states"].items()))
        out_rows.append({"Name": name, "Status": status, "ConfigFiles": p["files"]})
    out = ctx.cli.out
    if v.quiet:
        for r in out_rows:
            out.write(r["Name"] + "\n")
    elif v.format == "json":
        out.write(json.dumps(out_rows) + "\n")
    else:
        from .table import write_table

        write_table(out, ["NAME", "STATUS", "CONFIG FILES"],
                    [[r["Name"], r["Status"], r["ConfigFiles"]] for r in out_rows])
    return 0
