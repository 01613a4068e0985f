"""``novbe report``, ``novbe rollup`` and ``novbe purge``: the reports of server.reports on the command line."""
from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from typing import Any

import click

from server import reports

_config = click.option("--config", "config", metavar="PATH|NAME", default=None,
                       help="Center file or shipped name (default: NOVBE_CENTER or absheron).")
_db = click.option("--db", "db", metavar="PATH", default=None, help="Database file (default: NOVBE_DATABASE or "
                   "instance/novbe.db).")


def _open(config: str | None, db: str | None) -> Any:
    from server.cli import _store   # here, not at import: server.cli imports this module

    return _store(config, db)


def _exit_on_refusal() -> Any:
    from server.cli import _storage_exit

    return _storage_exit()


def _minutes(seconds: Any) -> str:
    if seconds is None:
        return "—"
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def _share(value: Any) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def text_table(body: dict[str, Any], lang: str) -> str:
    """The report for a terminal: times as m:ss, shares as percentages."""
    header, rows = reports.table(body, lang)
    shown = []
    for r in rows:
        cells = []
        for h, v in zip(header, r):
            if h.startswith(("wait_", "service_")):
                cells.append(_minutes(v))
            elif h in ("within_target", "satisfied_share", "response_rate"):
                cells.append(_share(v))
            else:
                cells.append("" if v is None else str(v))
        shown.append(cells)
    short = {"no_show": "no-show", "transferred": "transf", "within_target": "in-target",
             "satisfied_share": "satisfied", "response_rate": "answered"}
    head = [short.get(h, h) for h in header]
    name_i = head.index("name")
    for r in shown:   # long service names would push the figures off the screen
        r[name_i] = r[name_i][:32]
    widths = [max(len(head[i]), *(len(r[i]) for r in shown)) for i in range(len(head))]
    lines = ["  ".join(h.ljust(w) if i < 2 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths)))]
    for r in shown:
        lines.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    refused = ", ".join(f"{k} {v}" for k, v in sorted(body["refused_by"].items()))
    lines.append(f"{body['from']} – {body['to']}, by {body['by']}; times m:ss"
                 + (f"; refused: {refused}" if refused else ""))
    return "\n".join(lines)


@click.command("report")
@click.option("--from", "first", metavar="YYYY-MM-DD", default=None, help="First day (default: the first of this "
              "month).")
@click.option("--to", "last", metavar="YYYY-MM-DD", default=None, help="Last day, included (default: today).")
@click.option("--by", type=click.Choice(reports.GROUPINGS), default="service", show_default=True,
              help="How the rows are grouped.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "xlsx", "json"]), default="table",
              show_default=True, help="table for reading; csv, xlsx or json (the API's shape) for the agency.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output (needed for xlsx).")
@click.option("--lang", type=click.Choice(["az", "ru", "en"]), default="az", show_default=True,
              help="Language of the names.")
@_config
@_db
def report(first: str | None, last: str | None, by: str, fmt: str, out: str | None, lang: str,
           config: str | None, db: str | None) -> None:
    """Print or write a period's figures grouped by service, area, counter, operator, priority, hour or day."""
    from server.core.errors import InvalidRequest

    store = _open(config, db)
    with _exit_on_refusal():
        today = reports.today_of(store)
        try:
            first, last = reports.parse_period(first or today[:8] + "01", last or today, today)
            body = reports.report(store, first, last, by)
        except InvalidRequest as exc:
            raise click.BadParameter(exc.message) from None
    header, rows = reports.table(body, lang)
    data: bytes
    if fmt == "json":
        data = (json.dumps(body, ensure_ascii=False, indent=1) + "\n").encode()
    elif fmt == "csv":
        data = reports.to_csv(header, rows)
    elif fmt == "xlsx":
        if not out:
            raise click.UsageError("--format xlsx needs --out FILE")
        data = reports.to_xlsx(header, rows, title=f"by-{by}", about={
            "center": store.cfg.center.id, "from": first, "to": last, "report": f"by-{by}",
            "generated": reports.generated_at(store), "times": "seconds", "shares": "0-1"})
    else:
        data = (text_table(body, lang) + "\n").encode()
    if out:
        with open(out, "wb") as f:
            f.write(data)
        click.echo(f"{out}: {len(body['rows'])} row(s), {first} – {last}, by {by}", err=True)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


@click.command("rollup")
@click.option("--from", "first", metavar="YYYY-MM-DD", default=None, help="First day (default: all history).")
@click.option("--to", "last", metavar="YYYY-MM-DD", default=None, help="Last day (default: yesterday).")
@click.option("--again", is_flag=True, help="Recompute days already rolled up too.")
@_config
@_db
def rollup(first: str | None, last: str | None, again: bool, config: str | None, db: str | None) -> None:
    """Write the daily rollups that keep long reports fast (the server does it each hour by itself)."""
    for name, value in (("--from", first), ("--to", last)):
        if value:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise click.BadParameter(f"{name} must be YYYY-MM-DD") from None
    store = _open(config, db)
    with _exit_on_refusal():
        days = reports.rollup(store, first or "0000-01-01", last, again=again)
        today = date.fromisoformat(reports.today_of(store))
        waiting = [d for d in store.report_data_days(first or "0000-01-01", (today - timedelta(days=1)).isoformat())
                   if d not in store.rolled_days(d, d)]
    click.echo(f"rolled up {len(days)} day(s)" + (f" ({days[0]} – {days[-1]})" if days else ""))
    if waiting:
        click.echo(f"not yet settled (a ticket still open): {', '.join(waiting[:10])}")


@click.command("purge")
@_config
@_db
def purge(config: str | None, db: str | None) -> None:
    """Remove what the center's [retention] settings say is kept no longer (comments, status links)."""
    store = _open(config, db)
    keep = store.cfg.retention
    with _exit_on_refusal():
        done = reports.purge(store)
    def age(days: int) -> str:
        return f"older than {days} days" if days else "(kept forever: 0)"

    click.echo(f"removed {done['comments']} rating comment(s) {age(keep.rating_comments_days)} "
               f"and {done['tokens']} status link(s) {age(keep.status_tokens_days)}")


COMMANDS = (report, rollup, purge)
