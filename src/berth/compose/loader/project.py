"""From command-line options to a normalised `Project`, in docker compose v2's order:
find the files, read `.env`, load and merge the files, name the project, apply profiles,
normalise and check."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ..errors import ComposeError
from ..model import Config, Network, Project, Secret, Service, Volume
from .dotenv import read_dotenv
from .files import LoadContext, load_file
from .merge import merge_documents, strip_markers
from .normalize import check_cycles, check_references, normalize_resource, normalize_service

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_FILES = ("compose.override.yml", "compose.override.yaml", "docker-compose.override.yml",
                  "docker-compose.override.yaml")
_NAME_OK = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass
class ProjectOptions:
    files: list[str] = field(default_factory=list)
    project_name: str = ""
    project_directory: str = ""
    env_files: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)  # named on the command line
    environ: dict[str, str] | None = None
    cwd: str = ""
    interpolate: bool = True
    stdin_text: str | None = None


def normalize_project_name(name: str) -> str:
    """compose v2's loader.NormalizeProjectName: lowercase, keep [a-z0-9_-], start alnum."""
    name = re.sub(r"[^a-z0-9_-]", "", name.lower())
    return name.lstrip("_-")


def check_project_name(name: str) -> str:
    if not _NAME_OK.match(name):
        raise ComposeError(
            f'invalid project name "{name}": must consist only of lowercase alphanumeric characters, '
            "hyphens, and underscores as well as start with a letter or number")
    return name


def find_default_file(start: str) -> str:
    """Walk up from `start` to the first directory holding one of the default names."""
    d = os.path.abspath(start)
    while True:
        found = [n for n in DEFAULT_FILES if os.path.isfile(os.path.join(d, n))]
        if found:
            if len(found) > 1:
                pass  # compose warns and takes the first (compose.yaml)
            return os.path.join(d, found[0])
        parent = os.path.dirname(d)
        if parent == d:
            raise ComposeError("no configuration file provided: not found")
        d = parent


def _read_env_files(paths: list[str], environ: dict[str, str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for p in paths:
        if os.path.isdir(p):
            raise ComposeError(f"{p} is a directory")
        if not os.path.exists(p):
            raise ComposeError(f"couldn't find env file: {p}")
        env.update(read_dotenv(p, lambda k: environ.get(k) if k in environ else env.get(k)))
    return env


def load_project(opts: ProjectOptions) -> Project:
    files, working_dir, env = resolve_files(opts)
    return _load(opts, files, working_dir, env)


def resolve_files(opts: ProjectOptions) -> tuple[list[str], str, dict[str, str]]:
    """The compose files, the project directory and the environment (.env under the OS's)."""
    environ = dict(os.environ if opts.environ is None else opts.environ)
    cwd = os.path.abspath(opts.cwd or os.getcwd())
    project_dir = os.path.abspath(os.path.join(cwd, opts.project_directory)) if opts.project_directory else ""
    env_paths = [os.path.abspath(os.path.join(cwd, e)) for e in opts.env_files]

    pre_dir = project_dir or cwd
    pre_env_paths = env_paths or ([os.path.join(pre_dir, ".env")] if os.path.isfile(os.path.join(pre_dir, ".env")) else [])
    dotenv = _read_env_files(pre_env_paths, environ)
    env = {**dotenv, **environ}

    files = list(opts.files)
    if not files and env.get("COMPOSE_FILE"):
        sep = env.get("COMPOSE_PATH_SEPARATOR", ":")
        files = [f for f in env["COMPOSE_FILE"].split(sep) if f]
        files = [os.path.join(pre_dir, f) if not os.path.isabs(f) else f for f in files]
    if not files:
        found = find_default_file(pre_dir)
        files = [found]
        for name in OVERRIDE_FILES:  # found next to the default file, merged over it
            candidate = os.path.join(os.path.dirname(found), name)
            if os.path.isfile(candidate):
                files.append(candidate)
                break
    files = [f if f == "-" else os.path.abspath(os.path.join(cwd, f)) for f in files]
    for f in files:
        if f != "-" and not os.path.exists(f):
            raise ComposeError(f"open {f}: no such file or directory")
    working_dir = project_dir or (os.path.dirname(files[0]) if files[0] != "-" else cwd)
    if not env_paths and working_dir != pre_dir:
        default = os.path.join(working_dir, ".env")
        dotenv = _read_env_files([default], environ) if os.path.isfile(default) else {}
        env = {**dotenv, **environ}
    return files, working_dir, env


def _load(opts: ProjectOptions, files: list[str], working_dir: str, env: dict[str, str]) -> Project:
    ctx = LoadContext(environment=env, interpolate=opts.interpolate, stdin_text=opts.stdin_text)
    doc: dict = {}
    for f in files:
        doc = merge_documents(doc, load_file(f, ctx, working_dir))
    doc = strip_markers(doc)

    if opts.project_name:
        name = check_project_name(opts.project_name)
    elif env.get("COMPOSE_PROJECT_NAME"):
        name = check_project_name(env["COMPOSE_PROJECT_NAME"])
    elif doc.get("name"):
        name = check_project_name(str(doc["name"]))
    else:
        name = normalize_project_name(os.path.basename(working_dir))
        if not name:
            raise ComposeError(f'project name must not be empty (directory "{working_dir}")')

    raw_services: dict = doc.get("services") or {}
    profiles = [p for p in opts.profiles if p]
    if not profiles and env.get("COMPOSE_PROFILES"):
        profiles = [p.strip() for p in env["COMPOSE_PROFILES"].split(",") if p.strip()]
    for svc_name in opts.services:
        if svc_name not in raw_services:
            raise ComposeError(f"no such service: {svc_name}")
        profiles.extend(p for p in ((raw_services[svc_name] or {}).get("profiles") or []) if p not in profiles)

    def lookup(k: str) -> str | None:
        return env.get(k)

    normalized = {n: normalize_service(str(n), s or {}, name, lookup) for n, s in raw_services.items()}

    def active(svc: dict) -> bool:
        sp = svc.get("profiles") or []
        return not sp or "*" in profiles or any(p in profiles for p in sp)

    enabled = {n: s for n, s in normalized.items() if active(s)}
    disabled = {n: s for n, s in normalized.items() if n not in enabled}
    for n, s in enabled.items():
        for dep, spec in (s.get("depends_on") or {}).items():
            if dep in disabled and spec.get("required", True):
                raise ComposeError(
                    f'service "{dep}" was pulled in as dependency of service "{n}" but is not enabled by '
                    f'the active profiles. You may fix this by adding a common profile to "{dep}" and "{n}".')

    uses_default = any("default" in (s.get("networks") or {}) for s in enabled.values())
    raw_networks = dict(doc.get("networks") or {})
    if uses_default and "default" not in raw_networks:
        raw_networks["default"] = None
    networks = {k: normalize_resource("networks", k, v, name) for k, v in raw_networks.items()}
    volumes = {k: normalize_resource("volumes", k, v, name) for k, v in (doc.get("volumes") or {}).items()}
    secrets = {k: normalize_resource("secrets", k, v, name) for k, v in (doc.get("secrets") or {}).items()}
    configs = {k: normalize_resource("configs", k, v, name) for k, v in (doc.get("configs") or {}).items()}
    check_references(enabled, networks, volumes, secrets, configs)
    check_cycles(normalized)

    project = Project(name=name, working_dir=working_dir, config_files=files, environment=env,
                      profiles=profiles, warnings=ctx.warnings)
    project.services = {n: Service(n, s) for n, s in enabled.items()}
    project.disabled = {n: Service(n, s) for n, s in disabled.items()}
    project.networks = {k: Network(k, v["name"], v) for k, v in networks.items()}
    project.volumes = {k: Volume(k, v["name"], v) for k, v in volumes.items()}
    project.secrets = {k: Secret(k, v) for k, v in secrets.items()}
    project.configs = {k: Config(k, v) for k, v in configs.items()}
    project.extras = {k: v for k, v in doc.items() if str(k).startswith("x-")}
    return project
