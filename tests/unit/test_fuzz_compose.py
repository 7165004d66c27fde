"""Short fuzz of the compose loader: any text gives a project or a ComposeError
(bench/fuzz.py compose runs 100,000 inputs)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from berth.compose.errors import ComposeError
from berth.compose.loader.project import ProjectOptions, load_project

WORDS = ["services:\n", "  web:\n", "    image: busybox\n", "    ports:\n", "      - 80:80\n", "    environment:\n",
         "      A: ${B:-x}\n", "    depends_on: [db]\n", "  db:\n", "    build: .\n", "networks:\n", "volumes:\n",
         "x-a: &a\n", "  <<: *a\n", "    extends: web\n", "    profiles: [p]\n", "name: p\n", "  !reset\n",
         "'", '"', ":", "-", "{", "}", "[", "]", "&", "*", "\t", "$$", "${", "1: x\n", "true: y\n"]


def _load(text: str, tmp: str) -> None:
    try:
        load_project(ProjectOptions(files=["-"], stdin_text=text, environ={}, cwd=tmp, project_name="fuzz"))
    except ComposeError:
        pass


@pytest.mark.parametrize("text", [
    "name: p\n&volumes:\n",              # a null key (used to reach jsonschema as None)
    "${  db:\n${'    environment:\n",
    "services:\n  !reset\n",            # a marker where a mapping was expected
    "services:\n  1: {image: busybox}\n",
])
def test_inputs_the_long_fuzz_run_found(text, tmp_path):
    _load(text, str(tmp_path))


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(text=st.one_of(st.lists(st.sampled_from(WORDS), max_size=30).map("".join), st.text(max_size=120)))
def test_loader_raises_only_compose_errors(text, tmp_path_factory):
    _load(text, str(tmp_path_factory.getbasetemp()))
