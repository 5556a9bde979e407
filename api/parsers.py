"""The API's request parsers: DRF's, refusing before any view sees them what no field may hold.

A character no text of ours may hold (claims.bounds.REFUSED_CHARACTER: NUL, which PostgreSQL
refuses, other control characters, a lone surrogate no column can encode) in any text or key, a
number JSON cannot hold (1e400 parses as infinity) and JSON nested deeper
than claims.bounds.JSON_MAX_DEPTH (Python's parser would run out of stack on 100,000 levels)
are a 400 in the error shape naming the field by path (``lines[0].name``), as every other bad
input is. A body past DATA_UPLOAD_MAX_MEMORY_SIZE is refused by Django before parsing
(api/errors.py answers it). Settings' DEFAULT_PARSER_CLASSES names these three.
"""

import json
import math

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers
from rest_framework.utils import json as drf_json

from claims.bounds import JSON_MAX_DEPTH, NESTED_TOO_DEEP, NUMBER_TOO_LARGE, character_refusal, visible


def _path(parent: str, key) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


def refuse_hostile(data, *, max_depth: int = JSON_MAX_DEPTH) -> None:
    """Walk a parsed body (iteratively: its depth is what is checked) and raise a ValidationError
    naming the first text holding a refused character or over-deep value by its path."""
    pending = [(data, "", 0)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, str):
            if refusal := character_refusal(value):
                raise exceptions.ValidationError({path or "non_field_errors": [refusal]})
            continue
        if isinstance(value, float) and not math.isfinite(value):  # 1e400 parses as infinity
            raise exceptions.ValidationError({path or "non_field_errors": [str(NUMBER_TOO_LARGE)]})
        if not isinstance(value, (dict, list)):
            continue
        if depth >= max_depth:
            raise exceptions.ValidationError({path or "non_field_errors": [NESTED_TOO_DEEP % {"depth": max_depth}]})
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str) and (refusal := character_refusal(key)):
                # The key itself is the field: named as JSON would escape it.
                raise exceptions.ValidationError({_path(path, visible(key)): [refusal]})
            pending.append((item, _path(path, key), depth + 1))


def top_level_key_of_deep_value(text: str, max_depth: int) -> str:
    """The top-level key under which ``text`` (JSON Python could not parse for its depth) first
    nests past ``max_depth``: one pass over its characters, strings skipped."""
    depth, in_string, escaped = 0, False, False
    key_start, last_key, previous = None, "", ""  # previous: the last character outside strings
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                if key_start is not None:
                    last_key, key_start = text[key_start:index], None
                previous = char
            continue
        if char.isspace():
            continue
        if char == '"':
            in_string = True
            if depth == 1 and previous in ("{", ","):
                key_start = index + 1
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                return last_key
        elif char in "]}":
            depth -= 1
        previous = char
    return ""


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
            data = json.loads(text, parse_constant=drf_json.strict_constant if self.strict else None)
        except RecursionError:
            key = top_level_key_of_deep_value(text, JSON_MAX_DEPTH)
            raise exceptions.ValidationError({key or "non_field_errors": [NESTED_TOO_DEEP % {"depth": JSON_MAX_DEPTH}]}) from None
        except ValueError as error:
            raise exceptions.ParseError(_("JSON parse error - %s") % error) from None  # DRF's own message
        refuse_hostile(data)
        return data


def _refuse_characters_in_form(data) -> None:
    for key, values in data.lists():
        for value in (key, *values):
            if isinstance(value, str) and (refusal := character_refusal(value)):
                raise exceptions.ValidationError({visible(key): [refusal]})


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _refuse_characters_in_form(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        _refuse_characters_in_form(parsed.data)
        return parsed
