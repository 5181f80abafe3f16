"""``backoffice scaffold``: write a starter declarative file from the reflected schema.

Every table and view gets its ``[views.<name>]`` header and every option with the
value the console uses when the option is absent, commented out: a maintainer
uncomments and edits instead of starting from nothing. Lines starting with ``# key =``
are options (valid as they stand once uncommented); ``##`` lines are explanations.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import click
from sqlalchemy.engine import make_url

from backoffice.core.engine import create_engine
from backoffice.core.settings import SettingsError, load_settings
from models.reflection import reflect
from views.base import ReflectedModelView
from views.columns import UNSORTABLE, category_of
from views.formatters import type_family
from views.approval_capture import DEFAULT_HOURS
from views.report import defaults_not_applicable
from views.safeguards import CONFIRM_SECONDS, REASON_KINDS
from views.tuning import DEFAULT_ORDER

__all__ = ["scaffold_command", "render_scaffold", "register_commands"]

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _key(name: str) -> str:
    """A TOML key: bare when possible, else a quoted basic string."""
    return name if _BARE.fullmatch(name) else json.dumps(name, ensure_ascii=False)


def _list(values) -> str:
    return json.dumps(list(values), ensure_ascii=False)


def _entry(screen: str, entry) -> list[str]:
    columns = list(entry.table.columns)
    names = [c.name for c in columns]
    families = {c.name: type_family(c.type) for c in columns}
    text_columns = [n for n in names if families[n] == "text"]
    converter = ReflectedModelView.filter_converter
    filters = [c.name for c in columns if c.name not in entry.primary_key and families[c.name] != "text"
               and converter.convert(type(c.type).__name__, c, c.name)]
    sortable = [c.name for c in columns if category_of(c) not in UNSORTABLE]
    kind = f"{entry.kind}, {'read-only' if entry.read_only else 'CRUD'}"
    lines = [f"## {entry.qualified_name}: {kind}; {len(columns)} columns; primary key "
             f"{', '.join(entry.primary_key) or '(none)'}"]
    lines += [f"## note: {note}" for note in entry.notes]
    lines.append(f"[views.{_key(screen)}]")
    options = [
        ("label", json.dumps(screen, ensure_ascii=False)),
        ("category", '"Schema"'),
        ("order", str(DEFAULT_ORDER)),
        ("hidden", "false"),
        ("list", _list(names)),
        ("details", _list(names)),
        ("never_show", "[]"),
        ("search", _list(text_columns)),
        ("filters", _list(filters)),
        ("sortable", _list(sortable)),
        ("sort", _list(entry.primary_key)),
        ("page_size", str(ReflectedModelView.page_size)),
        ("count", '"auto"'),
        ("export", "true"),
        ("read_only", "true" if entry.read_only else "false"),
    ]
    for key, attribute in (("create", "create_role"), ("edit", "edit_role"), ("delete", "delete_role")):
        role = None if entry.read_only else getattr(ReflectedModelView, attribute)
        options.append((key, json.dumps(role or "nobody")))
    options.append(("revert", "false" if entry.read_only else "true"))
    options.append(("revert_role", '"operator"'))  # the role the change itself needed, unless raised
    if not entry.read_only:
        options.append(("reason", "{ " + ", ".join(f'{kind} = "optional"' for kind in REASON_KINDS) + " }"))
        options.append(("confirm_delete_seconds", str(CONFIRM_SECONDS)))
        options.append(("approval_hours", str(DEFAULT_HOURS)))
    lines += [f"# {key} = {value}" for key, value in options]
    if not entry.read_only:  # explanations: each switches a safeguard on, there is no "off" value to write
        lines.append(f'## confirm_delete = "{"label" if entry.primary_key else "key"}"  '
                     "# deleting asks to type the row's label (or key); several rows: their count")
        lines.append('## approval = { delete = "admin" }  # a second operator with this role applies the change')
    formatters = {n: families[n] for n in names if families[n] in ("date", "datetime")}
    if formatters:
        lines.append("# formatters = { " + ", ".join(f'{_key(n)} = "{f}"' for n, f in formatters.items()) + " }")
    vectors = [c.name for c in columns if category_of(c) == "tsvector"]
    if vectors:  # an explanation, not an option: it replaces search, which is written above
        lines.append(f'## fulltext = "{vectors[0]}"  # search with this tsvector and its index instead of search')
    lines.append(f'## labels = {{ {_key(names[0])} = "{names[0].replace("_", " ").title()}" }}')
    lines.append(f'## links = {{ {_key(names[0])} = "https://example.com/{{{names[0]}}}" }}')
    if not entry.read_only:
        lines.append(f'## actions.clear = {{ label = "Clear", set = {{ {_key(names[-1])} = "null()" }}, role = "operator" }}')
    return lines


#: The JSON Schema written beside the file; TOML editors find it through the first line.
SCHEMA_FILE = "backoffice.schema.json"


def render_scaffold(reflection, source: str = "the database") -> str:
    """The starter file for ``reflection`` as TOML text."""
    out = [
        f"#:schema ./{SCHEMA_FILE}",
        "# The declarative file of this console (docs/declarative.md explains every option).",
        f"# Written by `backoffice scaffold` from {source}: {len(reflection.tables)} tables and views.",
        "# Uncomment and edit; an absent option keeps the value shown. `backoffice check` validates it.",
        "",
    ]
    for screen, entry in reflection.tables.items():
        out += _entry(screen, entry)
        out.append("")
    off = defaults_not_applicable(None, reflection)
    if off:
        out.append("## Built-in defaults that do not fit this schema (switched off). Each declaration below would")
        out.append("## enable one; its columns are guessed from the schema: review them, then uncomment.")
        for item in off:
            out.append(f"## {item.section}.{item.name}: not applicable: {item.reason}")
            out += [f"# {line}" for line in item.declaration.splitlines()]
            out.append("")
    out += [
        "## Catalog-health checks:  [health.<name>]   (see docs/declarative.md, 'health')",
        "## Review queues:          [queues.<name>]   (see docs/declarative.md, 'queues')",
        "## Extra audit hooks:      [hooks]           (see docs/declarative.md, 'hooks')",
        "",
    ]
    return "\n".join(out)


def scaffold_command(json_schema: Callable[[], dict]) -> click.Command:
    """The ``scaffold`` command; ``json_schema`` gives the whole file's JSON Schema
    (from the composition root, which knows every section), written beside the file."""

    @click.command("scaffold")
    @click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="File to write (default: BACKOFFICE_CONFIG, else backoffice.toml).")
    @click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
    def scaffold(output: Path | None, force: bool) -> None:
        """Write a starter declarative file (and its JSON Schema) from the reflected schema of DATABASE_URL."""
        try:
            settings = load_settings()
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None
        if settings.database_url is None:
            raise click.ClickException("DATABASE_URL is not set: nothing to reflect")
        output = output or (Path(settings.backoffice_config) if settings.backoffice_config
                            else Path("backoffice.toml"))
        if output.exists() and not force:
            raise click.ClickException(f"{output} exists; use --force to overwrite it")
        engine = create_engine(settings)
        try:
            reflection = reflect(engine, schemas=settings.backoffice_schemas)
        finally:
            engine.dispose()
        source = make_url(settings.database_url).render_as_string(hide_password=True)
        output.write_text(render_scaffold(reflection, source), encoding="utf-8")
        output.with_name(SCHEMA_FILE).write_text(json.dumps(json_schema(), indent=2) + "\n", encoding="utf-8")
        click.echo(f"wrote {output} and {SCHEMA_FILE}: {len(reflection.tables)} tables and views; "
                   "edit it, then run `backoffice check`")

    return scaffold


def register_commands(group: click.Group, json_schema: Callable[[], dict]) -> None:
    """The screens' commands."""
    group.add_command(scaffold_command(json_schema))
