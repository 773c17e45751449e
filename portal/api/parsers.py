"""The API's JSON parser: any body it cannot turn into data is a 400 in the API's error shape.

DRF's own parser lets a RecursionError through (a few KB of nested `[` gives a 500) and answers
Python's own wording ("JSON parse error - Expecting value: line 1 column 1 (char 0)", "use
sys.set_int_max_str_digits()"). This one caps nesting and number length and says what is wrong.
"""

from __future__ import annotations

import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding

# No API body nests deeper than a few levels (a topic request's access entries are at depth 3).
MAX_DEPTH = 20
# The largest whole number any field accepts is Kafka's long max (19 digits).
MAX_NUMBER_DIGITS = 40


class _NumberTooLong(ValueError):
    pass


def _whole_number(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise _NumberTooLong
    return int(text)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number in JSON")


def _too_deep(data: object) -> bool:
    """True if lists/objects nest deeper than MAX_DEPTH (iterative: deep input cannot overflow it)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return False


class PortalJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"The request body is not valid {encoding} text.") from exc
        too_deep = ParseError(f"The request body nests lists or objects more than {MAX_DEPTH} levels deep.")
        try:
            data = json.loads(text, parse_int=_whole_number, parse_constant=_refuse_constant)
        except RecursionError as exc:
            raise too_deep from exc
        except _NumberTooLong as exc:
            raise ParseError(
                f"A number in the request body has more than {MAX_NUMBER_DIGITS} digits."
            ) from exc
        except json.JSONDecodeError as exc:
            raise ParseError(
                f"The request body is not valid JSON: {exc.msg[:1].lower()}{exc.msg[1:]} "
                f"at line {exc.lineno}, column {exc.colno}."
            ) from exc
        except ValueError as exc:
            raise ParseError(f"The request body is not valid JSON: {exc}.") from exc
        if _too_deep(data):
            raise too_deep
        return data
