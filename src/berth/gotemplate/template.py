"""The Template object: parse once, execute many times."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from .errors import TemplateError
from .exec import execute
from .funcs import BUILTINS
from .parser import Tree, parse

_MISSINGKEY = {"default": "default", "invalid": "default", "zero": "zero", "error": "error"}


class Template:
    """A parsed Go text/template.

    `missingkey` is Go's option of the same name: "default" prints `<no value>` for a
    missing map key, "zero" yields the zero value, "error" fails (docker's inspect
    runs its raw-JSON pass with "error").  `funcs` adds functions to the builtins;
    values may be plain callables or `GoFunc`s that declare Go parameter types.
    """

    def __init__(self, text: str, name: str = "", missingkey: str = "default",
                 funcs: Optional[Mapping[str, Callable[..., Any]]] = None,
                 delims: tuple[str, str] = ("{{", "}}")) -> None:
        if missingkey not in _MISSINGKEY:
            raise ValueError(f"unrecognized option: missingkey={missingkey}")
        self.name = name
        self.text = text
        self.missingkey = _MISSINGKEY[missingkey]
        self.funcs: dict[str, Any] = dict(funcs or {})
        for fname in self.funcs:
            if not _good_name(fname):
                raise ValueError(f"function name {fname!r} is not a valid identifier")
        funcs_ = self.funcs
        trees = parse(name, text, lambda n: n in funcs_ or n in BUILTINS, delims[0], delims[1])
        self._trees: dict[str, Tree] = trees
        self.tree: Optional[Tree] = trees.get(name)
        self._set: dict[str, Template] = {name: self}

    # -- associated templates ------------------------------------------------------------
    def lookup(self, name: str) -> Optional["Template"]:
        """The template called `name` in this set ({{define}} / {{block}}), or None."""
        t = self._set.get(name)
        if t is None and name in self._trees:
            t = Template.__new__(Template)
            t.name = name
            t.text = self.text
            t.missingkey = self.missingkey
            t.funcs = self.funcs
            t._trees = self._trees
            t.tree = self._trees[name]
            t._set = self._set
            self._set[name] = t
        return t

    def defined_templates(self) -> list[str]:
        return sorted(self._trees)

    # -- variants -----------------------------------------------------------------------
    def _copy(self) -> "Template":
        t = Template.__new__(Template)
        t.__dict__.update(self.__dict__)
        t._set = {}
        t._set[t.name] = t
        return t

    def with_missingkey(self, missingkey: str) -> "Template":
        """A copy sharing the parse trees, executing with another missingkey option."""
        if missingkey not in _MISSINGKEY:
            raise ValueError(f"unrecognized option: missingkey={missingkey}")
        t = self._copy()
        t.missingkey = _MISSINGKEY[missingkey]
        return t

    def with_funcs(self, funcs: Mapping[str, Callable[..., Any]]) -> "Template":
        """A copy whose functions are replaced or extended (Go's Funcs after Parse)."""
        t = self._copy()
        t.funcs = {**self.funcs, **funcs}
        return t

    # -- execution ------------------------------------------------------------------------
    def execute(self, data: Any = None) -> str:
        """Render with `data` as dot; raises ExecError with Go's message on failure."""
        return execute(self, data, self.missingkey, self.funcs)

    def execute_template(self, name: str, data: Any = None) -> str:
        t = self.lookup(name)
        if t is None:
            from .errors import ExecError
            from .strconv import quote
            raise ExecError(f"template: no template {quote(name)} associated with template "
                            f"{quote(self.name)}")
        return execute(t, data, self.missingkey, self.funcs)


def _good_name(name: str) -> bool:
    from .lexer import is_alnum
    if not name:
        return False
    return all(is_alnum(c) for c in name) and not name[0].isdigit()


__all__ = ["Template", "TemplateError"]
