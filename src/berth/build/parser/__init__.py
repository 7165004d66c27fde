"""Dockerfile parsing with buildkit's grammar and docker's error messages.

    from berth.build.parser import parse
    df = parse(text)                 # DockerfileParseError on bad input
    df.instructions, df.directives, df.escape, df.warnings, df.dump()
    meta_args, stages = group_stages(df)   # ARGs before FROM, FROM ... AS name

`parse` reads the lines (core.py), parses each instruction's arguments the
way buildkit's line parsers do (lineparse.py) and then checks every
instruction as buildkit's instructions package does (checks.py): unknown
instructions, argument counts, unknown flags, HEALTHCHECK options, ...
"""

from berth.build.parser.checks import (
    ParsedFlags,
    Stage,
    check_instruction,
    group_stages,
    onbuild_trigger,
    parse_flags,
)
from berth.build.parser.core import parse_ast
from berth.build.parser.expand import expand_instruction, heredoc_content
from berth.build.parser.model import Dockerfile, DockerfileParseError, Heredoc, Instruction
from berth.build.parser.runmount import RunMount, parse_mount

__all__ = [
    "parse",
    "parse_ast",
    "DockerfileParseError",
    "Dockerfile",
    "Instruction",
    "Heredoc",
    "Stage",
    "ParsedFlags",
    "parse_flags",
    "group_stages",
    "check_instruction",
    "expand_instruction",
    "heredoc_content",
    "onbuild_trigger",
    "parse_mount",
    "RunMount",
]


def parse(text: str | bytes, name: str = "Dockerfile", *, check: bool = True) -> Dockerfile:
    """Parse a Dockerfile. With check (the default) every instruction is
    validated like docker's builder does before building, so an unknown
    instruction or a bad flag fails here with docker's message. Bytes are
    decoded as UTF-8, invalid bytes kept (surrogateescape) as Go keeps them."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "surrogateescape")
    if text == "":
        message = f"the Dockerfile ({name}) cannot be empty"
        raise DockerfileParseError(0, message, message)
    df = parse_ast(text, name)
    if check:
        for ins in df.instructions:
            check_instruction(ins)
    return df
