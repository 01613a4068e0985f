"""Service durations learned from finished tickets, for the hall forecast.

What a ticket costs a counter is its *slot*: from its (last) call to its finish, which takes
in the citizen's walk to the counter, the service itself and, for a no-show, the time the
operator waited. The mean slot per service is learned from the most recent finished
tickets (today's first, then earlier days' within ``policy.history_days``); a counter with
enough of its own data for a service uses its own mean. With no data, a service's
configured ``target_minutes`` stands in, with a spread of half of it; what is learned is drawn
towards that figure as if it were ``PRIOR_WEIGHT`` more samples (a counter's own figure, towards
the service's), so a few slots seen early in the day do not decide the rest of it. How far a
learned figure may itself be off (:meth:`Durations.mean_var`) widens the forecast's range.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from statistics import NormalDist

from config.schema import CenterConfig

MIN_COUNTER_SAMPLES = 8       # a counter's own figure for a service needs this many samples
# What is learned counts the configured figure as this many samples more: one no-show (a slot of a
# minute) or three quick services must not teach that a 15-minute service takes 5 (the closing rule
# then admits citizens who are served long past closing), nor three alike that it never varies.
PRIOR_WEIGHT = 3
DEFAULT_CV = 0.5              # spread assumed when nothing is learned yet
_NORMAL = NormalDist()


@dataclass(frozen=True)
class Durations:
    """Mean and variance (seconds, seconds²) of a ticket's slot, per service and per counter."""

    per_service: dict[str, tuple[float, float]] = field(default_factory=dict)
    per_counter: dict[tuple[int, str], tuple[float, float]] = field(default_factory=dict)
    fallback: dict[str, float] = field(default_factory=dict)
    # How many slots each figure was learned from (none: the configured figure alone).
    samples: dict[str, int] = field(default_factory=dict)
    counter_samples: dict[tuple[int, str], int] = field(default_factory=dict)
    # (counter, service) -> slot(): every play asks for every ticket it places, and the figures stand for minutes.
    _slots: dict[tuple[int, str], tuple[float, float, float]] = field(default_factory=dict, compare=False,
                                                                      repr=False)

    def of(self, counter: int, service: str) -> tuple[float, float]:
        """(mean, variance) of a slot for ``service`` at ``counter``."""
        hit = self.per_counter.get((counter, service))
        if hit is not None:
            return hit
        hit = self.per_service.get(service)
        if hit is not None:
            return hit
        mean = self.fallback.get(service, 600.0)
        return mean, (DEFAULT_CV * mean) ** 2

    def mean_var(self, counter: int, service: str) -> float:
        """The variance of the learned mean slot itself (how far the figure may be off): a slot's variance over
        the slots it was learned from, the configured figure counting as ``PRIOR_WEIGHT`` more."""
        hit = self.per_counter.get((counter, service))
        if hit is not None:
            return hit[1] / (self.counter_samples.get((counter, service), 0) + PRIOR_WEIGHT)
        return self.of(counter, service)[1] / (self.samples.get(service, 0) + PRIOR_WEIGHT)

    def slot(self, counter: int, service: str) -> tuple[float, float, float]:
        """(mean, variance, variance of the mean) of a slot for ``service`` at ``counter``: :meth:`of` and
        :meth:`mean_var` together, remembered."""
        key = (counter, service)
        hit = self._slots.get(key)
        if hit is None:
            if len(self._slots) > 4096:
                self._slots.clear()
            hit = self._slots[key] = (*self.of(counter, service), self.mean_var(counter, service))
        return hit


def _stats(values: list[float], prior: tuple[float, float]) -> tuple[float, float]:
    """(mean, variance) of ``values`` drawn towards ``prior`` as if it were ``PRIOR_WEIGHT`` more samples."""
    k = PRIOR_WEIGHT
    mean = (sum(values) + k * prior[0]) / (len(values) + k)
    spread = sum([(v - mean) ** 2 for v in values])
    return mean, (spread + k * prior[1]) / (len(values) + k - 1)


def learn(cfg: CenterConfig, slots: Iterable[tuple[str, int | None, float]]) -> Durations:
    """Durations from ``(service, counter, seconds)`` slots, newest first."""
    window = cfg.policy.service_window
    fallback = {s.code: s.target_minutes * 60.0 for s in cfg.services}
    # A slot left running (an operator who forgot to press "done") must not teach the
    # forecast that the service takes an hour.
    longest = {code: max(4 * target, 3600.0) for code, target in fallback.items()}
    by_service: dict[str, list[float]] = {}
    by_counter: dict[tuple[int, str], list[float]] = {}
    # (Plain tests rather than min/max and setdefault: this runs over today's and recent days' slots.)
    for service, counter, seconds in slots:
        cap = longest.get(service)
        if cap is None or seconds is None:
            continue
        mine = by_service.get(service)
        if mine is None:
            mine = by_service[service] = []
        theirs = None
        if counter is not None:
            theirs = by_counter.get((counter, service))
            if theirs is None:
                theirs = by_counter[(counter, service)] = []
        if len(mine) >= window and (theirs is None or len(theirs) >= window):
            continue            # an older slot of a service and counter already learned in full
        if seconds < 15.0:
            seconds = 15.0
        elif seconds > cap:
            seconds = cap
        if len(mine) < window:
            mine.append(seconds)
        if theirs is not None and len(theirs) < window:
            theirs.append(seconds)
    per_service = {k: _stats(v, (fallback[k], (DEFAULT_CV * fallback[k]) ** 2)) for k, v in by_service.items()}
    own = {k: v for k, v in by_counter.items() if len(v) >= MIN_COUNTER_SAMPLES}
    return Durations(
        per_service=per_service,
        per_counter={k: _stats(v, per_service[k[1]]) for k, v in own.items()},
        fallback=fallback,
        samples={k: len(v) for k, v in by_service.items()},
        counter_samples={k: len(v) for k, v in own.items()},
    )


def remaining(mean: float, var: float, elapsed: float) -> tuple[float, float]:
    """(mean, variance) of what is left of a slot of ``(mean, var)`` that has run ``elapsed`` seconds.

    Slots are taken as lognormal (a long tail: most services are quick, a few take much
    longer). A slot that has run past its mean is likely one of the long ones, so what is
    left of it is not "a little": with a spread of half the mean, a slot at its mean has
    about 0.4 of a mean left, and one at twice its mean about 0.7.
    """
    if elapsed <= 0 or mean <= 0:
        return max(mean, 0.0), var
    # The lognormal's parameters are the same for every play while the durations stand: worked out once.
    shape = _shapes.get((mean, var))
    if shape is None:
        shape = _shape(mean, var)
    s2, s, mu, e2 = shape
    if s2 <= 0:
        return max(mean - elapsed, 0.0), 0.0
    z = (math.log(elapsed) - mu) / s
    # 0.5 * erfc(x / sqrt 2) is P(Z > x) (:func:`_upper`), written out: a play asks for every busy counter.
    tail = 0.5 * math.erfc(z / _SQRT2)                    # P(slot > elapsed)
    if tail <= 1e-300:                        # far past any slot seen: a fifth of one more
        return 0.2 * mean, var / 4
    m1 = mean * (0.5 * math.erfc((z - s) / _SQRT2)) / tail          # E[slot | slot > elapsed]
    m2 = e2 * (0.5 * math.erfc((z - 2 * s) / _SQRT2)) / tail
    return max(m1 - elapsed, 1.0), max(m2 - m1 * m1, 0.0)


_SQRT2 = math.sqrt(2)
_shapes: dict[tuple[float, float], tuple[float, float, float, float]] = {}


def _shape(mean: float, var: float) -> tuple[float, float, float, float]:
    """(s², s, mu, exp(2 mu + 2 s²)) of the lognormal of ``(mean, var)``, remembered."""
    s2 = math.log1p(var / (mean * mean))
    if s2 <= 0:
        shape = (s2, 0.0, 0.0, 0.0)
    else:
        s = math.sqrt(s2)
        mu = math.log(mean) - s2 / 2
        shape = (s2, s, mu, math.exp(2 * mu + 2 * s2))
    if len(_shapes) > 4096:
        _shapes.clear()
    _shapes[(mean, var)] = shape
    return shape


def quantile(mean: float, var: float, p: float) -> float:
    """The ``p`` quantile of a lognormal slot of ``(mean, var)``."""
    if mean <= 0 or var <= 0:
        return max(mean, 0.0)
    s2 = math.log1p(var / (mean * mean))
    return math.exp(math.log(mean) - s2 / 2 + math.sqrt(s2) * _NORMAL.inv_cdf(p))


def _upper(x: float) -> float:
    """P(Z > x) for a standard normal Z."""
    return 0.5 * math.erfc(x / math.sqrt(2))


def minutes_range(seconds: float, sigma: float) -> tuple[int, int, int]:
    """(central, low, high) whole minutes for a wait of ``seconds`` ± ``sigma``.

    The central figure rounds up, so a wait of a few seconds behind a busy counter reads
    "1 min", never "now"; the range is about one standard deviation each side.
    """
    if seconds <= 0:
        return 0, 0, 0
    central = max(1, math.ceil(seconds / 60 - 0.05))
    low = max(1 if seconds >= 60 else 0, math.floor((seconds - sigma) / 60))
    high = max(central, math.ceil((seconds + sigma) / 60))
    return central, min(low, central), high
