"""The declarative file: one TOML file describes the whole console.

Sections (each owned by the subsystem that reads it)::

    [views.<table>]     screens: labels, columns, filters, roles...   (views/)
    [health.<name>]     catalog-health checks                          (backoffice/catalog/)
    [queues.<name>]     review queues                                  (views/review_queue...)
    [hooks]             extra audit hooks: audit = ["pkg.mod:func"]    (audit_hooks/)
    [pages.<name>]      declared read-only pages from one SELECT        (views/page_spec.py)

Loading only parses. What the file may hold and how it is checked is a
:class:`Rules` object: each subsystem adds its section's options, its problem ids and
its checks through its own ``register_rules(rules)``, which the composition root
calls (``console.app.console_rules``); nothing registers itself on import. A
check receives the declarations and the reflected schema and yields
:class:`Problem` objects. Every problem is reported at once, each naming the file,
the table, the option (with index), the value, a hint and a stable id; errors stop
start-up, warnings are logged. ``backoffice check`` prints the same.

Problem ids are declared with :meth:`Rules.declare_ids` (one line each) so the
guide and its test can list them all. Ranges: E00x file, E01x-E04x views,
E05x-E06x health, E07x-E08x queues, E09x hooks, E11x pages; warnings W0xx likewise.
"""
from __future__ import annotations

import difflib
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Option", "Rules", "Declarations", "SCHEMA_ID", "DeclarationError", "Problem", "FILE_PROBLEM_IDS", "SECTIONS",
    "load_declarations", "check_all", "did_you_mean", "problem",
]

#: Top-level sections the file may hold.
SECTIONS = ("views", "health", "queues", "hooks", "pages")

#: The file's own problem ids; every subsystem declares its own through :class:`Rules`.
FILE_PROBLEM_IDS: dict[str, str] = {
    "backoffice.E001": "the file cannot be read or is not valid TOML",
    "backoffice.E002": "unknown top-level section",
    "backoffice.E003": "a section or entry has the wrong shape (a table was expected)",
    "backoffice.E004": "unknown option in an entry",
    "backoffice.E005": "an option's value has the wrong type",
}


@dataclass(frozen=True)
class Option:
    """One key an entry of a section may hold; the maintainer's guide lists them all.

    ``kind`` is one of: str, int, bool, str-list, str|str-list, table, dict, any. Deeper checks
    (columns exist, roles are known...) belong to the owning subsystem's checks.
    """

    name: str
    kind: str
    help: str
    default: Any = None
    example: str | None = None


#: The JSON Schema of each option kind (editor completion; see :meth:`Rules.json_schema`).
_KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "bool": {"type": "boolean"},
    "str-list": {"type": "array", "items": {"type": "string"}},
    "str|str-list": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    "table": {"type": "object"},
    "dict": {"type": "object"},
    "any": {},
}
#: ``$id`` of the generated JSON Schema.
SCHEMA_ID = "https://backoffice.invalid/declarative-file.schema.json"
_KINDS: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "str-list": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
    "str|str-list": lambda v: isinstance(v, str) or (isinstance(v, list) and all(isinstance(i, str) for i in v)),
    "table": lambda v: isinstance(v, dict),
    "dict": lambda v: isinstance(v, dict),
    "any": lambda v: True,
}


@dataclass(frozen=True)
class Problem:
    """One finding about the declarative file (or the schema it refers to)."""

    id: str
    level: str  # "error" | "warning"
    file: str
    option: str  # dotted path with index, e.g. "views.movies.list[2]"
    message: str
    table: str | None = None
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.level == "error"

    def __str__(self) -> str:
        where = f"{self.file}: {self.option}"
        text = f"{where}: {self.message}"
        if self.hint:
            text += f"; {self.hint}"
        return f"{text} [{self.id}]"


class DeclarationError(ValueError):
    """The declarative file has errors; start-up stops. ``problems`` holds them all."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("the declarative file has errors:\n  " + "\n  ".join(str(p) for p in problems))


@dataclass
class Declarations:
    """The parsed file. Empty sections when there is no file (safe generated defaults)."""

    path: Path | None = None
    views: dict[str, Any] = field(default_factory=dict)
    health: dict[str, Any] = field(default_factory=dict)
    queues: dict[str, Any] = field(default_factory=dict)
    hooks: dict[str, Any] = field(default_factory=dict)
    pages: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)  # found while parsing

    @property
    def file(self) -> str:
        return str(self.path) if self.path else "<defaults>"


def problem(id: str, declarations: Declarations, option: str, message: str, *, table: str | None = None,
            hint: str | None = None) -> Problem:
    """Build a problem; the level follows from the id (E... error, W... warning)."""
    level = "warning" if id.split(".", 1)[1].startswith("W") else "error"
    return Problem(id=id, level=level, file=declarations.file, option=option, message=message, table=table,
                   hint=hint)


def did_you_mean(value: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest choice, or listing a few when nothing is close."""
    choices = sorted(set(choices))
    close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if choices and len(choices) <= 8:
        return "expected one of: " + ", ".join(f"'{c}'" for c in choices)
    return None


def load_declarations(path: Path | str | None) -> Declarations:
    """Parse the file at ``path`` (None: no file, defaults everywhere).

    Parsing problems are recorded in ``declarations.problems`` rather than raised,
    so they are reported together with the schema checks.
    """
    declarations = Declarations(path=Path(path) if path else None)
    if path is None:
        return declarations
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        declarations.problems.append(problem("backoffice.E001", declarations, "<file>", "the file does not exist"))
        return declarations
    except (OSError, UnicodeDecodeError) as exc:
        declarations.problems.append(problem("backoffice.E001", declarations, "<file>", f"cannot be read: {exc}"))
        return declarations
    except tomllib.TOMLDecodeError as exc:
        declarations.problems.append(problem("backoffice.E001", declarations, "<file>", f"is not valid TOML: {exc}"))
        return declarations
    for key, value in data.items():
        if key not in SECTIONS:
            declarations.problems.append(problem(
                "backoffice.E002", declarations, key, f"unknown section '{key}'", hint=did_you_mean(key, SECTIONS)))
            continue
        if not isinstance(value, dict):
            declarations.problems.append(problem(
                "backoffice.E003", declarations, key, f"'{key}' must be a table ([{key}.<name>])"))
            continue
        setattr(declarations, key, value)
    return declarations


Check = Callable[[Declarations, Any], Iterable[Problem]]


class Rules:
    """What the declarative file may hold: options per section, problem ids, checks.

    Built empty but for the file's own ids; each subsystem's ``register_rules(rules)``
    adds its part, called by the composition root in a fixed order.
    """

    def __init__(self) -> None:
        self.problem_ids: dict[str, str] = dict(FILE_PROBLEM_IDS)
        self.options: dict[str, dict[str, Option]] = {section: {} for section in SECTIONS}
        self.checks: list[Check] = []

    def declare_ids(self, ids: dict[str, str]) -> None:
        """Add problem ids with their one-line meaning; an id declared twice is a programming error."""
        for id, meaning in ids.items():
            if self.problem_ids.get(id, meaning) != meaning:
                raise ValueError(f"problem id {id} declared twice with different meanings")
            self.problem_ids[id] = meaning

    def declare_options(self, section: str, *options: Option) -> None:
        """Declare the keys entries of ``section`` accept."""
        for option in options:
            if option.kind not in _KINDS:
                raise ValueError(f"unknown option kind {option.kind!r} for {section}.{option.name}")
            self.options[section][option.name] = option

    def add_check(self, check: Check) -> None:
        """Add a validation function: it receives the declarations and the
        :class:`~models.reflection.Reflection` and yields problems."""
        if check not in self.checks:
            self.checks.append(check)

    def json_schema(self) -> dict[str, Any]:
        """The whole file as a JSON Schema, generated from the same option declarations the
        checks use, so editors (Taplo / Even Better TOML) complete and flag exactly what
        ``backoffice check`` accepts. Schema-dependent checks (columns exist...) stay in ``check``."""
        def entry(section: str) -> dict[str, Any]:
            properties = {}
            for option in self.options[section].values():
                schema = dict(_KIND_SCHEMAS[option.kind])
                schema["description"] = option.help
                if option.default is not None and not isinstance(option.default, str):
                    schema["default"] = option.default
                properties[option.name] = schema
            return {"type": "object", "properties": properties, "additionalProperties": False}

        sections: dict[str, Any] = {}
        for section in SECTIONS:
            if section == "hooks":
                sections[section] = entry(section)
            else:
                sections[section] = {"type": "object", "additionalProperties": entry(section)}
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": SCHEMA_ID,
            "title": "Backoffice declarative file",
            "description": "backoffice.toml: every option, generated by `backoffice schema`.",
            "type": "object",
            "properties": sections,
            "additionalProperties": False,
        }

    def _option_shapes(self, declarations: Declarations) -> Iterable[Problem]:
        """Unknown keys and wrong value types, for every section that declared options.
        (``hooks`` is a single table, the others hold one table per entry.)"""
        for section in SECTIONS:
            declared = self.options[section]
            if not declared:
                continue
            entries = {"": getattr(declarations, section)} if section == "hooks" else getattr(declarations, section)
            for name, entry in entries.items():
                prefix = f"{section}.{name}" if name else section
                if not isinstance(entry, dict):
                    yield problem("backoffice.E003", declarations, prefix, f"'{prefix}' must be a table")
                    continue
                for key, value in entry.items():
                    option = declared.get(key)
                    if option is None:
                        yield problem("backoffice.E004", declarations, f"{prefix}.{key}", f"unknown option '{key}'",
                                      table=name or None, hint=did_you_mean(key, declared))
                    elif not _KINDS[option.kind](value):
                        yield problem("backoffice.E005", declarations, f"{prefix}.{key}",
                                      f"expected {option.kind}, got {type(value).__name__} {value!r}",
                                      table=name or None)


def check_all(declarations: Declarations, reflection: Any, rules: Rules) -> list[Problem]:
    """Parsing problems, option shapes, then every check of ``rules``, in a stable order.
    A problem whose id ``rules`` does not declare is a programming error (KeyError)."""
    problems = list(declarations.problems)
    problems.extend(rules._option_shapes(declarations))
    for check in rules.checks:
        problems.extend(check(declarations, reflection))
    undeclared = sorted({p.id for p in problems} - set(rules.problem_ids))
    if undeclared:
        raise KeyError(f"undeclared problem ids {undeclared}: declare them with Rules.declare_ids")
    return problems
