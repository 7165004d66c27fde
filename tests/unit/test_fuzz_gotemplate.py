"""Short fuzz of the Go template engine: any text, any data, only its own errors come out.
(The long run, 100,000+ inputs, is bench/fuzz_gotemplate.py.)"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from berth.gotemplate import ExecError, Template, TemplateError
from tests.fuzz.gotemplate_inputs import data, templates


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(text=templates, value=data)
def test_template_engine_raises_only_its_own_errors(text, value):
    try:
        tmpl = Template(text)
    except TemplateError:
        return
    try:
        out = tmpl.execute(value)
    except ExecError:
        return
    assert isinstance(out, str)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(text=templates, value=data)
def test_docker_functions_raise_only_template_errors(text, value):
    from berth.gotemplate.docker import docker_funcs

    try:
        tmpl = Template(text, funcs=docker_funcs())
        tmpl.execute(value)
    except (TemplateError, ExecError):
        pass
