"""The block structure of a declarative Jenkinsfile, without a Jenkins controller.

:func:`parse` reads ``name(args) { ... }`` blocks and plain statements (strings and comments
understood, so a brace in a string is no block); :func:`check` holds the declarative grammar's
shape: ``pipeline`` with ``agent`` and ``stages``, each ``stage('name')`` with exactly one of
``steps``/``stages``/``parallel``, sections only where the grammar allows them, and ``when``
conditions the grammar knows. Groovy syntax itself is checked by groovy-parser in the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Block", "JenkinsfileError", "check", "parse"]

PIPELINE_SECTIONS = {"agent", "options", "parameters", "triggers", "environment", "stages", "post", "tools",
                     "libraries"}
STAGE_SECTIONS = {"agent", "when", "input", "options", "environment", "steps", "stages", "parallel", "post",
                  "tools", "failFast"}
WHEN_CONDITIONS = {"branch", "tag", "expression", "not", "allOf", "anyOf", "triggeredBy", "changeRequest",
                   "beforeInput", "beforeAgent", "beforeOptions", "environment", "buildingTag", "changelog",
                   "changeset", "equals"}


class JenkinsfileError(ValueError):
    pass


@dataclass
class Block:
    head: str  # "stage('Test')", "pipeline", ...
    line: int
    children: list[Block] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        word = re.match(r"[A-Za-z_]\w*", self.head)
        return word.group(0) if word else self.head

    def child(self, name: str) -> Block | None:
        return next((c for c in self.children if c.name == name), None)


def parse(text: str) -> Block:
    """The file as a tree under a root block named ``<file>``."""
    root = Block("<file>", 0)
    stack, current, i, line = [root], "", 0, 1
    while i < len(text):
        ch = text[i]
        if text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else len(text)
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise JenkinsfileError(f"line {line}: unterminated comment")
            line += text.count("\n", i, end)
            i = end + 2
            continue
        quote = next((q for q in ("'''", '"""', "'", '"') if text.startswith(q, i)), None)
        if quote:
            end = i + len(quote)
            while True:
                end = text.find(quote, end)
                if end < 0 or (len(quote) == 1 and "\n" in text[i:end]):
                    raise JenkinsfileError(f"line {line}: unterminated string")
                if text[end - 1] != "\\":
                    break
                end += 1
            current += text[i:end + len(quote)]
            line += text.count("\n", i, end)
            i = end + len(quote)
            continue
        if ch == "{":
            block = Block(current.strip(), line)
            stack[-1].children.append(block)
            stack.append(block)
            current = ""
        elif ch == "}":
            if current.strip():
                stack[-1].statements.append(current.strip())
            current = ""
            if len(stack) == 1:
                raise JenkinsfileError(f"line {line}: '}}' closes nothing")
            stack.pop()
        elif ch in "\n;":
            if current.strip():
                stack[-1].statements.append(current.strip())
            current = ""
        else:
            current += ch
        line += ch == "\n"
        i += 1
    if len(stack) != 1:
        raise JenkinsfileError(f"'{stack[-1].head}' (line {stack[-1].line}) is never closed")
    return root


def _when(block: Block, problems: list[str]) -> None:
    for statement in block.statements:
        word = re.match(r"\w+", statement)
        name = word.group(0) if word else statement  # "{...}" and the like: reported as unknown, not a crash
        if name not in WHEN_CONDITIONS:
            problems.append(f"line {block.line}: unknown when condition {name!r}")
    for child in block.children:
        if child.name not in WHEN_CONDITIONS:
            problems.append(f"line {child.line}: unknown when condition {child.name!r}")
        if child.name != "expression":  # its body is Groovy, not conditions
            _when(child, problems)


def check(text: str) -> list[str]:
    """Problems with the declarative structure, one line each (empty: the shape is right)."""
    root = parse(text)
    problems: list[str] = []
    pipelines = [c for c in root.children if c.name == "pipeline"]
    if len(pipelines) != 1 or root.statements:
        return ["the file must be one pipeline { ... } block"]
    pipeline = pipelines[0]
    for child in pipeline.children:
        if child.name not in PIPELINE_SECTIONS:
            problems.append(f"line {child.line}: {child.name!r} is not a pipeline section")
    for required in ("agent", "stages"):
        if pipeline.child(required) is None:
            problems.append(f"pipeline has no {required}")
    stages = pipeline.child("stages")
    for stage in stages.children if stages else []:
        if not re.fullmatch(r"stage\('[^']+'\)", stage.head):
            problems.append(f"line {stage.line}: {stage.head!r} in stages is not stage('name')")
            continue
        kinds = [c.name for c in stage.children if c.name in ("steps", "stages", "parallel")]
        if len(kinds) != 1:
            problems.append(f"line {stage.line}: {stage.head} needs exactly one of steps, stages, parallel")
        for child in stage.children:
            if child.name not in STAGE_SECTIONS:
                problems.append(f"line {child.line}: {child.name!r} is not a stage section")
        when = stage.child("when")
        if when:
            _when(when, problems)
    return problems
