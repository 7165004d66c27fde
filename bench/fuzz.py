"""Long fuzz runs (issue 10): N inputs per target, no exception other than the target's own.

    python3 bench/fuzz.py gotemplate 100000
    python3 bench/fuzz.py dockerfile 100000
    python3 bench/fuzz.py compose 100000
    python3 bench/fuzz.py registry 100000

Prints inputs tried, inputs/s and every unexpected exception (with the input).
The suite runs short versions of the same properties (tests/unit/test_fuzz_*.py).
"""

from __future__ import annotations

import os
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FAILURES: list[str] = []
COUNT = [0]


def _record(exc: BaseException, sample: object) -> None:
    FAILURES.append(f"{type(exc).__name__}: {exc}\n  input: {sample!r}\n{traceback.format_exc(limit=4)}")


def gotemplate_target():
    from berth.gotemplate import ExecError, Template, TemplateError
    from berth.gotemplate.docker import docker_funcs
    from tests.fuzz.gotemplate_inputs import data, templates

    funcs = docker_funcs()

    @given(text=templates, value=data)
    def run(text, value):
        COUNT[0] += 1
        try:
            Template(text, funcs=funcs).execute(value)
        except (TemplateError, ExecError):
            pass
        except Exception as exc:  # noqa: BLE001 - that is what we hunt
            _record(exc, (text, value))
    return run


def dockerfile_target():
    from berth.build.parser import DockerfileParseError, parse

    words = ["FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "LABEL", "ONBUILD", "HEALTHCHECK", "CMD", "SHELL",
             "ENTRYPOINT", "EXPOSE", "WORKDIR", "USER", "VOLUME", "STOPSIGNAL", "MAINTAINER", "# escape=`",
             "# syntax=x", "\\\n", "`\n", "\n", " ", "<<EOF", "<<-EOF", "EOF", '["a", "b"]', "[", "]", '"', "'",
             "$A", "${A:-x}", "${A:?e}", "--from=x", "--mount=type=cache,target=/x", "AS", "#", "=", "k=v"]
    texts = st.one_of(st.lists(st.sampled_from(words), max_size=40).map("".join), st.text(max_size=200))

    @given(text=texts)
    def run(text):
        COUNT[0] += 1
        try:
            parse(text)
        except DockerfileParseError:
            pass
        except Exception as exc:  # noqa: BLE001
            _record(exc, text)
    return run


def compose_target():
    import tempfile

    from berth.compose.errors import ComposeError
    from berth.compose.loader.project import ProjectOptions, load_project

    cwd = tempfile.mkdtemp(prefix="composefuzz-")

    def load_from_text(text: str) -> None:
        load_project(ProjectOptions(files=["-"], stdin_text=text, environ={}, cwd=cwd, project_name="fuzz"))

    words = ["services:\n", "  web:\n", "    image: busybox\n", "    ports:\n", "      - 80:80\n", "    environment:\n",
             "      A: ${B:-x}\n", "    depends_on: [db]\n", "  db:\n", "    build: .\n", "networks:\n", "volumes:\n",
             "x-a: &a\n", "  <<: *a\n", "    extends: web\n", "    profiles: [p]\n", "name: p\n", "  !reset\n",
             "'", '"', ":", "-", "{", "}", "[", "]", "&", "*", "\t", "$$", "${"]
    texts = st.one_of(st.lists(st.sampled_from(words), max_size=40).map("".join), st.text(max_size=200))

    @given(text=texts)
    def run(text):
        COUNT[0] += 1
        try:
            load_from_text(text)
        except ComposeError:
            pass
        except Exception as exc:  # noqa: BLE001
            _record(exc, text)
    return run


def registry_target():
    from tests.fuzz.registry_fuzz import requests_, start_registry

    reg = start_registry()

    @given(req=requests_)
    def run(req):
        COUNT[0] += 1
        method, target, headers, body = req
        try:
            status = reg.send(method, target, headers, body)
        except Exception as exc:  # noqa: BLE001 - a dead or hung server
            _record(exc, req)
            return
        if status == -1 or (status >= 500 and status not in (501, 503)):
            FAILURES.append(f"HTTP {status} for {method} {target} {headers} {body[:80]!r}")
    return run


TARGETS = {"gotemplate": gotemplate_target, "dockerfile": dockerfile_target, "compose": compose_target,
           "registry": registry_target}


def main() -> int:
    name = sys.argv[1] if len(sys.argv) > 1 else "gotemplate"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    run = TARGETS[name]()
    wrapped = settings(max_examples=n, deadline=None, database=None, derandomize=False,
                       suppress_health_check=list(HealthCheck))(run)
    start = time.monotonic()
    wrapped()
    elapsed = time.monotonic() - start
    print(f"{name}: {COUNT[0]} inputs in {elapsed:.1f} s ({COUNT[0] / elapsed:.0f}/s), "
          f"{len(FAILURES)} unexpected exceptions")
    for failure in FAILURES[:20]:
        print(failure)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
