"""Tokenizer for Go's text/template syntax.

Produces the same token stream as Go's lexer (including spaces, which the grammar
needs), so that the parser can report errors at the same token and line as Go.  A lex
error becomes an ERROR token at the end of the list: Go only reports it when the
parser reaches that token, after any earlier parse error.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Token kinds.  Keywords sort after KEYWORD so `typ > KEYWORD` tests "is a keyword".
ERROR, BOOL, CHAR, CHARCONST, COMMENT, COMPLEX, ASSIGN, DECLARE, EOF, FIELD, \
    IDENT, LDELIM, LPAREN, NUMBER, PIPE, RAWSTRING, RDELIM, RPAREN, SPACE, STRING, \
    TEXT, VARIABLE, KEYWORD, BLOCK, BREAK, CONTINUE, DOT, DEFINE, ELSE, END, IF, \
    RANGE, NIL, TEMPLATE, WITH = range(35)

KEYWORDS = {
    ".": DOT, "block": BLOCK, "break": BREAK, "continue": CONTINUE, "define": DEFINE,
    "else": ELSE, "end": END, "if": IF, "range": RANGE, "nil": NIL,
    "template": TEMPLATE, "with": WITH,
}

SPACE_CHARS = " \t\r\n"


@dataclass(slots=True)
class Item:
    typ: int
    pos: int
    val: str
    line: int

    def __str__(self) -> str:
        """Go's item formatting, used in "unexpected X in Y" messages."""
        if self.typ == EOF:
            return "EOF"
        if self.typ == ERROR:
            return self.val
        if self.typ > KEYWORD:
            return f"<{self.val}>"
        from .strconv import quote
        if len(self.val.encode("utf-8", "surrogateescape")) > 10:
            return quote(self.val[:10]) + "..."  # Go's %.10q: ten runes
        return quote(self.val)


def is_space(c: str) -> bool:
    return c in SPACE_CHARS and c != ""


def is_alnum(c: str) -> bool:
    """Go's isAlphaNumeric: underscore, Unicode letter or decimal digit."""
    if c == "_":
        return True
    if not c:
        return False
    if c.isascii():
        return c.isalnum()
    return c.isalpha() or unicodedata.category(c) == "Nd"


def rune_repr(c: str) -> str:
    """Go's %#U: U+007D '}'."""
    if c == "":
        return "U+FFFFFFFF"  # eof is rune -1, printed by Go as an invalid code point
    from .strconv import is_print
    cp = ord(c)
    s = f"U+{cp:04X}"
    if is_print(c):
        s += f" '{c}'"
    return s


class LexError(Exception):
    pass


class Lexer:
    """Go's lexer, run eagerly into a list of items."""

    def __init__(self, text: str, left: str = "{{", right: str = "}}",
                 break_ok: bool = True, continue_ok: bool = True) -> None:
        self.input = text
        self.left = left or "{{"
        self.right = right or "}}"
        self.break_ok = break_ok
        self.continue_ok = continue_ok
        self.pos = 0
        self.start = 0
        self.items: list[Item] = []
        self.paren_depth = 0
        self._line_pos = 0
        self._line = 1

    # -- helpers -----------------------------------------------------------------
    def _line_at(self, pos: int) -> int:
        """1 + newlines before `pos`; items come in order, so count incrementally."""
        if pos >= self._line_pos:
            self._line += self.input.count("\n", self._line_pos, pos)
        else:
            self._line = self.input.count("\n", 0, pos) + 1
        self._line_pos = pos
        return self._line

    def emit(self, typ: int) -> None:
        self.items.append(Item(typ, self.start, self.input[self.start:self.pos],
                               self._line_at(self.start)))
        self.start = self.pos

    def ignore(self) -> None:
        self.start = self.pos

    def peek(self) -> str:
        return self.input[self.pos] if self.pos < len(self.input) else ""

    def next(self) -> str:
        if self.pos >= len(self.input):
            self.pos += 1  # so that backup() after eof is symmetric
            return ""
        c = self.input[self.pos]
        self.pos += 1
        return c

    def backup(self) -> None:
        self.pos -= 1

    def accept(self, valid: str) -> bool:
        c = self.peek()
        if c and c in valid:
            self.pos += 1
            return True
        return False

    def accept_run(self, valid: str) -> None:
        while self.accept(valid):
            pass

    def error(self, msg: str) -> None:
        self.items.append(Item(ERROR, self.start, msg, self._line_at(self.start)))
        raise LexError

    def has_left_trim(self, pos: int) -> bool:
        s = self.input
        return pos + 1 < len(s) and s[pos] == "-" and s[pos + 1] in SPACE_CHARS

    def has_right_trim(self, pos: int) -> bool:
        s = self.input
        return pos + 1 < len(s) and s[pos] in SPACE_CHARS and s[pos + 1] == "-"

    def at_right_delim(self) -> tuple[bool, bool]:
        if self.has_right_trim(self.pos) and self.input.startswith(self.right, self.pos + 2):
            return True, True
        if self.input.startswith(self.right, self.pos):
            return True, False
        return False, False

    def at_terminator(self) -> bool:
        c = self.peek()
        if c == "" or c in SPACE_CHARS or c in ".,|:)(":
            return True
        return self.input.startswith(self.right, self.pos)

    # -- states ------------------------------------------------------------------
    def run(self) -> list[Item]:
        state = self.lex_text
        try:
            while state is not None:
                state = state()
        except LexError:
            pass
        return self.items

    def lex_text(self):
        x = self.input.find(self.left, self.pos)
        if x < 0:
            self.pos = len(self.input)
            if self.pos > self.start:
                self.emit(TEXT)
            self.emit(EOF)
            return None
        if x > self.pos:
            self.pos = x
            trim = 0
            if self.has_left_trim(x + len(self.left)):
                chunk = self.input[self.start:x]
                trim = len(chunk) - len(chunk.rstrip(SPACE_CHARS))
            end = x - trim
            if end > self.start:
                self.items.append(Item(TEXT, self.start, self.input[self.start:end],
                                       self._line_at(self.start)))
            self.start = self.pos
        return self.lex_left_delim

    def lex_left_delim(self):
        self.pos += len(self.left)
        trim = self.has_left_trim(self.pos)
        after = 2 if trim else 0
        if self.input.startswith("/*", self.pos + after):
            self.pos += after
            self.ignore()
            return self.lex_comment
        self.emit(LDELIM)
        self.pos += after
        self.ignore()
        self.paren_depth = 0
        return self.lex_inside_action

    def lex_comment(self):
        self.pos += 2
        x = self.input.find("*/", self.pos)
        if x < 0:
            self.error("unclosed comment")
        self.pos = x + 2
        delim, trim = self.at_right_delim()
        if not delim:
            self.error("comment ends before closing delimiter")
        if trim:
            self.pos += 2
        self.pos += len(self.right)
        if trim:
            self.pos += self._left_trim_length(self.pos)
        self.ignore()
        return self.lex_text

    def _left_trim_length(self, pos: int) -> int:
        rest = self.input[pos:]
        return len(rest) - len(rest.lstrip(SPACE_CHARS))

    def lex_right_delim(self):
        _, trim = self.at_right_delim()
        if trim:
            self.pos += 2
            self.ignore()
        self.pos += len(self.right)
        self.emit(RDELIM)
        if trim:
            self.pos += self._left_trim_length(self.pos)
            self.ignore()
        return self.lex_text

    def lex_inside_action(self):
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self.lex_right_delim
            self.error("unclosed left paren")
        c = self.next()
        if c == "":
            self.error("unclosed action")
        if c in SPACE_CHARS:
            self.backup()
            return self.lex_space
        if c == "=":
            self.emit(ASSIGN)
        elif c == ":":
            if self.next() != "=":
                self.error("expected :=")
            self.emit(DECLARE)
        elif c == "|":
            self.emit(PIPE)
        elif c == '"':
            return self.lex_quote
        elif c == "`":
            return self.lex_raw_quote
        elif c == "$":
            return self.lex_variable
        elif c == "'":
            return self.lex_char
        elif c == "." and self.pos < len(self.input) and not ("0" <= self.input[self.pos] <= "9"):
            return self.lex_field
        elif c in "+-." or "0" <= c <= "9":
            self.backup()
            return self.lex_number
        elif is_alnum(c):
            self.backup()
            return self.lex_identifier
        elif c == "(":
            self.emit(LPAREN)
            self.paren_depth += 1
        elif c == ")":
            # Go >= 1.22 (docker's CLI) rejects a stray ")" before emitting it.
            if self.paren_depth == 0:
                self.error("unexpected right paren")
            self.emit(RPAREN)
            self.paren_depth -= 1
        elif c.isascii() and c.isprintable():
            self.emit(CHAR)
        else:
            self.error(f"unrecognized character in action: {rune_repr(c)}")
        return self.lex_inside_action

    def lex_space(self):
        n = 0
        while self.peek() and self.peek() in SPACE_CHARS:
            self.pos += 1
            n += 1
        if self.has_right_trim(self.pos - 1) and self.input.startswith(self.right, self.pos + 1):
            self.backup()
            if n == 1:
                return self.lex_inside_action
        self.emit(SPACE)
        return self.lex_inside_action

    def lex_identifier(self):
        while True:
            c = self.next()
            if is_alnum(c):
                continue
            self.backup()
            word = self.input[self.start:self.pos]
            if not self.at_terminator():
                self.error(f"bad character {rune_repr(c)}")
            kw = KEYWORDS.get(word)
            if kw is not None and kw > KEYWORD:
                if (kw == BREAK and not self.break_ok) or (kw == CONTINUE and not self.continue_ok):
                    self.emit(IDENT)
                else:
                    self.emit(kw)
            elif word[0] == ".":
                self.emit(FIELD)
            elif word in ("true", "false"):
                self.emit(BOOL)
            else:
                self.emit(IDENT)
            return self.lex_inside_action

    def lex_field(self):
        return self._field_or_variable(FIELD)

    def lex_variable(self):
        if self.at_terminator():
            self.emit(VARIABLE)
            return self.lex_inside_action
        return self._field_or_variable(VARIABLE)

    def _field_or_variable(self, typ: int):
        if self.at_terminator():
            self.emit(VARIABLE if typ == VARIABLE else DOT)
            return self.lex_inside_action
        while True:
            c = self.next()
            if not is_alnum(c):
                self.backup()
                break
        if not self.at_terminator():
            self.error(f"bad character {rune_repr(c)}")
        self.emit(typ)
        return self.lex_inside_action

    def lex_char(self):
        while True:
            c = self.next()
            if c == "\\":
                c2 = self.next()
                if c2 not in ("", "\n"):
                    continue
                self.error("unterminated character constant")
            if c in ("", "\n"):
                self.error("unterminated character constant")
            if c == "'":
                break
        self.emit(CHARCONST)
        return self.lex_inside_action

    def lex_number(self):
        if not self._scan_number():
            self.error(f"bad number syntax: {_q(self.input[self.start:self.pos])}")
        if self.peek() in ("+", "-") and self.peek():
            if not self._scan_number() or self.input[self.pos - 1] != "i":
                self.error(f"bad number syntax: {_q(self.input[self.start:self.pos])}")
            self.emit(COMPLEX)
        else:
            self.emit(NUMBER)
        return self.lex_inside_action

    def _scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        if is_alnum(self.peek()):
            self.pos += 1
            return False
        return True

    def lex_quote(self):
        while True:
            c = self.next()
            if c == "\\":
                c2 = self.next()
                if c2 not in ("", "\n"):
                    continue
                self.error("unterminated quoted string")
            if c in ("", "\n"):
                self.error("unterminated quoted string")
            if c == '"':
                break
        self.emit(STRING)
        return self.lex_inside_action

    def lex_raw_quote(self):
        x = self.input.find("`", self.pos)
        if x < 0:
            self.error("unterminated raw quoted string")
        self.pos = x + 1
        self.emit(RAWSTRING)
        return self.lex_inside_action


def _q(s: str) -> str:
    from .strconv import quote
    return quote(s)


def lex(text: str, left: str = "{{", right: str = "}}",
        break_ok: bool = True, continue_ok: bool = True) -> list[Item]:
    return Lexer(text, left, right, break_ok, continue_ok).run()
