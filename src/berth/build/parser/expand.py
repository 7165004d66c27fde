"""Variable expansion of instruction arguments, on the instructions docker
expands and in the way it expands them.

Expanded (each word through ShellLexer.process_word unless said otherwise):
- ENV, LABEL: every key and every value;
- ARG: the name and the default value (split at the first `=` first);
- ADD, COPY: every source and the destination, and the --chown, --chmod
  and (COPY) --from flag values;
- WORKDIR, USER, STOPSIGNAL: the single argument; VOLUME: every path;
- EXPOSE: every word with process_words, so `EXPOSE $PORTS` with
  PORTS="80 443" gives two ports (the only word-to-words expansion);
- FROM: the base image and --platform, with the meta ARGs only (the caller
  passes those as `env`).
Never expanded by the builder: RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK
(the container's shell does it), MAINTAINER, ONBUILD (its trigger is
expanded when it runs in a child build).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from berth.build.parser.model import Heredoc, Instruction
from berth.build.shell_lexer import EXPANDED_INSTRUCTIONS, ShellLexer

__all__ = ["expand_instruction", "heredoc_content", "EXPANDED_INSTRUCTIONS"]

_FLAG_EXPANDED = {
    "ADD": ("chown", "chmod"),
    "COPY": ("chown", "chmod", "from"),
    "FROM": ("platform",),
}


def expand_instruction(
    ins: Instruction, env: Mapping[str, str], escape: str = "\\"
) -> Instruction:
    """A copy of `ins` with its arguments (and expandable flag values)
    expanded against `env`. ShellLexError propagates (docker fails the
    step with that message)."""
    kw = ins.keyword
    if kw not in EXPANDED_INSTRUCTIONS:
        return dataclasses.replace(ins)
    lex = ShellLexer(escape)
    word = lex.process_word
    args: list[str]
    if kw in ("ENV", "LABEL"):
        args = [word(a, env) for a in ins.args]
    elif kw == "ARG":
        args = []
        for a in ins.args:
            if "=" in a:
                k, v = a.split("=", 1)
                args.append(word(k, env) + "=" + word(v, env))
            else:
                args.append(word(a, env))
    elif kw == "EXPOSE":
        args = [p for a in ins.args for p in lex.process_words(a, env)]
    elif kw == "FROM":
        args = list(ins.args)
        if args:
            args[0] = word(args[0], env)
    else:
        args = [word(a, env) for a in ins.args]
    flags = list(ins.flags)
    names = _FLAG_EXPANDED.get(kw, ())
    if names:
        for i, f in enumerate(flags):
            name, eq, value = f[2:].partition("=")
            if eq and name in names:
                flags[i] = f"--{name}={word(value, env)}"
    return dataclasses.replace(ins, args=args, flags=flags)


def heredoc_content(doc: Heredoc, env: Mapping[str, str]) -> str:
    """A COPY/ADD heredoc body as the build writes it: leading tabs removed
    for `<<-`, then, unless the delimiter was quoted, variables expanded the
    way buildkit's ExpandRaw does (quotes left alone, `\\` escapes applied,
    whatever the file's escape directive). RUN heredocs are not expanded by
    the builder: the shell that runs them does that."""
    text = doc.chomped()
    if not doc.expand:
        return text
    return ShellLexer("\\", skip_process_quotes=True).process_word(text, env)
