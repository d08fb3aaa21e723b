"""Read a scenario file: YAML with line numbers, ``--set`` overrides, one complete report.

Theory of operation.  The YAML is parsed once into a node tree (which knows each key's
line) and constructed into plain data.  Overrides (``mtas.backup.delivery_slots=4``)
change that data.  Then two passes run over it and *both* always run: the pydantic
field validation (:mod:`sim.scenario.model`) and the cross-section checks
(:mod:`sim.scenario.checks`).  Every problem is turned into ``file:line: path:
message`` (or ``--set ITEM: path: message`` when an override brought the value in),
and if there is any, one :class:`ScenarioError` lists them all.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sim.scenario.checks import Found, Loc, check_sections, dotted
from sim.scenario.errors import Problem, ScenarioError
from sim.scenario.model import Scenario

__all__ = ["apply_override", "load_scenario", "parse_scenario"]


class OverrideError(ValueError):
    """A ``--set`` item that names no place in the scenario."""


def load_scenario(path: str | Path, *, overrides: Sequence[str] = ()) -> Scenario:
    """Read, override and validate a scenario file; raises :class:`ScenarioError`.

    File references in the scenario (``main_cf_file``, zone ``file``) are relative to
    the scenario file's directory.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(
            [Problem(str(path), None, "", f"cannot read: {exc.strerror}")]
        ) from None
    except UnicodeDecodeError:
        raise ScenarioError([Problem(str(path), None, "", "not UTF-8 text")]) from None
    scenario = parse_scenario(text, source=str(path), base_dir=path.parent, overrides=overrides)
    scenario._source_path = path
    return scenario


def parse_scenario(
    text: str,
    *,
    source: str = "<scenario>",
    base_dir: Path | None = None,
    overrides: Sequence[str] = (),
) -> Scenario:
    """Like :func:`load_scenario` for YAML text already in memory."""
    base = base_dir if base_dir is not None else Path.cwd()
    data, lines = _read_yaml(text, source)
    problems: list[Problem] = []
    overridden: dict[Loc, str] = {}
    for item in overrides:
        try:
            overridden[apply_override(data, item)] = item
        except OverrideError as exc:
            problems.append(Problem(f"--set {item}", None, "", str(exc)))
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        message = f"expected a mapping of sections (name, duration, mtas, ...), got {got}"
        raise ScenarioError([*problems, Problem(source, 1, "", message)])
    found: Found = []
    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(data, context={"checked": True})
    except ValidationError as exc:
        found += translate(exc)
    found += check_sections(data, base)
    for loc, message in found:
        problems.append(_locate(loc, message, source, lines, overridden))
    if problems or scenario is None:
        raise ScenarioError(_ordered(problems))
    scenario._base_dir = base
    return scenario


# -- YAML with line numbers ---------------------------------------------------------------


def _read_yaml(text: str, source: str) -> tuple[Any, dict[Loc, int]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        column = f" (column {mark.column + 1})" if mark is not None else ""
        what = exc.problem or exc.context or "cannot parse"
        raise ScenarioError(
            [Problem(source, line, "", f"YAML syntax error: {what}{column}")]
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(source, None, "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {(): 1}
    duplicates: list[Problem] = []
    if node is not None:
        _lines(node, (), lines, duplicates, source)
    if duplicates:
        raise ScenarioError(duplicates)
    return data, lines


def _lines(
    node: yaml.Node, loc: Loc, out: dict[Loc, int], dups: list[Problem], source: str
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                line = key_node.start_mark.line + 1
                dups.append(Problem(source, line, dotted((*loc, key)), "duplicate key"))
            seen.add(key)
            out[(*loc, key)] = key_node.start_mark.line + 1
            _lines(value_node, (*loc, key), out, dups, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*loc, i)] = item.start_mark.line + 1
            _lines(item, (*loc, i), out, dups, source)


def _locate(
    loc: Loc, message: str, source: str, lines: dict[Loc, int], overridden: dict[Loc, str]
) -> Problem:
    for n in range(len(loc), -1, -1):
        if loc[:n] in overridden:
            return Problem(f"--set {overridden[loc[:n]]}", None, dotted(loc), message)
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return Problem(source, lines[loc[:n]], dotted(loc), message)
    return Problem(source, None, dotted(loc), message)  # pragma: no cover


def _ordered(problems: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.where.startswith("--set"), p.line or 0, p.path))


# -- pydantic errors in our words -----------------------------------------------------------


def translate(exc: ValidationError) -> Found:
    """pydantic's errors as ``(location, message)``, with the expected keys for typos."""
    found: Found = []
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(err["loc"])
        kind, message = err["type"], err["msg"]
        if kind == "extra_forbidden":
            fields = sorted(_model_at(loc[:-1]) or ())
            message = f"unknown key {str(loc[-1])!r}"
            close = difflib.get_close_matches(str(loc[-1]), fields, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            message += f" ({hint}expected one of: {', '.join(fields)})"
        elif kind == "missing":
            message = "required field missing"
        elif kind in ("value_error", "assertion_error") and "error" in err.get("ctx", {}):
            message = str(err["ctx"]["error"])
        else:
            message = message[:1].lower() + message[1:]
            value = err.get("input")
            if isinstance(value, str | int | float | bool) or value is None:
                message += f" (got {value!r})"
        found.append((loc, message))
    return found


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            tp = models[0] if models else members[0]
        else:
            return tp


def _model_at(loc: Loc) -> dict[str, Any] | None:
    """The fields of the model at ``loc`` in a scenario, or None when it is no model."""
    tp: Any = Scenario
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        elif typing.get_origin(tp) is list:
            tp = typing.get_args(tp)[0]
        else:
            return None
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return dict(tp.model_fields)
    return None


# -- overrides -----------------------------------------------------------------------------


def _parse_value(text: str) -> Any:
    if not text.strip():
        return ""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise OverrideError(f"the value is not YAML: {exc}") from None


def _parts(path: str) -> list[str]:
    # links[2].loss reads as links.2.loss
    text = path.strip().replace("[", ".").replace("]", "")
    parts = text.split(".")
    if not path.strip() or any(not p for p in parts):
        raise OverrideError(f"bad path {path!r} (expected dotted keys, e.g. mtas.backup.retry)")
    return parts


def apply_override(data: Any, item: str) -> Loc:
    """Apply one ``path=value`` to the raw scenario data in place; returns the location.

    Keys may contain dots (``mtas.mx1.example.com.delivery_slots``): at each level the
    longest run of parts that is an existing key is taken.  A list element is named by
    its index (``links.0.loss`` or ``links[0].loss``).  The last key may be new (the
    validation then says whether it is allowed); a section the schema knows but the
    file leaves out (``mtas.mx1.retry``) is created on the way.
    """
    path, eq, text = item.partition("=")
    if not eq:
        raise OverrideError("expected PATH=VALUE, e.g. --set mtas.backup.delivery_slots=4")
    parts = _parts(path)
    value = _parse_value(text)
    if not isinstance(data, dict):
        raise OverrideError("the scenario is not a mapping")
    node: Any = data
    loc: list[str | int] = []
    i = 0
    while True:
        rest = parts[i:]
        key: str | int
        if isinstance(node, dict):
            for k in range(len(rest), 0, -1):
                if ".".join(rest[:k]) in node:
                    key, step = ".".join(rest[:k]), k
                    break
            else:
                key, step = rest[0], 1
                fields = _model_at(tuple(loc))
                if len(rest) > 1 and (fields is None or key not in fields):
                    where = dotted(tuple(loc)) or "the top level"
                    have = ", ".join(str(k) for k in node) or "nothing"
                    raise OverrideError(f"no {key!r} in {where} (has: {have})")
        elif isinstance(node, list):
            if not rest[0].isdigit() or int(rest[0]) >= len(node):
                raise OverrideError(
                    f"{dotted(tuple(loc))} is a list of {len(node)}: expected an index "
                    f"0..{len(node) - 1}, got {rest[0]!r}"
                )
            key, step = int(rest[0]), 1
        else:
            raise OverrideError(f"{dotted(tuple(loc))} is a value, not a section")
        loc.append(key)
        i += step
        if i == len(parts):
            node[key] = value
            return tuple(loc)
        if isinstance(node, dict) and node.get(key) is None:
            node[key] = {}
        node = node[key]
