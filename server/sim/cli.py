"""``novbe simulate`` and ``novbe plan``."""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import click

from config import loader
from server.sim import demand as dm
from server.sim.day import run_day
from server.sim.report import summarise, table


def _cfg(config: str | None) -> Any:
    try:
        return loader.load(config)
    except loader.ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _demand(cfg: Any, citizens: int | None, factor: float, profile: str, history_db: str | None) -> dm.Demand:
    if history_db:
        from server.store import SQLiteStore

        store = SQLiteStore(history_db, cfg)
        try:
            d = dm.from_history(cfg, store.issue_history(), citizens)
        finally:
            store.close()
    else:
        d = dm.default(cfg, citizens)
    if profile == "late":
        d = replace(d, hourly=dm.LATE_HOURLY)
    return d.scaled(factor) if factor != 1.0 else d


_common = [
    click.option("--config", "config", metavar="PATH|NAME", default=None, envvar="NOVBE_CENTER",
                 help="Center configuration (default: absheron)."),
    click.option("--citizens", type=int, default=None,
                 help="Citizens a day (default: the center file's [demand] or its daily capacity)."),
    click.option("--factor", type=float, default=1.0, show_default=True,
                 help="Multiply the demand, e.g. 1.6 for an overload day."),
    click.option("--profile", type=click.Choice(["normal", "late"]), default="normal", show_default=True,
                 help="Arrival shape over the day: normal (morning peak) or late (most come in the afternoon)."),
    click.option("--history", "history_db", metavar="DB", default=None,
                 help="Learn the hourly shape and service mix from this database's tickets."),
    click.option("--seeds", default="1,2,3", show_default=True, help="Random seeds, one simulated day each."),
]


def _options(f: Any) -> Any:
    for option in reversed(_common):
        f = option(f)
    return f


def _seeds(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter("seeds look like 1,2,3") from None


@click.command()
@_options
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--floor", "forks", type=int, default=0, metavar="FORKS",
              help="Also measure the best any forecast could do: fork each day at 30 citizens' issuing "
                   "and play on FORKS times with fresh chance (slow: about 30 x FORKS days per seed).")
def simulate(config: str | None, citizens: int | None, factor: float, profile: str, history_db: str | None,
             seeds: str, as_json: bool, forks: int) -> None:
    """Play whole days on the real core and store with a simulated clock, and print what happened.

    Waits per group (ordinary and each priority group), refusals with reason and time,
    counter utilisation, overtime after closing and the wait forecast's accuracy.
    """
    cfg = _cfg(config)
    d = _demand(cfg, citizens, factor, profile, history_db)
    days = [run_day(cfg, d, seed) for seed in _seeds(seeds)]
    summary = summarise(cfg, days)
    if forks > 0:
        from server.sim import floor

        samples = [x for seed in _seeds(seeds) for x in floor.sample(cfg, d, seed, forks=forks)]
        summary["floor"] = floor.summarise(samples)
    click.echo(json.dumps(summary, ensure_ascii=False, indent=2) if as_json else table(summary))


@click.command()
@_options
@click.option("--share", type=float, default=0.9, show_default=True,
              help="Share of citizens to be called within their service's target wait.")
@click.option("--max-added", type=int, default=4, show_default=True, help="At most this many counters to add.")
@click.option("--chart", "chart_path", metavar="PNG", default=None, help="Draw waits by hour for the chosen plan.")
@click.option("--json", "as_json", is_flag=True, help="Print the options as JSON.")
def plan(config: str | None, citizens: int | None, factor: float, profile: str, history_db: str | None,
         seeds: str, share: float, max_added: int, chart_path: str | None, as_json: bool) -> None:
    """Find the fewest counters (or the counters to add) so that a share of citizens waits within target."""
    from server.sim import plan as planner

    cfg = _cfg(config)
    d = _demand(cfg, citizens, factor, profile, history_db)

    def show(o: planner.Option) -> None:
        if not as_json:
            s = o.summary
            click.echo(f"  tried {o.label:<44} within target {o.share:6.1%}  mean wait "
                       f"{s['groups'][-1]['wait_mean']:5.1f} min  refused {s['refused_per_day']:5.1f}/day  "
                       f"overtime {s['overtime_minutes_max']:5.1f} min", err=True)

    best, tried = planner.plan(cfg, d, share=share, seeds=_seeds(seeds), max_added=max_added, progress=show)
    if chart_path:
        target = sorted(s.target_wait for s in cfg.services)[len(cfg.services) // 2]
        planner.chart(cfg, best, chart_path, target=target)
    if as_json:
        click.echo(json.dumps({"chosen": best.label, "counters": best.counters, "goal_share": share,
                               "options": [{"label": o.label, "counters": o.counters, **o.summary} for o in tried]},
                              ensure_ascii=False, indent=2))
        return
    met = "meets" if best.share >= share else "does NOT meet"
    click.echo(f"\n{cfg.center.id}, {d.citizens} citizens a day: {best.label} {met} the goal "
               f"({best.share:.1%} within target; goal {share:.0%}). Counters: {best.counters}")
    click.echo(table(best.summary))
    if chart_path:
        click.echo(f"chart: {chart_path}")
