"""What every compose subcommand needs: the project (loaded once, lazily), the engine
client, the progress printer and docker compose's error conventions."""

from __future__ import annotations

import sys
from typing import Any

from ...cli.command import Cli
from ..errors import ComposeError
from ..model import Project


class ComposeContext:
    def __init__(self, cli: Cli, g: Any) -> None:
        self.cli = cli
        self.g = g
        self._project: Project | None = None
        self._engine: Any = None
        self._progress: Any = None

    def apply_environment(self) -> None:
        """docker compose's COMPOSE_* variables, for what no flag said (flags win)."""
        import os

        env = os.environ
        g = self.g
        if not g.was_set("env-file") and env.get("COMPOSE_ENV_FILES"):
            g.env_file = [f for f in env["COMPOSE_ENV_FILES"].split(",") if f]
        if not g.was_set("ansi") and env.get("COMPOSE_ANSI"):
            g.ansi = env["COMPOSE_ANSI"]
        if not g.was_set("progress") and env.get("COMPOSE_PROGRESS"):
            g.progress = env["COMPOSE_PROGRESS"]
        if not g.was_set("parallel") and env.get("COMPOSE_PARALLEL_LIMIT"):
            try:
                g.parallel = int(env["COMPOSE_PARALLEL_LIMIT"])
            except ValueError:
                raise ComposeError(f'invalid COMPOSE_PARALLEL_LIMIT "{env["COMPOSE_PARALLEL_LIMIT"]}"') from None

    def env_flag(self, name: str) -> bool:
        import os

        return os.environ.get(name, "").lower() in ("1", "true", "yes")

    @property
    def dry_run(self) -> bool:
        return bool(self.g.get("dry_run"))

    def options(self, services: list[str] | None = None, interpolate: bool = True) -> Any:
        import os

        from ..loader.project import ProjectOptions

        g = self.g
        stdin_text = None
        files = list(g.get("file") or [])
        if "-" in files:
            stdin_text = self.cli.stdin.read()
            if isinstance(stdin_text, bytes):
                stdin_text = stdin_text.decode()
        return ProjectOptions(
            files=files, project_name=g.get("project_name") or "",
            project_directory=g.get("project_directory") or "",
            env_files=list(g.get("env_file") or []), profiles=list(g.get("profile") or []),
            services=list(services or []), environ=dict(os.environ), interpolate=interpolate,
            stdin_text=stdin_text)

    def project(self, services: list[str] | None = None, interpolate: bool = True,
                require: bool = True) -> Project:
        if self._project is None:
            from ..loader.project import load_project

            opts = self.options(services, interpolate)
            try:
                self._project = load_project(opts)
            except ComposeError as exc:
                if not (self.g.get("project_name") and not self.g.get("file")
                        and exc.message.startswith("no configuration file provided")):
                    raise
                from ..from_labels import project_from_labels
                from ..loader.project import check_project_name

                self._project = project_from_labels(self.engine(), check_project_name(self.g.project_name))
            for w in self._project.warnings:
                self.cli.err.write(f"WARN[0000] {w}\n")
        return self._project

    def project_name(self) -> str:
        """The project name, also when there is no compose file (`down -p x`, `ps -p x`)."""
        if self.g.get("project_name") and not self.g.get("file"):
            from ..loader.project import check_project_name

            try:
                return self.project().name
            except ComposeError:
                return check_project_name(self.g.project_name)
        return self.project().name

    def engine(self) -> Any:
        if self._engine is None:
            from ..engine import Engine

            self._engine = Engine(self.cli.host, self.cli.tls)
        return self._engine

    def progress(self) -> Any:
        if self._progress is None:
            mode = self.g.get("progress") or "auto"
            if mode not in ("auto", "tty", "plain", "json", "quiet"):
                raise ComposeError(f'unsupported --progress value "{mode}"')
            ansi = self.g.get("ansi") or "auto"
            if ansi not in ("auto", "never", "always"):
                raise ComposeError(f'invalid --ansi value "{ansi}": must be one of "never", "always" or "auto"')
            if ansi == "never" and mode in ("auto", "tty"):
                mode = "plain"
            elif ansi == "always" and mode == "auto":
                mode = "tty"
            out = self.cli.out if self.env_flag("COMPOSE_STATUS_STDOUT") else self.cli.err
            self._progress = _progress(out, mode, self.dry_run)
        return self._progress

    def color(self, no_color: bool = False) -> bool:
        """Coloured log prefixes: --ansi always|never, else only on a terminal."""
        ansi = self.g.get("ansi") or "auto"
        if no_color or ansi == "never":
            return False
        return ansi == "always" or stdout_isatty()

    def check_globals(self) -> None:
        self.apply_environment()
        if self.g.get("compatibility"):
            raise ComposeError("--compatibility (docker-compose v1 names) is not supported by berth compose")
        parallel = self.g.get("parallel")
        if parallel is not None and (parallel == 0 or parallel < -1):
            raise ComposeError(f"invalid --parallel value {parallel}: use -1 (unlimited) or a positive number")

    def close(self) -> None:
        if self._engine is not None:
            import os

            stats = os.environ.get("BERTH_COMPOSE_STATS")  # bench/compose_bench.py counts API calls
            if stats:
                import json

                with open(stats, "w", encoding="utf-8") as fh:
                    json.dump(dict(self._engine.calls), fh)
            self._engine.close()

    def services(self, names: list[str]) -> list[str]:
        project = self.project(services=names)
        for n in names:
            if n not in project.services and n not in project.disabled:
                raise ComposeError(f"no such service: {n}")
        return names or list(project.services)


def _progress(out: Any, mode: str, dry_run: bool) -> Any:
    from ..progress import Progress

    return Progress(out, mode, dry_run)


def stdout_isatty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False
