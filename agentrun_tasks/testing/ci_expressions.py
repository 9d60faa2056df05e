"""The two expression languages generated pipelines use, read as the platforms document them:
GitLab's ``rules:if`` and GitHub's ``if:`` (plus GitHub's branch and tag filter patterns). Only
what the generated files need; anything else raises, so a new construct cannot pass unread.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

__all__ = ["github_glob", "github_if", "gitlab_if"]


def _tokens(pattern: re.Pattern, expression: str) -> list[str]:
    """The expression's tokens, last first (the parsers pop them); unreadable text raises."""
    tokens, pos = [], 0
    while expression[pos:].strip():
        m = pattern.match(expression, pos)
        if not m:
            raise ValueError(f"cannot read {expression[pos:]!r} in {expression!r}")
        tokens.append(m.group(1))
        pos = m.end()
    return tokens[::-1]


_GL_TOKEN = re.compile(r"\s*(\(|\)|&&|\|\||==|!=|=~|!~|\$[A-Za-z_]\w*|\"[^\"]*\"|'[^']*'|/(?:\\.|[^/])*/|null)")


def _either(tokens: list[str], operand: Callable[[], object]) -> object:
    """``a && b || c`` over ``operand`` (which pops its own tokens from the end of ``tokens``),
    ``&&`` binding tighter, as both GitLab and GitHub read it."""
    def both() -> object:
        result = operand()
        while tokens and tokens[-1] == "&&":
            tokens.pop()
            result = operand() and result
        return result

    result = both()
    while tokens and tokens[-1] == "||":
        tokens.pop()
        result = both() or result
    return result


def gitlab_if(expression: str, variables: Mapping[str, str]) -> bool:
    """GitLab's ``rules:if``: $VAR, "string", /regex/, ==, !=, =~, !~, &&, ||, parentheses;
    a variable that is unset or empty is false on its own and null in a comparison."""
    tokens = _tokens(_GL_TOKEN, expression)

    def value(tok: str):
        if tok.startswith("$"):
            return variables.get(tok[1:]) or None
        if tok == "null":
            return None
        return tok[1:-1]

    def primary():
        tok = tokens.pop()
        if tok == "(":
            result = disjunction()
            assert tokens.pop() == ")"
            return result
        left = value(tok)
        if tokens and tokens[-1] in ("==", "!=", "=~", "!~"):
            op, right = tokens.pop(), tokens.pop()
            if op in ("==", "!="):
                return (left == value(right)) == (op == "==")
            found = left is not None and re.search(right[1:-1], left) is not None
            return found == (op == "=~")
        return bool(left)

    def disjunction():
        return _either(tokens, primary)

    result = disjunction()
    if tokens:
        raise ValueError(f"left over in {expression!r}: {tokens}")
    return result


def github_glob(pattern: str, ref: str) -> bool:
    """GitHub's filter patterns: ``*`` stops at /, ``**`` does not, ``[0-9]`` is a class."""
    rx = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            rx, i = rx + ".*", i + 2
        elif pattern[i] == "*":
            rx, i = rx + "[^/]*", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            rx, i = rx + pattern[i:end + 1], end + 1
        else:
            rx, i = rx + re.escape(pattern[i]), i + 1
    return re.fullmatch(rx, ref) is not None


_GH_TOKEN = re.compile(r"\s*(\(|\)|&&|\|\||==|!=|!|,|'[^']*'|[A-Za-z_][\w.-]*)")


def github_if(expression: str, context: Mapping[str, object]) -> bool:
    """GitHub's expressions as the generated files use them: contexts, 'strings', ==, !=, !, &&,
    ||, parentheses and startsWith(); comparisons of strings ignore case, as GitHub's do."""
    tokens = _tokens(_GH_TOKEN, expression)

    def atom():
        tok = tokens.pop()
        if tok == "(":
            result = disjunction()
            tokens.pop()
            return result
        if tok == "!":
            return not atom()
        if tok == "startsWith":
            tokens.pop()
            text, _, prefix = str(atom()), tokens.pop(), str(atom())
            tokens.pop()
            return text.lower().startswith(prefix.lower())
        if tok.startswith("'"):
            return tok[1:-1]
        return context.get(tok, "")

    def comparison():
        left = atom()
        if tokens and tokens[-1] in ("==", "!="):
            op, right = tokens.pop(), atom()
            return (str(left).lower() == str(right).lower()) == (op == "==")
        return bool(left)

    def disjunction():
        return _either(tokens, comparison)

    return bool(disjunction())
