"""Resolve the effective health checks: defaults merged with the file, validated.

:func:`resolve_checks` is both the start-up validation (registered with
:func:`register_rules`, problems E050-E057) and the
builder of the :class:`~backoffice.catalog.checks.HealthCheck` list the runner uses.
"""
from __future__ import annotations

from typing import Any

import logging
import re

from backoffice.core.declarations import Declarations, Problem, Rules, did_you_mean, problem
from backoffice.core.defaults import DefaultOff, guess_column, toml_entry, variant_of
from backoffice.catalog.checks import (
    _CALL, _COMMON, COLUMN_VARIANTS, DEFAULT_CHECKS, HEALTH_OPTIONS, HEALTH_PROBLEM_IDS, KEY_FUNCTIONS, KINDS,
    HealthCheck, parse_key,
)

__all__ = ["resolve_checks", "defaults_off", "register_rules"]

log = logging.getLogger(__name__)


def resolve_checks(declarations: Declarations, reflection: Any) -> tuple[list[HealthCheck], list[Problem]]:
    """The effective checks (defaults merged with the file, adapted to the schema) and the
    file's problems."""
    checks, problems, _off = _resolve(declarations, reflection)
    return checks, problems


def defaults_off(declarations: Declarations, reflection: Any) -> list[DefaultOff]:
    """The built-in checks that do not fit this schema and are switched off."""
    return _resolve(declarations, reflection)[2]


def _resolve(declarations: Declarations, reflection: Any):
    checks: list[HealthCheck] = []
    problems: list[Problem] = []
    off: list[DefaultOff] = []
    entries = declarations.health if isinstance(declarations.health, dict) else {}
    names = list(DEFAULT_CHECKS) + [n for n in entries if n not in DEFAULT_CHECKS]
    for name in names:
        entry = entries.get(name)
        if entry is not None and not isinstance(entry, dict):
            continue  # reported as E003 by the shape check
        default = DEFAULT_CHECKS.get(name)
        if default is not None and entry is not None and entry.get("kind", default["kind"]) == default["kind"]:
            spec = {**default, **entry}
        else:
            spec = dict(entry if entry is not None else default)
        if spec.get("enabled", True) is False:
            continue
        if entry is None:  # an untouched default: adapt to the schema, or step aside
            spec, used = _adapt(spec, reflection)
            found = list(_validate(name, spec, declarations, reflection))
            if found:
                off.append(DefaultOff("health", name, found[0].message,
                                      toml_entry("health", name, _guessed(spec, reflection))))
            else:
                checks.append(_build(name, spec, reflection, default=True, adapted=used))
            continue
        found = list(_validate(name, spec, declarations, reflection))
        problems.extend(found)
        if not found:
            checks.append(_build(name, spec, reflection, default=default is not None))
    return checks, problems, off


def _check_health(declarations: Declarations, reflection: Any):
    checks, problems, off = _resolve(declarations, reflection)
    if off:  # runs once per start-up (and per `backoffice check`): one line, the report has the reasons
        log.warning("catalog health: built-in checks not applicable to this schema, switched off: %s "
                    "(the schema report says why and what would enable them)", ", ".join(o.name for o in off))
    for check in checks:
        if check.adapted:
            log.info("catalog health: built-in check %s uses %s", check.name, "; ".join(check.adapted))
    return problems


def _columns(reflection: Any, screen: str | None) -> list[str]:
    entry = reflection.tables.get(screen) if screen else None
    return [c.name for c in entry.table.columns] if entry is not None else []


def _adapt(spec: dict, reflection: Any) -> tuple[dict, tuple[str, ...]]:
    """The default with each missing column replaced by its first variant the table has."""
    table = spec.get("table", "movies")
    used: list[str] = []

    def swap(column: str, screen: str) -> str:
        found = variant_of(column, _columns(reflection, screen), COLUMN_VARIANTS)
        if found is None or found == column:
            return column
        used.append(f"{screen}.{found} for {column}")
        return found

    adapted = dict(spec)
    for option in ("fields", "only_with"):
        if option in spec:
            adapted[option] = [swap(c, table) for c in spec[option]]
    if "column" in spec:
        adapted["column"] = swap(spec["column"], table)
    if "key" in spec:
        adapted["key"] = [_replace_column(text, lambda c: swap(c, table)) for text in spec["key"]]
    if "where" in spec and spec.get("related"):
        adapted["where"] = {swap(c, spec["related"]): v for c, v in spec["where"].items()}
    return adapted, tuple(used)


def _guessed(spec: dict, reflection: Any) -> dict:
    """The default with each column still missing replaced by the closest name the
    table has (a starting point for the maintainer to review, not a promise)."""
    table = spec.get("table", "movies")

    def guess(column: str, screen: str | None) -> str:
        columns = _columns(reflection, screen)
        return column if not columns or column in columns else guess_column(column, columns) or column

    guessed = dict(spec)
    for option in ("fields", "only_with"):
        if option in spec:
            guessed[option] = [guess(c, table) for c in spec[option]]
    if "column" in spec:
        guessed["column"] = guess(spec["column"], table)
    if "key" in spec:
        guessed["key"] = [_replace_column(text, lambda c: guess(c, table)) for text in spec["key"]]
    if "where" in spec:
        guessed["where"] = {guess(c, spec.get("related")): v for c, v in spec["where"].items()}
    return {"table": table, **guessed}


def _replace_column(text: str, replace) -> str:
    """``lower(trim(title))`` with its column replaced."""
    try:
        _functions, column = parse_key(text)
    except ValueError:
        return text
    return re.sub(r"(?<![\w])" + re.escape(column) + r"(?![\w])", lambda _m: replace(column), text, count=1)


def register_rules(rules: Rules) -> None:
    """The ``[health.*]`` section: its options, problem ids E050-E057 and the checks' validation."""
    rules.declare_ids(HEALTH_PROBLEM_IDS)
    rules.declare_options("health", *HEALTH_OPTIONS)
    rules.add_check(_check_health)


def _validate(name: str, spec: dict, declarations: Declarations, reflection: Any):
    prefix = f"health.{name}"

    def bad(id: str, option: str, message: str, hint: str | None = None, table: str | None = None) -> Problem:
        return problem(id, declarations, f"{prefix}.{option}" if option else prefix, message,
                       table=table or spec.get("table", "movies"), hint=hint)

    kind = spec.get("kind")
    if kind is None:
        yield bad("backoffice.E050", "kind", "a check needs a kind", hint=did_you_mean("", KINDS))
        return
    if not isinstance(kind, str) or kind not in KINDS:
        yield bad("backoffice.E051", "kind", f"unknown check kind '{kind}'", hint=did_you_mean(str(kind), KINDS))
        return
    required, applies, _group = KINDS[kind]
    for option in spec:
        if option not in _COMMON and option not in applies and option in _all_kind_options():
            yield bad("backoffice.E052", option, f"'{option}' does not apply to a {kind} check",
                      hint="it applies to: " + ", ".join(k for k, v in KINDS.items() if option in v[1]))
    for option in required:
        if not spec.get(option):
            yield bad("backoffice.E050", option, f"a {kind} check needs '{option}'")
    if not all(_shape_ok(option, spec[option]) for option in spec):
        return  # wrong types are reported by the declarations' shape check (E005)
    table_name = spec.get("table", "movies")
    entry = reflection.tables.get(table_name)
    if entry is None:
        yield bad("backoffice.E053", "table", f"'{table_name}' is not a reflected table or view",
                  hint=did_you_mean(table_name, reflection.tables))
        return

    def unknown(option: str, column: str, where_table=entry, table_label: str = table_name) -> Problem | None:
        if column in where_table.table.c:
            return None
        return bad("backoffice.E054", option, f"'{column}' is not a column of '{table_label}'",
                   hint=did_you_mean(column, where_table.table.c.keys()), table=table_label)

    for index, column in enumerate(spec.get("fields", ()) if kind == "missing" else ()):
        if found := unknown(f"fields[{index}]", column):
            yield found
    for index, column in enumerate(spec.get("only_with", ())):
        if found := unknown(f"only_with[{index}]", column):
            yield found
    if kind == "missing" and spec.get("match", "any") not in ("any", "all"):
        yield bad("backoffice.E057", "match", f"match must be 'any' or 'all', not '{spec['match']}'")
    if kind == "duplicates":
        for index, text in enumerate(spec.get("key", ())):
            try:
                _functions, column = parse_key(text)
            except ValueError as exc:
                call = _CALL.match(text)
                hint = did_you_mean(call.group(1), KEY_FUNCTIONS) if call and "function" in str(exc) else None
                yield bad("backoffice.E055", f"key[{index}]", f"cannot read '{text}': {exc}", hint=hint)
                continue
            if found := unknown(f"key[{index}]", column):
                yield found
    if kind == "stale":
        if spec.get("column") and (found := unknown("column", spec["column"])):
            yield found
        if "days" in spec and spec["days"] < 1:
            yield bad("backoffice.E057", "days", f"days must be at least 1, not {spec['days']}")
    if "timeout_ms" in spec and spec["timeout_ms"] < 1:
        yield bad("backoffice.E057", "timeout_ms", f"timeout_ms must be at least 1, not {spec['timeout_ms']}")
    if kind == "coverage" and spec.get("related"):
        yield from _validate_coverage(spec, entry, table_name, reflection, bad, unknown)


def _validate_coverage(spec, entry, table_name, reflection, bad, unknown):
    related_name = spec["related"]
    related = reflection.tables.get(related_name)
    if related is None:
        yield bad("backoffice.E053", "related", f"'{related_name}' is not a reflected table or view",
                  hint=did_you_mean(related_name, reflection.tables), table=related_name)
        return
    for column, value in spec.get("where", {}).items():
        if found := unknown(f"where.{column}", column, related, related_name):
            yield found
        elif not _scalar_or_list(value):
            yield bad("backoffice.E057", f"where.{column}",
                      f"expected a value or a list of values, got {type(value).__name__}", table=related_name)
    via = spec.get("via")
    if via is not None:
        if found := unknown("via", via, related, related_name):
            yield found
        elif not any(fk.column.table is entry.table for fk in related.table.c[via].foreign_keys) \
                and len(entry.primary_key) != 1:
            yield bad("backoffice.E056", "via", f"'{related_name}.{via}' has no foreign key to '{table_name}' and "
                      f"'{table_name}' has no single-column primary key to compare it with", table=related_name)
        return
    pointing = _foreign_keys(related.table, entry.table)
    if len(pointing) != 1:
        found = "no foreign key" if not pointing else f"{len(pointing)} foreign keys (" + ", ".join(
            fk.parent.name for fk in pointing) + ")"
        yield bad("backoffice.E056", "related", f"'{related_name}' has {found} to '{table_name}'",
                  hint="name the column with via = \"...\"", table=related_name)


def _foreign_keys(related_table, table) -> list:
    found = []
    for fk in related_table.foreign_keys:
        try:
            if fk.column.table is table:
                found.append(fk)
        except Exception:  # a foreign key to a table outside the reflection cannot be ours
            continue
    return found


def _build(name: str, spec: dict, reflection: Any, *, default: bool, adapted: tuple[str, ...] = ()) -> HealthCheck:
    via = spec.get("via")
    if spec["kind"] == "coverage" and via is None:
        via = _foreign_keys(reflection.tables[spec["related"]].table,
                            reflection.tables[spec.get("table", "movies")].table)[0].parent.name
    return HealthCheck(
        name=name, kind=spec["kind"], table=spec.get("table", "movies"), label=spec.get("label", ""),
        fields=tuple(spec.get("fields", ())), match=spec.get("match", "any"), blank=spec.get("blank", True),
        key=tuple(spec.get("key", ())), column=spec.get("column"), days=spec.get("days"),
        related=spec.get("related"), via=via,
        where=tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in spec.get("where", {}).items())),
        only_with=tuple(spec.get("only_with", ())), timeout_ms=spec.get("timeout_ms"), default=default,
        adapted=adapted,
    )


def _all_kind_options() -> set[str]:
    return {option for _req, applies, _g in KINDS.values() for option in applies}


def _scalar_or_list(value: Any) -> bool:
    scalar = (str, int, float, bool)
    return isinstance(value, scalar) or (isinstance(value, list) and all(isinstance(v, scalar) for v in value))


_SHAPES = {"fields": list, "key": list, "only_with": list, "where": dict, "days": int, "timeout_ms": int,
           "related": str, "column": str, "table": str, "via": str, "match": str}


def _shape_ok(option: str, value: Any) -> bool:
    expected = _SHAPES.get(option)
    if expected is None:
        return True
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is list:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, expected)
