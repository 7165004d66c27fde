"""Parser: tokens to trees, one tree per template name.

It follows the grammar decisions of Go's parse package closely (what is a
declaration, when `else if` applies, which operand may be chained, where empty
pipelines are rejected) so that the same texts are accepted and rejected, with the
same words and line numbers in the message.
"""

from __future__ import annotations

from typing import Callable, Optional

from . import lexer as L
from .errors import TemplateError
from .nodes import (ActionNode, BoolNode, BranchNode, BreakNode, ChainNode, CommandNode,
                    CommentNode, ContinueNode, DotNode, ElseNode, EndNode, FieldNode,
                    IdentifierNode, IfNode, ListNode, NilNode, Node, NumberNode, PipeNode,
                    RangeNode, StringNode, TemplateNode, TextNode, VariableNode, WithNode,
                    is_empty_tree)
from .numbers import parse_number
from .strconv import UnquoteError, unquote


class Tree:
    """One parsed template: its name, root list and the source text it came from."""

    def __init__(self, name: str, parse_name: str, text: str) -> None:
        self.name = name
        self.parse_name = parse_name
        self.text = text
        self.root: Optional[ListNode] = None

    def error_context(self, node: Node) -> tuple[str, str]:
        """Go's ErrorContext: "name:line:col" (col in bytes) and the node's text."""
        pos = node.pos
        text = self.text[:pos]
        nl = text.rfind("\n")
        col = len(text[nl + 1:].encode("utf-8", "surrogateescape")) if nl >= 0 \
            else len(text.encode("utf-8", "surrogateescape"))
        line = text.count("\n") + 1
        return f"{self.parse_name}:{line}:{col}", str(node)


class _ParseError(Exception):
    pass


class Parser:
    """Parses one text into a set of trees sharing one token stream."""

    def __init__(self, name: str, text: str, has_func: Callable[[str], bool],
                 left: str = "{{", right: str = "}}") -> None:
        self.name = name
        self.text = text
        self.has_func = has_func
        self.items = L.lex(text, left, right, break_ok=not has_func("break"),
                           continue_ok=not has_func("continue"))
        self.idx = 0
        self.high = 0  # index of the furthest token read, Go's token[0]
        self.trees: dict[str, Tree] = {}
        # per-tree state, swapped when parsing {{define}} and {{block}} bodies
        self.tree: Tree = Tree(name, name, text)
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.action_line = 0

    # -- token stream ------------------------------------------------------------------
    def next(self) -> L.Item:
        it = self.items[self.idx]
        if self.idx > self.high:
            self.high = self.idx
        if self.idx < len(self.items) - 1:
            self.idx += 1
        else:
            self.idx += 1
            self.items.append(it)  # keep returning EOF/ERROR
        return it

    def backup(self, n: int = 1) -> None:
        self.idx -= n

    def peek(self) -> L.Item:
        it = self.next()
        self.backup()
        return it

    def next_non_space(self) -> L.Item:
        while True:
            it = self.next()
            if it.typ != L.SPACE:
                return it

    def peek_non_space(self) -> L.Item:
        it = self.next_non_space()
        self.backup()
        return it

    # -- errors ------------------------------------------------------------------------
    def errorf(self, msg: str) -> None:
        line = self.items[self.high].line
        raise TemplateError(f"template: {self.name}:{line}: {msg}")

    def unexpected(self, item: L.Item, context: str) -> None:
        if item.typ == L.ERROR:
            extra = ""
            if self.action_line != 0 and self.action_line != item.line:
                extra = f" in action started at {self.name}:{self.action_line}"
                if item.val.endswith(" action"):
                    extra = extra[len(" in action"):]
            self.errorf(f"{item}{extra}")
        self.errorf(f"unexpected {item} in {context}")

    def expect(self, typ: int, context: str) -> L.Item:
        it = self.next_non_space()
        if it.typ != typ:
            self.unexpected(it, context)
        return it

    def expect_one_of(self, t1: int, t2: int, context: str) -> L.Item:
        it = self.next_non_space()
        if it.typ != t1 and it.typ != t2:
            self.unexpected(it, context)
        return it

    # -- top level ---------------------------------------------------------------------
    def parse(self) -> dict[str, Tree]:
        tree = self.tree
        tree.root = ListNode(self.peek().pos)
        while self.peek().typ != L.EOF:
            if self.peek().typ == L.LDELIM:
                delim_idx = self.idx
                self.next()
                if self.next_non_space().typ == L.DEFINE:
                    self._parse_definition()
                    continue
                self.idx = delim_idx
            n = self.text_or_action()
            if isinstance(n, (EndNode, ElseNode)):
                self.errorf(f"unexpected {n}")
            tree.root.nodes.append(n)
        self._add(tree)
        return self.trees

    def _with_tree(self, tree: Tree):
        saved = (self.tree, self.vars, self.range_depth)
        self.tree, self.vars, self.range_depth = tree, ["$"], 0
        return saved

    def _restore(self, saved) -> None:
        self.tree, self.vars, self.range_depth = saved

    def _parse_definition(self) -> None:
        context = "define clause"
        sub = Tree("definition", self.name, self.text)
        saved = self._with_tree(sub)
        try:
            name_item = self.expect_one_of(L.STRING, L.RAWSTRING, context)
            sub.name = self._unquote(name_item.val)
            self.expect(L.RDELIM, context)
            sub.root, end = self.item_list()
            if not isinstance(end, EndNode):
                self.errorf(f"unexpected {end} in {context}")
            self._add(sub)
        finally:
            self._restore(saved)

    def _add(self, tree: Tree) -> None:
        old = self.trees.get(tree.name)
        if old is None or is_empty_tree(old.root):
            self.trees[tree.name] = tree
            return
        if not is_empty_tree(tree.root):
            self.errorf(f"template: multiple definition of template {_gq(tree.name)}")

    def _unquote(self, s: str) -> str:
        try:
            return unquote(s)
        except UnquoteError:
            self.errorf("invalid syntax")
        except ValueError as e:
            self.errorf(str(e))
        raise AssertionError

    def item_list(self) -> tuple[ListNode, Node]:
        lst = ListNode(self.peek_non_space().pos)
        while self.peek_non_space().typ != L.EOF:
            n = self.text_or_action()
            if isinstance(n, (EndNode, ElseNode)):
                return lst, n
            lst.nodes.append(n)
        self.errorf("unexpected EOF")
        raise AssertionError

    def text_or_action(self) -> Node:
        it = self.next_non_space()
        if it.typ == L.TEXT:
            return self._mark(TextNode(it.pos, it.val))
        if it.typ == L.LDELIM:
            self.action_line = it.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        if it.typ == L.COMMENT:
            return self._mark(CommentNode(it.pos, it.val))
        self.unexpected(it, "input")
        raise AssertionError

    def _mark(self, n: Node) -> Node:
        n.tree = self.tree
        return n

    def action(self) -> Node:
        it = self.next_non_space()
        t = it.typ
        if t == L.BLOCK:
            return self.block_control()
        if t == L.BREAK:
            return self.break_control(it)
        if t == L.CONTINUE:
            return self.continue_control(it)
        if t == L.ELSE:
            return self.else_control()
        if t == L.END:
            return self.end_control()
        if t == L.IF:
            return self.branch(IfNode, True, "if")
        if t == L.RANGE:
            return self.branch(RangeNode, False, "range")
        if t == L.TEMPLATE:
            return self.template_control()
        if t == L.WITH:
            return self.branch(WithNode, False, "with")
        self.backup()
        tok = self.peek()
        return self._mark(ActionNode(tok.pos, tok.line, self.pipeline("command", L.RDELIM)))

    def break_control(self, it: L.Item) -> Node:
        tok = self.next_non_space()
        if tok.typ != L.RDELIM:
            self.unexpected(tok, "{{break}}")
        if self.range_depth == 0:
            self.errorf("{{break}} outside {{range}}")
        return self._mark(BreakNode(it.pos, it.line))

    def continue_control(self, it: L.Item) -> Node:
        tok = self.next_non_space()
        if tok.typ != L.RDELIM:
            self.unexpected(tok, "{{continue}}")
        if self.range_depth == 0:
            self.errorf("{{continue}} outside {{range}}")
        return self._mark(ContinueNode(it.pos, it.line))

    def else_control(self) -> Node:
        peek = self.peek_non_space()
        if peek.typ in (L.IF, L.WITH):
            # "else if" / "else with" (Go >= 1.23, as docker's CLI): the keyword stays
            # pending and the enclosing branch chains it, or rejects it.
            return self._mark(ElseNode(peek.pos, peek.line))
        tok = self.expect(L.RDELIM, "else")
        return self._mark(ElseNode(tok.pos, tok.line))

    def end_control(self) -> Node:
        return self._mark(EndNode(self.expect(L.RDELIM, "end").pos))

    def branch(self, cls: type[BranchNode], allow_else_if: bool, context: str) -> Node:
        nvars = len(self.vars)
        try:
            pipe = self.pipeline(context, L.RDELIM)
            if context == "range":
                self.range_depth += 1
            lst, nxt = self.item_list()
            if context == "range":
                self.range_depth -= 1
            else_list = None
            if isinstance(nxt, ElseNode):
                if allow_else_if and self.peek().typ == L.IF:
                    self.next()
                    else_list = ListNode(nxt.pos)
                    else_list.nodes.append(self.branch(IfNode, True, "if"))
                elif context == "with" and self.peek().typ == L.WITH:
                    self.next()
                    else_list = ListNode(nxt.pos)
                    else_list.nodes.append(self.branch(WithNode, False, "with"))
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, EndNode):
                        self.errorf(f"expected end; found {nxt}")
            return self._mark(cls(pipe.pos, pipe.line, pipe, lst, else_list))
        finally:
            del self.vars[nvars:]

    def template_control(self) -> Node:
        context = "template clause"
        tok = self.next_non_space()
        name = self._template_name(tok, context)
        pipe = None
        if self.next_non_space().typ != L.RDELIM:
            self.backup()
            pipe = self.pipeline(context, L.RDELIM)
        return self._mark(TemplateNode(tok.pos, tok.line, name, pipe))

    def _template_name(self, tok: L.Item, context: str) -> str:
        if tok.typ in (L.STRING, L.RAWSTRING):
            return self._unquote(tok.val)
        self.unexpected(tok, context)
        raise AssertionError

    def block_control(self) -> Node:
        context = "block clause"
        tok = self.next_non_space()
        name = self._template_name(tok, context)
        pipe = self.pipeline(context, L.RDELIM)
        sub = Tree(name, self.name, self.text)
        saved = self._with_tree(sub)
        try:
            sub.root, end = self.item_list()
            if not isinstance(end, EndNode):
                self.errorf(f"unexpected {end} in {context}")
            self._add(sub)
        finally:
            self._restore(saved)
        return self._mark(TemplateNode(tok.pos, tok.line, name, pipe))

    # -- pipelines ---------------------------------------------------------------------
    def pipeline(self, context: str, end: int) -> PipeNode:
        tok = self.peek_non_space()
        pipe = PipeNode(tok.pos, tok.line)
        pipe.tree = self.tree
        while True:  # declarations; loops only for range's second variable
            v = self.peek_non_space()
            if v.typ != L.VARIABLE:
                break
            v_idx = self.idx
            while self.items[v_idx].typ == L.SPACE:
                v_idx += 1
            self.idx = v_idx
            self.next()
            nxt = self.peek_non_space()
            if nxt.typ in (L.ASSIGN, L.DECLARE):
                pipe.is_assign = nxt.typ == L.ASSIGN
                self.next_non_space()
                pipe.decl.append(self._var(v.pos, v.val))
                self.vars.append(v.val)
                break
            if nxt.typ == L.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(self._var(v.pos, v.val))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (L.VARIABLE, L.RDELIM, L.RPAREN):
                        continue
                    self.errorf("range can only initialize variables")
                self.errorf(f"too many declarations in {context}")
            self.idx = v_idx  # plain use of the variable: rewind to it
            break
        while True:
            tok = self.next_non_space()
            if tok.typ == end:
                self._check_pipeline(pipe, context)
                return pipe
            if tok.typ in (L.BOOL, L.CHARCONST, L.COMPLEX, L.DOT, L.FIELD, L.IDENT,
                           L.NUMBER, L.NIL, L.RAWSTRING, L.STRING, L.VARIABLE, L.LPAREN):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                self.unexpected(tok, context)

    def _var(self, pos: int, name: str) -> VariableNode:
        n = VariableNode(pos, name)
        n.tree = self.tree
        return n

    def _check_pipeline(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            self.errorf(f"missing value for {context}")
        for i, c in enumerate(pipe.cmds[1:]):
            if isinstance(c.args[0], (BoolNode, DotNode, NilNode, NumberNode, StringNode)):
                self.errorf(f"non executable command in pipeline stage {i + 2}")

    def command(self) -> CommandNode:
        cmd = CommandNode(self.peek_non_space().pos)
        cmd.tree = self.tree
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.typ == L.SPACE:
                continue
            if tok.typ in (L.RDELIM, L.RPAREN):
                self.backup()
            elif tok.typ == L.PIPE:
                pass
            else:
                self.unexpected(tok, "operand")
            break
        if not cmd.args:
            self.errorf("empty command")
        return cmd

    def operand(self) -> Optional[Node]:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == L.FIELD:
            chain = ChainNode(self.peek().pos, node)
            chain.tree = self.tree
            while self.peek().typ == L.FIELD:
                chain.add(self.next().val)
            if isinstance(node, FieldNode):
                node = self._mark(FieldNode(chain.pos, str(chain)))
            elif isinstance(node, VariableNode):
                node = self._mark(VariableNode(chain.pos, str(chain)))
            elif isinstance(node, (BoolNode, StringNode, NumberNode, NilNode, DotNode)):
                self.errorf(f"unexpected . after term {_gq(str(node))}")
            else:
                node = chain
        return node

    def term(self) -> Optional[Node]:
        tok = self.next_non_space()
        t = tok.typ
        if t == L.IDENT:
            if not self.has_func(tok.val):
                self.errorf(f"function {_gq(tok.val)} not defined")
            return self._mark(IdentifierNode(tok.pos, tok.val))
        if t == L.DOT:
            return self._mark(DotNode(tok.pos))
        if t == L.NIL:
            return self._mark(NilNode(tok.pos))
        if t == L.VARIABLE:
            return self._use_var(tok.pos, tok.val)
        if t == L.FIELD:
            return self._mark(FieldNode(tok.pos, tok.val))
        if t == L.BOOL:
            return self._mark(BoolNode(tok.pos, tok.val == "true"))
        if t in (L.CHARCONST, L.COMPLEX, L.NUMBER):
            try:
                n = parse_number(tok.pos, tok.val, t == L.CHARCONST, t == L.COMPLEX)
            except ValueError as e:
                self.errorf(str(e))
            return self._mark(n)
        if t == L.LPAREN:
            return self.pipeline("parenthesized pipeline", L.RPAREN)
        if t in (L.STRING, L.RAWSTRING):
            return self._mark(StringNode(tok.pos, tok.val, self._unquote(tok.val)))
        self.backup()
        return None

    def _use_var(self, pos: int, name: str) -> Node:
        v = self._var(pos, name)
        if v.ident[0] not in self.vars:
            self.errorf(f"undefined variable {_gq(v.ident[0])}")
        return v


def _gq(s: str) -> str:
    from .strconv import quote
    return quote(s)


def parse(name: str, text: str, has_func: Callable[[str], bool],
          left: str = "{{", right: str = "}}") -> dict[str, Tree]:
    """Parse `text`; the result maps each template name (the main one included) to its tree."""
    return Parser(name, text, has_func, left, right).parse()
