"""Go's text/template for Python, as docker uses it for --format and inspect -f.

Self-contained: nothing here imports the rest of Berth.

    from berth.gotemplate import Template, TemplateError, ExecError
    t = Template("{{range .Mounts}}{{.Source}} {{end}}", missingkey="error")
    t.execute(container_json)

    from berth.gotemplate.docker import render, docker_funcs, inspect_execute
    render(r"table {{.ID}}\\t{{.Names}}", rows, {"ID": "CONTAINER ID", "Names": "NAMES"})

    from berth.gotemplate.gojson import dumps, Struct
    dumps(value)            # encoding/json bytes, HTML escaping off (docker's {{json}})

Errors: TemplateError (parse) and ExecError (execution) carry Go's exact message;
docker prints them as "template parsing error: " + message and exits non-zero.
ExecError.partial holds what had been written before the failure.

Data (see values.py): dicts are Go maps (missing key -> `<no value>`, or an error
with missingkey="error"), lists are slices, None is nil; dataclasses and other
objects are structs whose capitalised attributes are fields and whose capitalised
methods are callable with arguments ({{.Label "x"}}); a class's `__gotype__` names
its Go type in messages ("*formatter.ContainerContext"); gojson.Struct marks a JSON
object as a struct (declared key order, unknown field is an error); `__gojson__()`
customises {{json .}} like Go's MarshalJSON.  Strings sliced inside a UTF-8
sequence (slice, truncate) carry the raw bytes as surrogate escapes: write output
with errors="surrogateescape" to reproduce docker's bytes exactly.

Behaviour follows Go's text/template (golden-tested against Go 1.19), except where
docker's current CLI (built with Go 1.24) differs: {{range N}} over integers,
{{with}}..{{else with}}, \\b and \\f in JSON, and the "unexpected right paren" lex
error follow docker.
"""

from .errors import Error, ExecError, TemplateError
from .funcs import GoError, GoFunc
from .gojson import Number, Struct
from .template import Template
from .values import NO_VALUE

__all__ = ["Template", "TemplateError", "ExecError", "Error", "GoFunc", "GoError", "NO_VALUE",
           "Struct", "Number"]
