"""Hypothesis strategies for Go templates and their data: shared by the suite's short
fuzz test and bench/fuzz_gotemplate.py's long run."""

from __future__ import annotations

from hypothesis import strategies as st

PIECES = [
    "{{", "}}", "{{-", "-}}", " ", ".", ".Name", ".Config.Env", ".State", "$", "$x", ":=", "=", "|", "(", ")",
    "if", "else", "else if", "range", "with", "end", "define", "template", "block", "break", "continue",
    "printf", "println", "print", "len", "index", "slice", "json", "join", "split", "upper", "lower", "title",
    "truncate", "pad", "table", "and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "call", "html", "js",
    "urlquery", "nil", "true", "false", '"x"', '"%d %s %v %q %x %5.2f %-3s %%"', "`raw`", "'a'", "1", "-1", "0x1F",
    "1e3", "3.14", "\\t", "\n", "/*", "*/", ",", "{{/* c */}}", '"\\u00e9"', "ä", "\x00",
]

templates = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=30).map("".join),
    st.text(max_size=60),
)

_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                  st.text(max_size=10))
data = st.recursive(
    _leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(["Name", "Config", "Env", "State", "x", "a"]), inner,
                                            max_size=4)),
    max_leaves=12,
)
