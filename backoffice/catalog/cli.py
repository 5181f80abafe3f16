"""``backoffice catalog-health``: the same figures as the pages, for terminals, cron and CI.

Exit status: 0 all good; 1 a check is over its threshold (``--fail-over`` /
``--max-share``); 3 a check timed out or failed (its figure is unknown).
"""
from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from backoffice.catalog import catalog_health

__all__ = ["catalog_health_command", "parse_threshold", "register_commands"]

EXIT_OVER_THRESHOLD = 1
EXIT_INCOMPLETE = 3


def parse_share(text: str) -> float:
    """``0.05`` or ``5%`` -> 0.05."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise click.BadParameter(f"'{text}' is not a share (use 0.05 or 5%)") from None
    if not 0 <= value <= 1:
        raise click.BadParameter(f"'{text}' is not between 0 and 1 (0% and 100%)")
    return value


def parse_threshold(text: str) -> tuple[str, float]:
    """``no_director=5%`` -> ("no_director", 0.05)."""
    name, sep, share = text.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"'{text}' should look like NAME=SHARE, e.g. no_director=0.05")
    return name.strip(), parse_share(share)


@click.command("catalog-health")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: counts, shares, samples, computed_at.")
@click.option("--check", "names", multiple=True, metavar="NAME", help="Only this check (repeatable).")
@click.option("--fail-over", "fail_over", multiple=True, metavar="NAME=SHARE",
              help="Exit 1 when NAME affects more than SHARE of its table (0.05 or 5%); repeatable.")
@click.option("--max-share", metavar="SHARE", help="Exit 1 when any check affects more than SHARE.")
@click.option("--store", is_flag=True,
              help="Store the report as the snapshot every page and instance serves (for cron). When another "
                   "process is computing it right now, wait for its report instead of computing again.")
@with_appcontext
def catalog_health_command(as_json: bool, names: tuple[str, ...], fail_over: tuple[str, ...],
                           max_share: str | None, store: bool) -> None:
    """Compute the catalog-health checks (the queries of /admin/catalog-health/)."""
    thresholds = dict(parse_threshold(t) for t in fail_over)
    limit = parse_share(max_share) if max_share is not None else None
    service = catalog_health(current_app)
    for name in [*names, *thresholds]:
        if name not in service.checks:
            raise click.BadParameter(f"unknown check '{name}'; known: {', '.join(service.checks) or 'none'}",
                                     param_hint="--check / --fail-over")
    stored_by = None
    if store:
        if names:
            raise click.BadParameter("--store keeps the whole report: leave out --check", param_hint="--store")
        if service.store is None:
            raise click.ClickException("snapshots are not available on this database (see the log)")
        report, here, stored_by = service.store_fresh(
            on_wait=lambda holder: click.echo(f"waiting for the refresh started by {holder}", err=True))
        if report is None:
            raise click.ClickException("the other refresh stopped without storing a report; run again")
        click.echo(("computed and stored" if here else f"stored by {stored_by}") +
                   f" at {report.computed_at.isoformat()}", err=True)
    else:
        report = service.report(list(names) or None, cached=False)
    over: list[str] = []
    for result in report.results:
        wanted = thresholds.get(result.check.name, limit)
        if wanted is not None and result.share is not None and result.status == "ok" and result.share > wanted:
            over.append(f"{result.check.name}: {result.share:.2%} > {wanted:.2%}")
    incomplete = [r.check.name for r in report.results if r.status in ("timed out", "failed")]
    if as_json:
        data = report.as_dict()
        data["over_threshold"] = over
        if store:
            data["computed_at"] = report.computed_at.isoformat()
            data["stored_by"] = stored_by
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        _print_text(report)
        for line in over:
            click.echo(f"OVER THRESHOLD {line}", err=True)
    if over:
        raise SystemExit(EXIT_OVER_THRESHOLD)
    if incomplete:
        click.echo("incomplete: " + ", ".join(incomplete), err=True)
        raise SystemExit(EXIT_INCOMPLETE)


def _print_text(report) -> None:
    click.echo(f"Catalog health, computed at {report.computed_at.isoformat(timespec='seconds')} "
               f"in {report.seconds:.2f} s")
    group = None
    for result in report.results:
        if result.check.group != group:
            group = result.check.group
            click.echo(f"\n{group}")
        if result.status == "ok":
            figure = f"{result.count:>9,}"
            share = f"{result.share:7.2%}" if result.share is not None else " " * 7
        else:
            figure, share = f"{result.status:>9}", " " * 7
        extra = ""
        if result.check.kind == "duplicates" and result.status == "ok":
            extra = f" in {result.groups:,} groups"
            samples = ["=".join(map(str, g.key)) + " (" + ", ".join(f"#{m.pk[0]}" for m in g.members) + ")"
                       for g in result.sample_groups]
        else:
            samples = [f"#{s.pk[0] if len(s.pk) == 1 else s.pk}" for s in result.samples]
        note = f"  [{result.message}]" if result.message else ""
        click.echo(f"  {result.check.name:<24} {figure} {share}{extra}{note}")
        if samples:
            click.echo("      e.g. " + "; ".join(samples))


def register_commands(group: click.Group) -> None:
    """The catalog-health subsystem's commands."""
    group.add_command(catalog_health_command)
