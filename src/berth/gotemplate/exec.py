"""Execution: walking parse trees over Python data with Go's semantics.

The structure mirrors Go's evaluator on purpose: which node is "current" when an
error is raised decides the `:line:col` and `<node>` in the message, and the
order of evaluation decides which of several errors is reported.  Missing values
(NO_VALUE) and nil (None) are kept apart because Go prints, ranges and errors on
them differently.
"""

from __future__ import annotations

import inspect
import types
from typing import TYPE_CHECKING, Any, Optional

from . import printf
from .errors import ExecError
from .funcs import ANY, VALUE, Iface, assignable, can_be_nil, signature, zero_of
from .nodes import (ActionNode, BoolNode, BreakNode, ChainNode, CommandNode, CommentNode,
                    ContinueNode, DotNode, FieldNode, IdentifierNode, IfNode, ListNode, NilNode,
                    Node, NumberNode, PipeNode, RangeNode, StringNode, TemplateNode, TextNode,
                    VariableNode, WithNode)
from .values import (FUNC, INT, MAP, NO_VALUE, SLICE, STRUCT, go_type, is_exported,
                     kind, truth)

if TYPE_CHECKING:
    from .template import Template

MISSING = object()  # Go's missingVal: "no final argument from a pipeline"
MAX_DEPTH = 100000


class _Fail(Exception):
    def __init__(self, msg: str) -> None:
        self.msg = msg


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


_BREAK = _Break()
_CONTINUE = _Continue()

# -- field access on Python objects -----------------------------------------------

_METHOD, _ATTR, _PROPERTY = 1, 2, 3
_member_cache: dict[tuple[type, str], int] = {}


def _member(cls: type, name: str) -> int:
    key = (cls, name)
    m = _member_cache.get(key)
    if m is None:
        attr = inspect.getattr_static(cls, name, None)
        if isinstance(attr, (types.FunctionType, staticmethod, classmethod)) and is_exported(name):
            m = _METHOD
        elif isinstance(attr, property):
            m = _PROPERTY
        else:
            m = _ATTR
        _member_cache[key] = m
    return m


def _has_field(obj: Any, name: str) -> bool:
    d = getattr(obj, "__dict__", None)
    if d is not None and name in d:
        return True
    fields = getattr(type(obj), "__dataclass_fields__", None)
    if fields is not None and name in fields:
        return True
    slots = getattr(type(obj), "__slots__", ())
    return name in slots if not isinstance(slots, str) else name == slots


class State:
    __slots__ = ("tmpl", "out", "node", "vars", "depth", "missingkey", "funcs", "dot_iface",
                 "last_iface")

    def __init__(self, tmpl: "Template", out: list[str], funcs: dict[str, Any],
                 missingkey: str) -> None:
        self.tmpl = tmpl
        self.out = out
        self.node: Optional[Node] = None
        self.vars: list[list[Any]] = []
        self.depth = 0
        self.missingkey = missingkey
        self.funcs = funcs
        # Whether dot came out of a map or slice element: Go then reports its static
        # type as "interface {}" in "can't evaluate field" errors.
        self.dot_iface = False
        self.last_iface = False  # whether the last field looked up was a map element

    # -- errors -------------------------------------------------------------------
    def errorf(self, msg: str) -> None:
        name = self.tmpl.name
        if self.node is None:
            raise _Fail(f"template: {name}: {msg}")
        tree = self.node.tree or self.tmpl.tree
        location, context = tree.error_context(self.node)
        from .strconv import quote
        raise _Fail(f"template: {location}: executing {quote(name)} at <{context}>: {msg}")

    # -- variables ----------------------------------------------------------------
    def var_value(self, name: str) -> Any:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                return self.vars[i][1]
        self.errorf(f"undefined variable: {name}")

    def var_iface(self, name: str) -> bool:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                return len(self.vars[i]) > 2 and self.vars[i][2]
        return False

    def set_var(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i][1] = value
                del self.vars[i][2:]
                return
        self.errorf(f"undefined variable: {name}")

    # -- walking ------------------------------------------------------------------
    def walk(self, dot: Any, node: Node) -> None:
        self.node = node
        t = type(node)
        if t is TextNode:
            self.out.append(node.text)
        elif t is ActionNode:
            val = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.print_value(node, val)
        elif t is ListNode:
            for n in node.nodes:
                self.walk(dot, n)
        elif t is IfNode or t is WithNode:
            self.walk_if_or_with(t is WithNode, dot, node)
        elif t is RangeNode:
            self.walk_range(dot, node)
        elif t is TemplateNode:
            self.walk_template(dot, node)
        elif t is BreakNode:
            raise _BREAK
        elif t is ContinueNode:
            raise _CONTINUE
        elif t is CommentNode:
            pass
        else:
            self.errorf(f"unknown node: {node}")

    def print_value(self, node: Node, v: Any) -> None:
        t = type(v)
        if t is str:
            self.out.append(v)
            return
        self.node = node
        if v is NO_VALUE:
            self.out.append("<no value>")
            return
        if kind(v) == FUNC:
            self.errorf(f"can't print {node} of type {go_type(v)}")
        self.out.append(printf.print_value(v))

    def walk_if_or_with(self, is_with: bool, dot: Any, node: Any) -> None:
        mark = len(self.vars)
        try:
            val = self.eval_pipeline(dot, node.pipe)
            if truth(val):
                if is_with:
                    saved = self.dot_iface
                    self.dot_iface = False
                    try:
                        self.walk(val, node.list)
                    finally:
                        self.dot_iface = saved
                else:
                    self.walk(dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            del self.vars[mark:]

    def walk_range(self, dot: Any, r: RangeNode) -> None:
        self.node = r
        mark0 = len(self.vars)
        try:
            val = self.eval_pipeline(dot, r.pipe)
            ndecl = len(r.pipe.decl)
            mark = len(self.vars)
            vars_ = self.vars
            k = kind(val)
            if k == SLICE or k == MAP or (k == INT and type(val) is not bool):
                if k == MAP:
                    from .printf import sorted_keys
                    pairs = [(key, val[key]) for key in sorted_keys(val)]
                elif k == SLICE:
                    pairs = list(enumerate(val))
                else:
                    if ndecl > 1:
                        self.errorf(f"can't use {val} to iterate over more than one variable")
                    pairs = [(i, i) for i in range(int(val))]
                if pairs:
                    iface = k != INT
                    saved = self.dot_iface
                    self.dot_iface = iface
                    try:
                        for index, elem in pairs:
                            if ndecl > 0:
                                vars_[mark - 1][1:] = [elem, iface]
                            if ndecl > 1:
                                vars_[mark - 2][1:] = [index, False]
                            try:
                                self.walk(elem, r.list)
                            except _Continue:
                                pass
                            finally:
                                del vars_[mark:]
                    finally:
                        self.dot_iface = saved
                    return
            elif val is not NO_VALUE and val is not None:
                self.errorf(f"range can't iterate over {printf.print_value(val)}")
            if r.else_list is not None:
                self.walk(dot, r.else_list)
        except _Break:
            pass
        finally:
            del self.vars[mark0:]

    def walk_template(self, dot: Any, t: TemplateNode) -> None:
        self.node = t
        tmpl = self.tmpl.lookup(t.name)
        if tmpl is None:
            from .strconv import quote
            self.errorf(f"template {quote(t.name)} not defined")
        if self.depth >= MAX_DEPTH:
            self.errorf(f"exceeded maximum template depth ({MAX_DEPTH})")
        dot = self.eval_pipeline(dot, t.pipe) if t.pipe is not None else NO_VALUE
        sub = State(tmpl, self.out, self.funcs, self.missingkey)
        sub.depth = self.depth + 1
        sub.vars = [["$", dot]]
        try:
            sub.walk(dot, tmpl.tree.root)
        except RecursionError:
            self.node = t
            self.errorf(f"exceeded maximum template depth ({MAX_DEPTH})")

    # -- pipelines ----------------------------------------------------------------
    def eval_pipeline(self, dot: Any, pipe: Optional[PipeNode]) -> Any:
        if pipe is None:
            return NO_VALUE
        self.node = pipe
        value: Any = MISSING
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
            if value is None:
                value = NO_VALUE  # Go unwraps nil interface{} to the invalid value
        for v in pipe.decl:
            if pipe.is_assign:
                self.set_var(v.ident[0], value)
            else:
                self.vars.append([v.ident[0], value])
        return value

    def eval_command(self, dot: Any, cmd: CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        t = type(first)
        if t is FieldNode:
            return self.eval_field_node(dot, first, cmd.args, final)
        if t is ChainNode:
            return self.eval_chain_node(dot, first, cmd.args, final)
        if t is IdentifierNode:
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if t is PipeNode:
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if t is VariableNode:
            return self.eval_variable_node(dot, first, cmd.args, final)
        self.node = first
        self.not_a_function(cmd.args, final)
        if t is BoolNode:
            return first.value
        if t is DotNode:
            return dot
        if t is NilNode:
            self.errorf("nil is not a command")
        if t is NumberNode:
            return self.ideal_constant(first)
        if t is StringNode:
            return first.text
        self.errorf(f"can't evaluate command {first}")

    def not_a_function(self, args: list[Node], final: Any) -> None:
        if len(args) > 1 or final is not MISSING:
            self.errorf(f"can't give argument to non-function {args[0]}")

    def ideal_constant(self, c: NumberNode) -> Any:
        self.node = c
        text = c.text
        if c.is_complex:
            return c.complex_value
        if c.is_float and not _is_hex_int(text) and not text.startswith("'") \
                and any(ch in text for ch in ".eEpP"):
            return c.float_value
        if c.is_int:
            return c.int_value
        if c.is_uint:
            self.errorf(f"{text} overflows int")
        return NO_VALUE

    # -- fields ---------------------------------------------------------------------
    def eval_field_node(self, dot: Any, field: FieldNode, args: Optional[list[Node]],
                        final: Any) -> Any:
        self.node = field
        return self.eval_field_chain(dot, dot, field, field.ident, args, final, self.dot_iface)

    def eval_chain_node(self, dot: Any, chain: ChainNode, args: Optional[list[Node]],
                        final: Any) -> Any:
        self.node = chain
        if not chain.fields:
            self.errorf("internal error: no fields in evalChainNode")
        if isinstance(chain.node, NilNode):
            self.errorf(f"indirection through explicit nil in {chain}")
        pipe = self.eval_arg(dot, None, chain.node)
        return self.eval_field_chain(dot, pipe, chain, chain.fields, args, final, False)

    def eval_variable_node(self, dot: Any, var: VariableNode, args: Optional[list[Node]],
                           final: Any) -> Any:
        self.node = var
        value = self.var_value(var.ident[0])
        if len(var.ident) == 1:
            self.not_a_function(args or [var], final)
            return value
        return self.eval_field_chain(dot, value, var, var.ident[1:], args, final,
                                     self.var_iface(var.ident[0]))

    def eval_field_chain(self, dot: Any, receiver: Any, node: Node, ident: list[str],
                         args: Optional[list[Node]], final: Any, iface: bool = False) -> Any:
        n = len(ident)
        for i in range(n - 1):
            container = receiver
            receiver = self.eval_field(dot, ident[i], node, None, MISSING, receiver, iface)
            iface = isinstance(container, dict)
        return self.eval_field(dot, ident[n - 1], node, args, final, receiver, iface)

    def eval_field(self, dot: Any, name: str, node: Node, args: Optional[list[Node]],
                   final: Any, receiver: Any, iface: bool = False) -> Any:
        t = type(receiver)
        has_args = (args is not None and len(args) > 1) or final is not MISSING
        self.last_iface = isinstance(receiver, dict)
        if t is dict:
            if has_args:
                self.errorf(f"{name} is not a method but has arguments")
            result = receiver.get(name, NO_VALUE)
            if result is NO_VALUE:
                return self.missing_key(name)
            return result
        if receiver is NO_VALUE:
            if self.missingkey == "error":
                from .strconv import quote
                self.errorf(f"nil data; no entry for key {quote(name)}")
            return NO_VALUE
        if receiver is None:
            self.errorf(f"nil pointer evaluating interface {{}}.{name}")
        if t in (str, int, float, bool, list, tuple):
            self.errorf(f"can't evaluate field {name} in type "
                        f"{'interface {}' if iface else go_type(receiver)}")
        member = _member(t, name)
        if member == _METHOD:
            return self.eval_call(dot, getattr(receiver, name), False, node, name, args, final)
        k = kind(receiver)
        if k == STRUCT:
            from .gojson import Struct
            if isinstance(receiver, Struct):
                if name in receiver:
                    if has_args:
                        self.errorf(f"{name} has arguments but cannot be invoked as function")
                    return receiver[name]
            elif _has_field(receiver, name) or member == _PROPERTY:
                if not is_exported(name):
                    self.errorf(f"{name} is an unexported field of struct type {go_type(receiver)}")
                if has_args:
                    self.errorf(f"{name} has arguments but cannot be invoked as function")
                return getattr(receiver, name)
        elif k == MAP:
            if has_args:
                self.errorf(f"{name} is not a method but has arguments")
            result = receiver.get(name, NO_VALUE)
            if result is NO_VALUE:
                return self.missing_key(name)
            return result
        self.errorf(f"can't evaluate field {name} in type "
                    f"{'interface {}' if iface else go_type(receiver)}")

    def missing_key(self, name: str) -> Any:
        mk = self.missingkey
        if mk == "error":
            from .strconv import quote
            self.errorf(f"map has no entry for key {quote(name)}")
        if mk == "zero":
            return None
        return NO_VALUE

    # -- calls --------------------------------------------------------------------------
    def eval_function(self, dot: Any, node: IdentifierNode, cmd: Node,
                      args: Optional[list[Node]], final: Any) -> Any:
        self.node = node
        name = node.ident
        fn = self.funcs.get(name)
        is_builtin = False
        if fn is None:
            from .funcs import BUILTINS
            fn = BUILTINS.get(name)
            is_builtin = True
            if fn is None:
                from .strconv import quote
                self.errorf(f"{quote(name)} is not a defined function")
        return self.eval_call(dot, fn, is_builtin, cmd, name, args, final)

    def eval_call(self, dot: Any, fn: Any, is_builtin: bool, node: Node, name: str,
                  args: Optional[list[Node]], final: Any) -> Any:
        args = args[1:] if args else []
        params, variadic = signature(fn)
        num_in = len(args) + (final is not MISSING)
        num_fixed = len(args)
        if variadic is not None:
            num_fixed = len(params)
            if num_in < num_fixed:
                self.errorf(f"wrong number of args for {name}: want at least {len(params)} "
                            f"got {len(args)}")
        elif num_in != len(params):
            self.errorf(f"wrong number of args for {name}: want {len(params)} got {num_in}")

        if is_builtin and (name == "and" or name == "or"):
            want = name == "or"
            v: Any = NO_VALUE
            for a in args:
                v = self.eval_arg(dot, VALUE, a)
                if truth(v) == want:
                    return v
            if final is not MISSING:
                v = self.validate_type(final, VALUE)
            return v

        argv: list[Any] = []
        i = 0
        while i < num_fixed and i < len(args):
            argv.append(self.eval_arg(dot, params[i], args[i]))
            i += 1
        if variadic is not None:
            wrap = is_builtin and name == "slice"
            while i < len(args):
                v = self.eval_arg(dot, variadic, args[i])
                if wrap and self._arg_is_iface(args[i]):
                    v = Iface(v)
                argv.append(v)
                i += 1
        if final is not MISSING:
            if variadic is not None:
                t = params[num_in - 1] if num_in - 1 < num_fixed else variadic
            else:
                t = params[-1]
            argv.append(self.validate_type(final, t))
        try:
            return fn(*argv)
        except _Fail:
            raise
        except (_Break, _Continue):
            raise
        except RecursionError:
            raise
        except Exception as e:  # noqa: BLE001 - a failing function is a template error
            self.node = node
            self.errorf(f"error calling {name}: {e}")

    def _arg_is_iface(self, n: Node) -> bool:
        """Whether evaluating `n` left Go with an interface{}-typed value."""
        t = type(n)
        if t is DotNode:
            return self.dot_iface
        if t is VariableNode and len(n.ident) == 1:
            return self.var_iface(n.ident[0])
        if t is FieldNode or t is ChainNode or t is VariableNode:
            return self.last_iface
        return False

    def eval_arg(self, dot: Any, typ: Optional[str], n: Node) -> Any:
        self.node = n
        t = type(n)
        if t is DotNode:
            return self.validate_type(dot, typ)
        if t is NilNode:
            if typ == VALUE:
                return NO_VALUE
            if typ is None or can_be_nil(typ):
                return zero_of(typ or ANY)
            self.errorf(f"cannot assign nil to {typ}")
        if t is FieldNode:
            return self.validate_type(self.eval_field_node(dot, n, [n], MISSING), typ)
        if t is VariableNode:
            return self.validate_type(self.eval_variable_node(dot, n, None, MISSING), typ)
        if t is PipeNode:
            return self.validate_type(self.eval_pipeline(dot, n), typ)
        if t is IdentifierNode:
            return self.validate_type(self.eval_function(dot, n, n, None, MISSING), typ)
        if t is ChainNode:
            return self.validate_type(self.eval_chain_node(dot, n, None, MISSING), typ)
        if typ is None or typ == ANY or typ == VALUE:
            if t is BoolNode:
                return n.value
            if t is NumberNode:
                return self.ideal_constant(n)
            if t is StringNode:
                return n.text
            self.errorf(f"can't handle assignment of {n} to empty interface argument")
        if typ == "bool":
            if t is BoolNode:
                return n.value
            self.errorf(f"expected bool; found {n}")
        if typ == "string":
            if t is StringNode:
                return n.text
            self.errorf(f"expected string; found {n}")
        if typ == "int":
            if t is NumberNode and n.is_int:
                return n.int_value
            self.errorf(f"expected integer; found {n}")
        if typ == "float64":
            if t is NumberNode and n.is_float:
                return n.float_value
            self.errorf(f"expected float; found {n}")
        self.errorf(f"can't handle {n} for arg of type {typ}")

    def validate_type(self, value: Any, typ: Optional[str]) -> Any:
        if value is NO_VALUE:
            if typ is None or typ == ANY:
                return None
            if typ == VALUE:
                return NO_VALUE
            if can_be_nil(typ):
                return zero_of(typ)
            self.errorf(f"invalid value; expected {typ}")
        if typ is None or typ == ANY or typ == VALUE:
            return value
        if not assignable(value, typ):
            self.errorf(f"wrong type for value; expected {typ}; got {go_type(value)}")
        return value


def _is_hex_int(s: str) -> bool:
    t = s.lstrip("+-")
    return len(t) > 2 and t[0] == "0" and t[1] in "xX" and not any(c in t for c in ".pP")


def execute(tmpl: "Template", data: Any, missingkey: str, funcs: dict[str, Any]) -> str:
    out: list[str] = []
    state = State(tmpl, out, funcs, missingkey)
    dot = NO_VALUE if data is None else data
    state.vars = [["$", dot]]
    try:
        if tmpl.tree is None or tmpl.tree.root is None:
            from .strconv import quote
            state.errorf(f"{quote(tmpl.name)} is an incomplete or empty template")
        state.walk(dot, tmpl.tree.root)
    except _Fail as f:
        raise ExecError(f.msg, "".join(out)) from None
    except RecursionError:
        raise ExecError(f"template: {tmpl.name}: exceeded maximum template depth ({MAX_DEPTH})",
                        "".join(out)) from None
    return "".join(out)
