"""``backoffice indexes``: the missing indexes of large tables, measured; ``--apply`` creates chosen ones.

Exit status: 0 nothing missing (or everything asked for was created); 1 indexes are
missing (so CI can watch for it); 2 bad usage; 3 an index could not be created.
"""
from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from backoffice.indexes.advice import MIN_ROWS, Need, TableAdvice, collect_needs, missing
from backoffice.indexes.work import create, measure

__all__ = ["indexes_command", "advice_for"]


def advice_for(app, *, min_rows: int = MIN_ROWS) -> list[TableAdvice] | None:
    """The advice for a built console (None on a database other than PostgreSQL)."""
    engine = app.extensions["backoffice.db"].engine
    if engine.dialect.name != "postgresql":
        return None
    service = app.extensions.get("backoffice.catalog_health")
    checks = list(service.checks.values()) if service is not None else []
    needs = collect_needs(app.extensions["backoffice.reflection"], app.extensions["backoffice.declarations"], checks)
    with engine.connect() as conn:
        return missing(conn, needs, min_rows=min_rows)


@click.command("indexes")
@click.option("--min-rows", type=click.IntRange(min=0), default=MIN_ROWS, show_default=True,
              help="Advise on tables with at least this many rows (planner estimate).")
@click.option("--measure/--no-measure", default=True, show_default=True,
              help="Time each operation a missing index would serve, as it runs today.")
@click.option("--measure-timeout", type=click.IntRange(min=1), default=60, show_default=True,
              help="Seconds a measured operation may take before it counts as 'over'.")
@click.option("--apply", "chosen", multiple=True, metavar="NAME",
              help="Create this advised index (repeatable), or 'all'. Nothing is created without it.")
@click.option("--json", "as_json", is_flag=True, help="Print the advice as JSON.")
@with_appcontext
def indexes_command(min_rows: int, measure: bool, measure_timeout: int, chosen: tuple[str, ...],
                    as_json: bool) -> None:
    """List the indexes large tables lack for what the console does on them."""
    app = current_app
    advice = advice_for(app, min_rows=min_rows)
    if advice is None:
        click.echo("index advice needs PostgreSQL (its statistics tell which tables are large); "
                   "this database is not PostgreSQL")
        return
    missing_needs = [n for a in advice for n in a.missing]
    by_name = {n.name: n for n in missing_needs}
    if chosen:
        unknown = [c for c in chosen if c != "all" and c not in by_name]
        if unknown:
            raise click.BadParameter(f"'{unknown[0]}' is not a missing index; missing: "
                                     f"{', '.join(by_name) or 'none'}", param_hint="--apply")
        selected = missing_needs if "all" in chosen else [by_name[c] for c in dict.fromkeys(chosen)]
        _apply(app, selected)
        return
    timings = _measure(app, missing_needs, measure_timeout) if measure else {}
    if as_json:
        click.echo(json.dumps([_as_dict(a, timings) for a in advice], indent=2))
    else:
        _print(advice, timings, min_rows)
    if missing_needs:
        raise SystemExit(1)


def _measure(app, needs: list[Need], timeout_s: int) -> dict[str, tuple[float | None, str]]:
    service = app.extensions.get("backoffice.catalog_health")
    checks = service.checks if service is not None else {}
    engine = app.extensions["backoffice.db"].engine
    return {n.name: measure(engine, n, checks=checks, reflection=app.extensions["backoffice.reflection"],
                            stale_days=getattr(service, "stale_days", 180), timeout_ms=timeout_s * 1000)
            for n in needs}


def _cost(timing: tuple[float | None, str] | None, timeout_s: int | None = None) -> str:
    if timing is None:
        return "not measured"
    seconds, status = timing
    return f"{seconds:.2f} s without it" if seconds is not None else f"{status} without it"


def _print(advice: list[TableAdvice], timings, min_rows: int) -> None:
    if not advice:
        click.echo(f"no table has {min_rows:,} rows or more: no index advice")
        return
    for table in advice:
        click.echo(f"{table.entry.qualified_name} (about {table.rows:,} rows): "
                   f"{len(table.needs) - len(table.missing)} of {len(table.needs)} uses served by an index")
        for name in table.invalid:
            click.echo(f"  INVALID index {name} (an interrupted CREATE INDEX CONCURRENTLY): it serves nothing")
        for need in table.missing:
            click.echo(f"  missing {need.name}: {need.operation}; {_cost(timings.get(need.name))}")
            click.echo(f"    {need.statement()};")
    total = sum(len(t.missing) for t in advice)
    click.echo(f"{total} index(es) missing" + ("; create them with: backoffice indexes --apply NAME (or all)"
                                               if total else ""))


def _as_dict(table: TableAdvice, timings) -> dict:
    return {"table": table.entry.qualified_name, "rows": table.rows, "uses": len(table.needs),
            "invalid": table.invalid,
            "missing": [{"name": n.name, "kind": n.kind, "operation": n.operation, "statement": n.statement(),
                         "seconds_without": (timings.get(n.name) or (None, None))[0],
                         "status_without": (timings.get(n.name) or (None, "not measured"))[1]}
                        for n in table.missing]}


def _apply(app, needs: list[Need]) -> None:
    engine = app.extensions["backoffice.db"].engine
    failed = []
    for number, need in enumerate(needs, 1):
        click.echo(f"[{number}/{len(needs)}] {need.statement()}")
        try:
            create(engine, need, report=click.echo)
        except Exception as error:  # noqa: BLE001 - the next index may still succeed
            message = str(getattr(error, "orig", error)).strip().splitlines()[0]
            click.echo(f"  FAILED: {message}", err=True)
            failed.append(need.name)
        else:
            click.echo(f"  created {need.name}")
    if failed:
        click.echo("not created: " + ", ".join(failed), err=True)
        raise SystemExit(3)
