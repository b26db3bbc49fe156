"""Ruby's ``#inspect`` of decoded JSON values, for messages Resque builds with it.

Resque writes job descriptions such as ``(Job{high} | Archive | [44, "master"])``
into failure messages; matching them byte for byte needs Ruby's spelling of
``nil``, floats, strings and hashes. Hashes use Ruby 3.4's ``{"k" => v}``.
"""

from __future__ import annotations

from typing import Any

STRING_ESCAPES = {
    '"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\f": "\\f",
    "\v": "\\v", "\b": "\\b", "\a": "\\a", "\x1b": "\\e",
}  # fmt: skip


def ruby_inspect(value: Any) -> str:
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return ruby_float(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return ruby_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(ruby_inspect(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{ruby_inspect(k)} => {ruby_inspect(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    return ruby_string(str(value))


def ruby_float(value: float) -> str:
    """``1.0``, ``1.0e+20``, ``1.5e-05``: Python's repr with Ruby's ``.0`` mantissa."""
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    if "." not in mantissa and mantissa.lstrip("-").isdigit():
        mantissa += ".0"
    return f"{mantissa}{e}{exponent}"


def ruby_string(value: str) -> str:
    out = []
    for n, char in enumerate(value):
        if char in STRING_ESCAPES:
            out.append(STRING_ESCAPES[char])
        elif char == "#" and value[n + 1 : n + 2] in ("{", "$", "@"):
            out.append("\\#")  # Ruby escapes what would read as interpolation
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
