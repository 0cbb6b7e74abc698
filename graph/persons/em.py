"""Fellegi-Sunter record linkage with m/u probabilities estimated by EM, without labels.

A pair of records is summarised by its comparison vector ``gamma``: one
agreement level per field (higher = closer agreement, ``-1`` = missing on
either side; see :func:`graph.persons.compare.compare_pairs`). Fellegi and
Sunter score it by the log likelihood ratio

.. math::

    w(\\gamma) = \\sum_f \\ln \\frac{m_f(\\gamma_f)}{u_f(\\gamma_f)}, \\qquad
    m_f(l) = P(\\gamma_f = l \\mid \\text{match}),\\;
    u_f(l) = P(\\gamma_f = l \\mid \\text{non-match})

(fields assumed conditionally independent; a missing field contributes 0).
Posterior log-odds are ``w + ln(lambda / (1 - lambda))`` with ``lambda`` the
share of matches among the scored pairs.

* :func:`estimate_u` - ``u`` from random pairs, which are almost all
  non-matches (as Splink does);
* :func:`fit_em` - ``m`` (and optionally ``u``) and ``lambda`` by
  expectation-maximisation over the distinct comparison patterns (so a
  million candidate pairs with a few thousand distinct vectors cost a few
  thousand rows per iteration);
* :func:`fit_fellegi_sunter` - the two together for blocked candidates: ``u``
  from random pairs, ``m`` and the match share by EM on the candidates, the
  share rescaled to all pairs (see there why);
* :class:`FellegiSunter` - the fitted model: per-field weights in nats
  (:attr:`FellegiSunter.weights`) or bits, :meth:`~FellegiSunter.match_weight`,
  :meth:`~FellegiSunter.probability` and :meth:`~FellegiSunter.explain`, one
  ``(field, level name, weight)`` per field.

Person mentions (:func:`person_gamma`): the birth date and gender a matcher
uses fall back to what the resident ID says, so when both mentions carry the
ID's birth-date (or gender) digits the ``dob`` (``gender``) level would only
repeat the ``id`` level - a violation of conditional independence that would
count the same evidence twice. :func:`person_gamma` therefore marks ``dob``
and ``gender`` missing whenever the ID comparison already covered them.

Generic records (the FEBRL benchmark, Latin fields): :func:`encode_records`
turns columns of text into fixed-width byte arrays and :func:`compare_records`
computes their levels in one fused numba pass (Jaro-Winkler and bounded
Levenshtein from :mod:`graph.persons._compare_kernels`), per :class:`FieldSpec`.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> match = rng.random(4000) < 0.3
>>> g = np.where(match[:, None], rng.random((4000, 3)) < 0.9,
...              rng.random((4000, 3)) < 0.1).astype(np.int8)
>>> fit = fit_em(g, ("a", "b", "c"), (("no", "yes"),) * 3)
>>> fit.converged, round(fit.model.prior, 1)
(True, 0.3)
>>> [(f, lv) for f, lv, _ in fit.model.explain([1, 0, -1])]
[('a', 'yes'), ('b', 'no'), ('c', 'missing')]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import pandas as pd
from numba import njit, prange

from ._compare_kernels import _gamma_range, _jaro_winkler, _levenshtein
from .compare import FIELDS, JW_THRESHOLD, LEVELS, MIN_ID_OVERLAP, MISSING, compare_pairs
from .encode import EncodedPersons

__all__ = [
    "KIND_CODE",
    "KIND_DATE",
    "KIND_EXACT",
    "KIND_STRING",
    "PERSON_LEVELS",
    "EMResult",
    "FellegiSunter",
    "FieldSpec",
    "RecordTable",
    "compare_records",
    "encode_records",
    "estimate_u",
    "explain",
    "fit_em",
    "fit_fellegi_sunter",
    "monotone_m",
    "person_gamma",
    "random_pairs",
]

log = logging.getLogger(__name__)

#: Level names of the person fields, in :data:`graph.persons.compare.FIELDS` order.
PERSON_LEVELS: tuple[tuple[str, ...], ...] = tuple(LEVELS[f] for f in FIELDS)

_MIN_PROB = 1e-12


# =========================================================================== model


@dataclass(frozen=True)
class FellegiSunter:
    """A fitted Fellegi-Sunter model.

    ``m`` and ``u`` are float64 ``(n_fields, max_levels)``: row ``f`` holds
    ``P(level | match)`` / ``P(level | non-match)`` for the levels of field
    ``f`` (entries past a field's last level are unused). ``prior`` is the
    share of matches among the pairs the model scores.

    >>> fs = FellegiSunter(("id",), (("conflict", "exact"),),
    ...                    np.array([[0.05, 0.95]]), np.array([[0.999, 0.001]]), 0.01)
    >>> fs.weights[0].round(2).tolist(), fs.explain([1])[0][:2]
    ([-2.99, 6.86], ('id', 'exact'))
    """

    fields: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]
    m: np.ndarray
    u: np.ndarray
    prior: float
    _table: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.fields) != len(self.levels) or not self.fields:
            raise ValueError(
                f"fields/levels: got {len(self.fields)} fields and {len(self.levels)} level "
                "tuples; expected the same non-zero number"
            )
        width = max(len(lv) for lv in self.levels)
        for name in ("m", "u"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (len(self.fields), width):
                raise ValueError(
                    f"{name}: got shape {arr.shape}; expected {(len(self.fields), width)}"
                )
            object.__setattr__(self, name, arr)
        if not 0.0 < float(self.prior) < 1.0:
            raise ValueError(f"prior: got {self.prior!r}; expected a probability in (0, 1)")
        object.__setattr__(self, "prior", float(self.prior))
        # weight table with a leading column for "missing" (weight 0): index level + 1
        table = np.zeros((len(self.fields), width + 1), np.float64)
        for f, names in enumerate(self.levels):
            k = len(names)
            m = np.clip(self.m[f, :k], _MIN_PROB, 1.0)
            u = np.clip(self.u[f, :k], _MIN_PROB, 1.0)
            table[f, 1 : k + 1] = np.log(m / u)
        table.setflags(write=False)
        object.__setattr__(self, "_table", table)

    # ---------------------------------------------------------------- weights

    @property
    def weights(self) -> np.ndarray:
        """``ln(m / u)`` per field and level (nats), float64 ``(n_fields, max_levels)``."""
        return self._table[:, 1:].copy()

    @property
    def weight_table(self) -> np.ndarray:
        """Read-only ``(n_fields, max_levels + 1)`` weights indexed by ``level + 1``
        (column 0, for :data:`MISSING`, is 0): ``weight_table[f, gamma[:, f] + 1]``."""
        return self._table

    @property
    def weights_bits(self) -> np.ndarray:
        """``log2(m / u)`` per field and level (bits, as Splink reports them)."""
        return self._table[:, 1:] / math.log(2.0)

    @property
    def prior_log_odds(self) -> float:
        """``ln(prior / (1 - prior))``."""
        return math.log(self.prior / (1.0 - self.prior))

    def weight(self, field_name: str, level: int) -> float:
        """Weight (nats) of one field at one level; 0 for :data:`MISSING`."""
        f = self._field_index(field_name)
        if level == MISSING:
            return 0.0
        if not 0 <= level < len(self.levels[f]):
            raise ValueError(
                f"level: got {level!r} for {field_name!r}; expected -1..{len(self.levels[f]) - 1}"
            )
        return float(self._table[f, level + 1])

    def _field_index(self, field_name: str) -> int:
        try:
            return self.fields.index(field_name)
        except ValueError:
            raise ValueError(f"field: got {field_name!r}; expected one of {self.fields}") from None

    # ---------------------------------------------------------------- scoring

    def _check_gamma(self, gamma: np.ndarray) -> np.ndarray:
        g = np.asarray(gamma)
        if g.ndim == 1:
            g = g[None, :]
        if g.ndim != 2 or g.shape[1] != len(self.fields):
            raise ValueError(
                f"gamma: got shape {np.shape(gamma)}; expected (n_pairs, {len(self.fields)})"
            )
        if not np.issubdtype(g.dtype, np.integer):
            raise TypeError(f"gamma: got dtype {g.dtype}; expected integer levels")
        return np.ascontiguousarray(g, dtype=np.int8)

    def match_weight(self, gamma: np.ndarray, *, parallel: bool = False) -> np.ndarray:
        """Sum of the field weights (log Bayes factor, nats) of every row of ``gamma``.

        O(n_pairs x n_fields); ``parallel`` splits rows over numba's threads.
        """
        g = self._check_gamma(gamma)
        out = np.empty(g.shape[0], np.float64)
        if g.shape[0]:
            if parallel and g.shape[0] >= 65536:
                _score_par(g, self._table, out, max(1, numba.get_num_threads() * 4))
            else:
                _score(g, self._table, out, 0, g.shape[0])
        return out

    def log_odds(self, gamma: np.ndarray, *, parallel: bool = False) -> np.ndarray:
        """Posterior log-odds of a match: :meth:`match_weight` plus the prior's log-odds."""
        return self.match_weight(gamma, parallel=parallel) + self.prior_log_odds

    def probability(self, gamma: np.ndarray, *, parallel: bool = False) -> np.ndarray:
        """Posterior match probability of every row of ``gamma``."""
        z = self.log_odds(gamma, parallel=parallel)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700)))

    def explain(self, gamma: np.ndarray | Sequence[int]) -> list[tuple[str, str, float]]:
        """One comparison vector as ``[(field, level name, weight in nats), ...]``.

        O(n_fields).
        """
        row = self._check_gamma(
            np.asarray(list(gamma) if not isinstance(gamma, np.ndarray) else gamma)
        )
        if row.shape[0] != 1:
            raise ValueError(f"gamma: got {row.shape[0]} rows; expected one comparison vector")
        out = []
        for f, lv in enumerate(row[0].tolist()):
            if lv == MISSING:
                out.append((self.fields[f], "missing", 0.0))
                continue
            if not 0 <= lv < len(self.levels[f]):
                raise ValueError(
                    f"gamma[{f}]: got level {lv} for {self.fields[f]!r}; "
                    f"expected -1..{len(self.levels[f]) - 1}"
                )
            out.append((self.fields[f], self.levels[f][lv], float(self._table[f, lv + 1])))
        return out

    # ---------------------------------------------------------------- (de)serialise

    def with_prior(self, prior: float) -> FellegiSunter:
        """The same m/u with another match prior."""
        return FellegiSunter(self.fields, self.levels, self.m, self.u, prior)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (see :meth:`from_dict`)."""
        return {
            "fields": list(self.fields),
            "levels": [list(lv) for lv in self.levels],
            "m": [self.m[f, : len(lv)].round(8).tolist() for f, lv in enumerate(self.levels)],
            "u": [self.u[f, : len(lv)].round(8).tolist() for f, lv in enumerate(self.levels)],
            "prior": self.prior,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FellegiSunter:
        """Rebuild a model written by :meth:`to_dict`."""
        fields_ = tuple(data["fields"])
        levels = tuple(tuple(lv) for lv in data["levels"])
        width = max(len(lv) for lv in levels)
        m = np.zeros((len(fields_), width))
        u = np.zeros((len(fields_), width))
        for f, lv in enumerate(levels):
            m[f, : len(lv)] = data["m"][f]
            u[f, : len(lv)] = data["u"][f]
        return cls(fields_, levels, m, u, float(data["prior"]))


def explain(
    model: FellegiSunter, gamma: np.ndarray | Sequence[int]
) -> list[tuple[str, str, float]]:
    """``model.explain(gamma)``: ``[(field, level name, weight in nats), ...]``."""
    return model.explain(gamma)


@njit(cache=True)
def _score(g, table, out, start, stop):  # noqa: ANN001, ANN202
    nf = g.shape[1]
    for p in range(start, stop):
        s = 0.0
        for f in range(nf):
            s += table[f, g[p, f] + 1]
        out[p] = s


@njit(cache=True, parallel=True)
def _score_par(g, table, out, n_chunks):  # noqa: ANN001, ANN202
    n = g.shape[0]
    for c in prange(n_chunks):
        _score(g, table, out, n * c // n_chunks, n * (c + 1) // n_chunks)


# =========================================================================== estimation


def _n_levels(levels: Sequence[Sequence[str]]) -> np.ndarray:
    return np.array([len(lv) for lv in levels], np.int64)


def _check_levels(
    gamma: np.ndarray, fields_: Sequence[str], levels: Sequence[Sequence[str]]
) -> np.ndarray:
    g = np.asarray(gamma)
    if g.ndim != 2 or g.shape[1] != len(fields_):
        raise ValueError(f"gamma: got shape {g.shape}; expected (n_pairs, {len(fields_)})")
    if not np.issubdtype(g.dtype, np.integer):
        raise TypeError(f"gamma: got dtype {g.dtype}; expected integer levels")
    if len(levels) != len(fields_):
        raise ValueError(f"levels: got {len(levels)} tuples; expected {len(fields_)}")
    if g.size:
        k = _n_levels(levels)
        lo, hi = g.min(axis=0), g.max(axis=0)
        bad = np.flatnonzero((lo < -1) | (hi >= k))
        if bad.size:
            f = int(bad[0])
            raise ValueError(
                f"gamma[:, {f}] ({fields_[f]!r}): levels {int(lo[f])}..{int(hi[f])}; "
                f"expected -1..{int(k[f]) - 1}"
            )
    return g.astype(np.int8, copy=False)


def estimate_u(
    gamma: np.ndarray,
    fields_: Sequence[str],
    levels: Sequence[Sequence[str]],
    *,
    pseudo_count: float = 1.0,
) -> np.ndarray:
    """``u`` probabilities from comparison vectors of random pairs (nearly all non-matches).

    Frequencies of every level among the non-missing values of each field,
    with ``pseudo_count`` added to every level (so a level never seen in the
    sample - two random people with the same ID - keeps a small positive
    probability). Returns float64 ``(n_fields, max_levels)``. O(n_pairs).

    >>> estimate_u(np.array([[0], [0], [0], [1]]), ("x",), (("no", "yes"),), pseudo_count=0)
    array([[0.75, 0.25]])
    """
    g = _check_levels(gamma, fields_, levels)
    k = _n_levels(levels)
    u = np.zeros((len(fields_), int(k.max())))
    for f in range(len(fields_)):
        counts = np.bincount(g[:, f][g[:, f] >= 0].astype(np.int64), minlength=int(k[f]))
        counts = counts[: k[f]].astype(np.float64) + pseudo_count
        u[f, : k[f]] = counts / counts.sum() if counts.sum() > 0 else 1.0 / k[f]
    return u


def random_pairs(
    n_a: int, n_b: int | None = None, k: int = 100_000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``k`` uniformly random pairs: ``(ia, ib)`` int64 arrays.

    Dedupe (``n_b is None``): pairs ``i != j`` of one table; link: ``ia`` in
    ``range(n_a)`` and ``ib`` in ``range(n_b)``. O(k).

    >>> ia, ib = random_pairs(10, k=5, seed=1)
    >>> bool(np.all(ia != ib)), ia.shape
    (True, (5,))
    """
    if n_a < (2 if n_b is None else 1) or (n_b is not None and n_b < 1):
        raise ValueError(f"n_a, n_b: got {n_a}, {n_b}; too few records to pair")
    rng = np.random.default_rng(seed)
    ia = rng.integers(0, n_a, k, dtype=np.int64)
    if n_b is None:
        ib = (ia + rng.integers(1, n_a, k, dtype=np.int64)) % n_a
    else:
        ib = rng.integers(0, n_b, k, dtype=np.int64)
    return ia, ib


def _patterns(g: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of ``g`` and their counts (rows keyed in mixed radix ``k + 1``)."""
    radix = np.cumprod(np.concatenate([[1], k[:-1] + 1])).astype(np.int64)
    if float(np.prod((k + 1).astype(np.float64))) >= 2.0**62:
        rows, counts = np.unique(g, axis=0, return_counts=True)
        return rows.astype(np.int8), counts.astype(np.float64)
    key = (g.astype(np.int64) + 1) @ radix
    uniq, counts = np.unique(key, return_counts=True)
    rows = ((uniq[:, None] // radix[None, :]) % (k + 1)[None, :]) - 1
    return rows.astype(np.int8), counts.astype(np.float64)


def _log_probs(pat: np.ndarray, logp: np.ndarray) -> np.ndarray:
    """Sum over fields of log p[f, level] (missing contributes 0), one value per pattern."""
    pad = np.concatenate([np.zeros((logp.shape[0], 1)), logp], axis=1)
    f_idx = np.arange(pat.shape[1])[None, :]
    return pad[f_idx, pat.astype(np.int64) + 1].sum(axis=1)


def _default_m(k: np.ndarray, width: int) -> np.ndarray:
    """Initial m: the top level likely, lower levels geometrically less so."""
    m = np.zeros((k.size, width))
    for f, n in enumerate(k.tolist()):
        raw = 4.0 ** np.arange(n)
        m[f, :n] = raw / raw.sum()
    return m


def _default_u(k: np.ndarray, width: int) -> np.ndarray:
    u = np.zeros((k.size, width))
    for f, n in enumerate(k.tolist()):
        raw = 4.0 ** -np.arange(n, dtype=np.float64)
        u[f, :n] = raw / raw.sum()
    return u


@dataclass(frozen=True)
class EMResult:
    """Outcome of :func:`fit_em`: the model, iterations, convergence, log-likelihood trace."""

    model: FellegiSunter
    n_iter: int
    converged: bool
    log_likelihood: tuple[float, ...]
    n_pairs: int
    n_patterns: int


def fit_em(
    gamma: np.ndarray,
    fields_: Sequence[str],
    levels: Sequence[Sequence[str]],
    *,
    u: np.ndarray | None = None,
    fix_u: bool = False,
    m: np.ndarray | None = None,
    prior: float = 0.1,
    max_iter: int = 500,
    tol: float = 1e-6,
    pseudo_count: float = 0.1,
) -> EMResult:
    """Estimate a :class:`FellegiSunter` model from unlabelled comparison vectors by EM.

    ``gamma`` int ``(n_pairs, n_fields)`` holds the levels of candidate pairs
    (``-1`` missing). EM alternates the posterior match probability of every
    distinct pattern (E) with the count-weighted level frequencies of the two
    classes and the match share (M), until no parameter moves by more than
    ``tol``. ``u`` (e.g. from :func:`estimate_u` on random pairs) seeds the
    non-match class, and stays fixed when ``fix_u`` (Splink's default); ``m``
    seeds the match class (default: top levels likely). ``pseudo_count`` is
    added to every level's expected count, so no probability becomes 0.

    The match class is the one whose top levels are more likely; if EM
    converges the other way round the classes are swapped back (and logged).
    O(n_pairs log n_pairs) to find the patterns, then O(n_patterns x
    n_fields) per iteration.

    Raises ``ValueError`` for levels outside ``-1..len(levels[f]) - 1``.
    """
    g = _check_levels(gamma, fields_, levels)
    if g.shape[0] == 0:
        raise ValueError("gamma: got no pairs; expected at least one comparison vector")
    if not 0.0 < prior < 1.0:
        raise ValueError(f"prior: got {prior!r}; expected a probability in (0, 1)")
    k = _n_levels(levels)
    width = int(k.max())
    pat, cnt = _patterns(g, k)
    m_cur = _default_m(k, width) if m is None else np.array(m, dtype=np.float64, copy=True)
    u_cur = _default_u(k, width) if u is None else np.array(u, dtype=np.float64, copy=True)
    for name, arr in (("m", m_cur), ("u", u_cur)):
        if arr.shape != (len(fields_), width):
            raise ValueError(f"{name}: got shape {arr.shape}; expected {(len(fields_), width)}")
    valid = np.arange(width)[None, :] < k[:, None]
    lam = float(prior)
    onehot = [
        (pat[:, f][None, :] == np.arange(k[f])[:, None]).astype(np.float64)  # (levels, patterns)
        for f in range(len(fields_))
    ]
    trace: list[float] = []
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        lm = _log_probs(pat, np.log(np.where(valid, np.clip(m_cur, 1e-300, 1), 1.0)))
        lu = _log_probs(pat, np.log(np.where(valid, np.clip(u_cur, 1e-300, 1), 1.0)))
        a = math.log(lam) + lm
        b = math.log1p(-lam) + lu
        top = np.maximum(a, b)
        denom = top + np.log(np.exp(a - top) + np.exp(b - top))
        post = np.exp(a - denom)
        trace.append(float((cnt * denom).sum()))
        wm = cnt * post
        wu = cnt * (1.0 - post)
        m_new = np.zeros_like(m_cur)
        u_new = u_cur.copy() if fix_u else np.zeros_like(u_cur)
        for f in range(len(fields_)):
            em = onehot[f] @ wm + pseudo_count
            m_new[f, : k[f]] = em / em.sum()
            if not fix_u:
                eu = onehot[f] @ wu + pseudo_count
                u_new[f, : k[f]] = eu / eu.sum()
        lam_new = float(np.clip(wm.sum() / cnt.sum(), 1e-9, 1 - 1e-9))
        delta = max(
            float(np.abs(m_new - m_cur).max()),
            float(np.abs(u_new - u_cur).max()),
            abs(lam_new - lam),
        )
        m_cur, u_cur, lam = m_new, u_new, lam_new
        if delta < tol:
            converged = True
            break
    # keep the match class the agreeing one: compare the top level's likelihood ratio
    top_ratio = np.array(
        [m_cur[f, k[f] - 1] / max(u_cur[f, k[f] - 1], 1e-300) for f in range(len(fields_))]
    )
    if not fix_u and np.median(np.log(top_ratio)) < 0:
        log.warning("EM converged with the classes swapped; swapping them back")
        m_cur, u_cur, lam = u_cur, m_cur, 1.0 - lam
    if not converged:
        log.warning("EM did not converge in %d iterations (last change above %g)", max_iter, tol)
    model = FellegiSunter(tuple(fields_), tuple(tuple(lv) for lv in levels), m_cur, u_cur, lam)
    return EMResult(model, it, converged, tuple(trace), int(g.shape[0]), int(pat.shape[0]))


def monotone_m(m: np.ndarray, u: np.ndarray, n_levels: Sequence[int]) -> np.ndarray:
    """``m`` adjusted so that ``ln(m / u)`` never decreases with the level (per field).

    Pool-adjacent-violators on the likelihood ratio: a run of levels whose
    ratios decrease is pooled, each level getting ``u_l x sum(m) / sum(u)``
    over the run, so ``m`` still sums to 1 and ``u`` is unchanged. O(levels).

    >>> monotone_m(np.array([[0.1, 0.3, 0.6]]), np.array([[0.8, 0.1, 0.1]]), [3]).round(3).tolist()
    [[0.1, 0.3, 0.6]]
    >>> monotone_m(np.array([[0.1, 0.6, 0.3]]), np.array([[0.8, 0.1, 0.1]]), [3]).round(3).tolist()
    [[0.1, 0.45, 0.45]]
    """
    out = np.array(m, dtype=np.float64, copy=True)
    for f, k in enumerate(int(x) for x in n_levels):
        blocks: list[list[float]] = []  # [sum m, sum u, first level, last level]
        for lv in range(k):
            blocks.append([float(out[f, lv]), float(max(u[f, lv], 1e-300)), lv, lv])
            while len(blocks) > 1 and (
                blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]
            ):
                last = blocks.pop()
                blocks[-1][0] += last[0]
                blocks[-1][1] += last[1]
                blocks[-1][3] = last[3]
        for sm, su, lo, hi in blocks:
            for lv in range(int(lo), int(hi) + 1):
                out[f, lv] = max(u[f, lv], 1e-300) * sm / su
    return out


def fit_fellegi_sunter(
    gamma: np.ndarray,
    gamma_random: np.ndarray,
    fields_: Sequence[str],
    levels: Sequence[Sequence[str]],
    *,
    n_total_pairs: float,
    prior: float = 0.05,
    max_iter: int = 500,
    tol: float = 1e-6,
    monotone: bool = True,
) -> tuple[FellegiSunter, EMResult]:
    """Fit a model for blocked candidate pairs: ``u`` from random pairs, ``m`` by EM.

    ``gamma`` holds the candidate pairs blocking produced, ``gamma_random``
    random pairs (:func:`random_pairs`), ``n_total_pairs`` the number of all
    pairs (``n (n - 1) / 2`` to dedupe, ``n_a n_b`` to link).

    Blocking selects pairs that agree on some field, so among candidates the
    non-matches look far more like matches than random pairs do: EM with ``u``
    fixed at the random-pair frequencies would call nearly every candidate a
    match. Instead EM runs with ``u`` free (seeded by the random pairs), which
    gives ``m`` and the match share among candidates; the returned model then
    pairs that ``m`` with the random-pair ``u`` and the match share among *all*
    pairs (candidates' share x candidates / all pairs). Since a pair's
    candidacy is a function of its field values, ``P(match | gamma)`` is then
    the right posterior for a candidate as for any pair.

    With ``monotone`` the weights of each field are made non-decreasing in the
    level (closer agreement is never weaker evidence) by pooling adjacent
    violators (:func:`monotone_m`). Dependence between fields can otherwise
    invert them: if Latin spellings mostly occur among repeat offenders, "same
    pinyin" would outweigh "same characters". O(EM) + O(random pairs).

    Returns ``(model, em_result)``; ``em_result.model`` is the candidates' model.
    """
    u = estimate_u(gamma_random, fields_, levels)
    res = fit_em(gamma, fields_, levels, u=u, fix_u=False, prior=prior, max_iter=max_iter, tol=tol)
    if n_total_pairs < gamma.shape[0]:
        raise ValueError(
            f"n_total_pairs: got {n_total_pairs!r}; expected at least the {gamma.shape[0]} candidates"
        )
    share = min(res.model.prior * gamma.shape[0] / float(n_total_pairs), 0.5)
    m = monotone_m(res.model.m, u, _n_levels(levels)) if monotone else res.model.m
    model = FellegiSunter(tuple(fields_), tuple(tuple(lv) for lv in levels), m, u,
                          max(share, 1e-12))  # fmt: skip
    return model, res


# =========================================================================== persons


def person_gamma(
    a: EncodedPersons,
    b: EncodedPersons,
    ia: np.ndarray,
    ib: np.ndarray,
    *,
    parallel: bool = True,
) -> np.ndarray:
    """:func:`~graph.persons.compare.compare_pairs` with ``dob``/``gender`` made independent of ``id``.

    Where the ``id`` level is not missing and both IDs show all eight
    birth-date digits (positions 7-14), ``dob`` is set to missing: the birth
    dates then come from the IDs and the ``id`` level already says whether they
    agree. Likewise ``gender`` when both IDs show the gender digit (position
    17). A birth date written in the report (or an ID whose date is masked,
    ``330102********123X``) still counts.

    An ID level ``compatible`` that rests on fewer than four shared characters
    past the region code (positions 7-18: birth date, order code, check) is
    set to missing too: agreeing on the household-registration county alone
    says little about the person. O(n_pairs).

    >>> from graph.persons import encode_persons, normalize_person
    >>> enc = encode_persons([normalize_person({"role": "suspect", "name": "李娜",
    ...                                         "id_number": "11010519491231002X"})] * 2)
    >>> person_gamma(enc, enc, np.array([0]), np.array([1]))[0].tolist()
    [5, 3, -1, -1, -1]
    """
    small = np.shape(ia)[0] < _SERIAL_BELOW if np.ndim(ia) == 1 else False
    if (small or not parallel) and isinstance(a, EncodedPersons) and isinstance(b, EncodedPersons):
        gamma = _gamma_serial(a, b, ia, ib)
    else:
        gamma = compare_pairs(a, b, ia, ib, parallel=parallel)
    if gamma.shape[0]:
        _decorrelate(
            gamma, a.id_chars, b.id_chars, np.asarray(ia, np.int64), np.asarray(ib, np.int64)
        )
    return gamma


#: Below this many pairs :func:`person_gamma` calls the one-thread kernel directly:
#: waking numba's thread pool for a handful of pairs costs more than the pairs,
#: and its spinning workers steal the core a streaming caller runs on.
_SERIAL_BELOW = 4096


def _gamma_serial(a: EncodedPersons, b: EncodedPersons, ia: object, ib: object) -> np.ndarray:
    """:func:`~graph.persons.compare.compare_pairs` on one thread, without the parallel launch.

    Same checks and the same kernel (``_compare_kernels._gamma_range``) with
    the default thresholds of :func:`compare_pairs`.
    """
    ia = np.ascontiguousarray(ia)
    ib = np.ascontiguousarray(ib)
    for name, arr, n in (("ia", ia, len(a)), ("ib", ib, len(b))):
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name}: got {arr.dtype} array of shape {arr.shape}; expected int[]")
        if arr.size and (arr.min() < 0 or arr.max() >= n):
            raise ValueError(
                f"{name}: indices {int(arr.min())}..{int(arr.max())} out of range 0..{n - 1}"
            )
    if ia.shape != ib.shape:
        raise ValueError(f"ia and ib: got lengths {ia.size} and {ib.size}; expected equal")
    ia = ia.astype(np.int64, copy=False)
    ib = ib.astype(np.int64, copy=False)
    out = np.empty((ia.shape[0], len(FIELDS)), np.int8)
    if ia.shape[0]:
        _gamma_range(
            a.py, a.py_len, a.script, a.han_hash, a.py_hash, a.key_hash, a.swap_py_hash,
            a.swap_hash, a.id_chars, a.id_known, a.id_valid, a.phone, a.phone_tail, a.dob,
            a.gender,
            b.py, b.py_len, b.script, b.han_hash, b.py_hash, b.key_hash, b.swap_py_hash,
            b.swap_hash, b.id_chars, b.id_known, b.id_valid, b.phone, b.phone_tail, b.dob,
            b.gender,
            ia, ib, float(JW_THRESHOLD), int(MIN_ID_OVERLAP), out, 0, ia.shape[0],
        )  # fmt: skip
    return out


@njit(cache=True)
def _decorrelate(gamma, a_id, b_id, ia, ib):  # noqa: ANN001, ANN202
    id_col = 1
    dob_col = 3
    gender_col = 4
    compatible = 2
    for p in range(ia.shape[0]):
        if gamma[p, id_col] < 0:
            continue
        i = ia[p]
        j = ib[p]
        if gamma[p, id_col] == compatible:
            shared = 0
            for t in range(6, 18):
                if a_id[i, t] != 255 and b_id[j, t] != 255:
                    shared += 1
            if shared < 4:
                gamma[p, id_col] = -1
                continue
        both_date = True
        for t in range(6, 14):
            if a_id[i, t] == 255 or b_id[j, t] == 255:
                both_date = False
                break
        if both_date:
            gamma[p, dob_col] = -1
        if a_id[i, 16] != 255 and b_id[j, 16] != 255:
            gamma[p, gender_col] = -1


# =========================================================================== generic records

#: Text compared by Jaro-Winkler: levels 0 disagree, 1.. one per threshold (ascending), top exact.
KIND_STRING = 0
#: Codes and numbers (IDs, postcodes, street numbers): 0 disagree, 1 two edits,
#: 2 one edit or one adjacent swap, 3 exact.
KIND_CODE = 1
#: ``YYYYMMDD`` dates: 0 conflict, 1 same year, 2 one digit off, 3 day/month swapped, 4 exact.
KIND_DATE = 2
#: Exact agreement only: 0 disagree, 1 agree.
KIND_EXACT = 3

_KIND_NAMES = {"string": KIND_STRING, "code": KIND_CODE, "date": KIND_DATE, "exact": KIND_EXACT}


@dataclass(frozen=True)
class FieldSpec:
    """How one column of a generic record is compared.

    ``kind`` is ``"string"`` (Jaro-Winkler with ``thresholds``, ascending),
    ``"code"``, ``"date"`` or ``"exact"`` (see the ``KIND_*`` constants).
    ``column`` defaults to ``name``; ``other`` compares this column of ``a``
    with another column of ``b``. ``swap_with`` names another spec whose
    value may have been written in this one's place (given name and surname,
    two address lines): when comparing the two columns crosswise agrees better
    than straight (and one crosswise value is equal), :func:`compare_records`
    uses the crosswise levels for both.

    >>> FieldSpec("surname", "string", (0.88, 0.94)).levels
    ('disagree', 'jw_0.88', 'jw_0.94', 'exact')
    """

    name: str
    kind: str = "string"
    thresholds: tuple[float, ...] = (0.88, 0.94)
    column: str | None = None
    other: str | None = None
    swap_with: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KIND_NAMES:
            raise ValueError(f"kind: got {self.kind!r}; expected one of {sorted(_KIND_NAMES)}")
        th = tuple(float(t) for t in self.thresholds)
        if self.kind == "string" and (
            not th or any(not 0.0 < t <= 1.0 for t in th) or list(th) != sorted(th)
        ):
            raise ValueError(
                f"thresholds: got {self.thresholds!r}; expected ascending numbers in (0, 1]"
            )
        object.__setattr__(self, "thresholds", th)

    @property
    def source_a(self) -> str:
        return self.column or self.name

    @property
    def source_b(self) -> str:
        return self.other or self.column or self.name

    @property
    def levels(self) -> tuple[str, ...]:
        """Names of this field's levels 0, 1, ..."""
        if self.kind == "string":
            return ("disagree", *(f"jw_{t:g}" for t in self.thresholds), "exact")
        if self.kind == "code":
            return ("disagree", "two_edits", "one_edit", "exact")
        if self.kind == "date":
            return ("conflict", "year", "one_digit", "day_month_swapped", "exact")
        return ("disagree", "agree")


@dataclass(frozen=True)
class RecordTable:
    """Text columns as byte matrices: ``codes[i, c, :lengths[i, c]]`` is column c of row i.

    ``hashes[i, c]`` is a 64-bit hash of the value (0 for missing);
    ``masks[i, c]`` has bit ``code % 64`` set for every character of the value
    (a cheap bound on how many characters two values can share); ``columns``
    names the columns. Rows are record-major, so one record's fields share a
    few cache lines. Build with :func:`encode_records`.
    """

    columns: tuple[str, ...]
    codes: np.ndarray
    lengths: np.ndarray
    hashes: np.ndarray
    masks: np.ndarray

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def column(self, name: str) -> int:
        """Index of column ``name``."""
        try:
            return self.columns.index(name)
        except ValueError:
            raise ValueError(f"column: got {name!r}; expected one of {self.columns}") from None


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value).strip().lower()


def encode_records(
    columns: Mapping[str, Sequence[object]] | pd.DataFrame, names: Sequence[str] | None = None
) -> RecordTable:
    """Encode text columns (lower-cased, stripped; ``None``/NaN/blank = missing) as a
    :class:`RecordTable`. Non-ASCII characters become ``?``; values longer than
    64 characters are cut. O(total length).

    >>> t = encode_records({"surname": ["smith", None], "postcode": ["2600", "2601"]})
    >>> len(t), t.lengths.tolist()
    (2, [[5, 4], [0, 4]])
    """
    names = list(columns.keys() if names is None else names)
    if not names:
        raise ValueError("columns: got none; expected at least one column")
    data = {c: list(columns[c]) for c in names}
    n = len(data[names[0]])
    for c in names:
        if len(data[c]) != n:
            raise ValueError(f"column {c!r}: got {len(data[c])} values; expected {n}")
    texts = {c: [_as_text(v)[:64] for v in data[c]] for c in names}
    width = max(1, max((len(s) for c in names for s in texts[c]), default=1))
    codes = np.zeros((n, len(names), width), np.uint8)
    lengths = np.zeros((n, len(names)), np.int32)
    hashes = np.zeros((n, len(names)), np.int64)
    masks = np.zeros((n, len(names)), np.uint64)
    valid = np.arange(width)[None, :]
    for k, c in enumerate(names):
        col = texts[c]
        if not n:
            continue
        raw = np.array([s.encode("ascii", "replace") for s in col], dtype=f"S{width}")
        codes[:, k] = np.frombuffer(raw.tobytes(), np.uint8).reshape(n, width)
        lengths[:, k] = np.fromiter((len(s) for s in col), np.int32, n)
        h = pd.util.hash_array(np.asarray(col, dtype=object)).view(np.int64) & np.int64(2**62 - 1)
        hashes[:, k] = np.where(lengths[:, k] > 0, h + 1, 0)
        bits = np.left_shift(np.uint64(1), (codes[:, k] & 63).astype(np.uint64))
        bits[valid >= lengths[:, k][:, None]] = 0
        masks[:, k] = np.bitwise_or.reduce(bits, axis=1)
    return RecordTable(tuple(names), codes, lengths, hashes, masks)


# Codes reach the kernels as 2-D matrices (row i, column c) -> row i * n_columns + c,
# so no array views are made per pair; pm[f] is the pattern table of b's value of field f.


@njit(cache=True, inline="always")
def _outside(c, r, length, mask):  # noqa: ANN001, ANN202
    """Characters of c[r, :length] whose bit is not in mask (each needs an edit)."""
    n = 0
    for t in range(length):
        if (mask >> np.uint64(c[r, t] & 63)) & np.uint64(1) == np.uint64(0):
            n += 1
    return n


@njit(cache=True, inline="always")
def _fill(c, r, length, pm, f, bm):  # noqa: ANN001, ANN202
    for t in range(length):
        bm[t] = pm[f, c[r, t]]


@njit(cache=True, inline="always")
def _code_level(ca, ra, la, cb, rb, lb, out_a, out_b, pm, f, bm):  # noqa: ANN001, ANN202
    """3 exact, 2 one edit or adjacent swap, 1 two edits, 0 else (lengths > 0).

    ``pm[f]`` holds the pattern table of ``cb[rb]``; out_a/out_b count the
    characters of each side absent from the other (a lower bound on the distance)."""
    if la == lb:
        dis = 0
        d0 = -1
        d1 = -1
        for t in range(la):
            if ca[ra, t] != cb[rb, t]:
                if dis == 0:
                    d0 = t
                elif dis == 1:
                    d1 = t
                dis += 1
                if dis > 2:
                    break
        if dis == 0:
            return 3
        if dis == 1:
            return 2
        if dis == 2 and d1 == d0 + 1 and ca[ra, d0] == cb[rb, d1] and ca[ra, d1] == cb[rb, d0]:
            return 2
    if abs(la - lb) > 2 or out_a > 2 or out_b > 2:
        return 0
    _fill(ca, ra, la, pm, f, bm)
    d = _levenshtein(lb, la, bm, 2)
    if d <= 1:
        return 2
    if d == 2:
        return 1
    return 0


@njit(cache=True, inline="always")
def _date_text_level(ca, ra, la, cb, rb, lb, out_a, out_b, pm, f, bm):  # noqa: ANN001, ANN202
    """4 exact, 3 day/month swapped, 2 one digit off, 1 same year, 0 else."""
    if la != 8 or lb != 8:
        lv = _code_level(ca, ra, la, cb, rb, lb, out_a, out_b, pm, f, bm)
        return 4 if lv == 3 else (2 if lv == 2 else 0)
    dis = 0
    for t in range(8):
        if ca[ra, t] != cb[rb, t]:
            dis += 1
    if dis == 0:
        return 4
    same_year = ca[ra, 0] == cb[rb, 0] and ca[ra, 1] == cb[rb, 1]
    same_year = same_year and ca[ra, 2] == cb[rb, 2] and ca[ra, 3] == cb[rb, 3]
    if (
        same_year
        and ca[ra, 4] == cb[rb, 6]
        and ca[ra, 5] == cb[rb, 7]
        and ca[ra, 6] == cb[rb, 4]
        and ca[ra, 7] == cb[rb, 5]
    ):
        return 3
    if dis == 1:
        return 2
    if same_year:
        return 1
    return 0


@njit(cache=True, inline="always")
def _jw_level(ca, ra, la, cb, rb, lb, out_a, out_b, th, n_th, pm, f, bm):  # noqa: ANN001, ANN202
    """Level of Jaro-Winkler(ca[ra], cb[rb]) against the ascending thresholds th[f].

    First an upper bound: at most min(la - out_a, lb - out_b) characters can
    match, with no transpositions, and Winkler's boost needs the real common
    prefix; below the lowest threshold the pair is level 0 without matching."""
    m_up = min(la - out_a, lb - out_b)
    if m_up <= 0:
        return 0
    mf = float(m_up)
    bound = (mf / la + mf / lb + 1.0) / 3.0
    if bound > 0.7:
        pre = 0
        top = min(4, la, lb)
        while pre < top and ca[ra, pre] == cb[rb, pre]:
            pre += 1
        bound += pre * 0.1 * (1.0 - bound)
    if bound < th[f, 0]:
        return 0
    _fill(ca, ra, la, pm, f, bm)
    jw = _jaro_winkler(cb, rb, lb, ca, ra, la, bm, 0.1)  # Jaro-Winkler is symmetric
    lv = 0
    for t in range(n_th[f]):
        if jw >= th[f, t]:
            lv = t + 1
    return lv


@njit(cache=True)
def _records_range(  # noqa: ANN202
    ca, a_len, a_hash, a_mask, cb, b_len, b_hash, b_mask, col_a, col_b, kinds, top, th, n_th,
    ia, ib, out, start, stop,
):  # fmt: skip  # noqa: ANN001
    nf = kinds.shape[0]
    na = a_len.shape[1]  # columns per record
    nb = b_len.shape[1]
    pm = np.zeros((nf, 256), np.uint64)
    bm = np.zeros(64, np.uint64)
    one = np.uint64(1)
    last = -1
    for p in range(start, stop):
        i = ia[p]
        j = ib[p]
        if j != last:  # pairs come grouped by b: rebuild b's tables only when it changes
            for f in range(nf):
                cy = col_b[f]
                if last >= 0:
                    rl = last * nb + cy
                    for t in range(b_len[last, cy]):
                        pm[f, cb[rl, t]] = np.uint64(0)
                rj = j * nb + cy
                for t in range(b_len[j, cy]):
                    pm[f, cb[rj, t]] |= one << np.uint64(t)
            last = j
        for f in range(nf):
            cx = col_a[f]
            cy = col_b[f]
            la = np.int64(a_len[i, cx])
            lb = np.int64(b_len[j, cy])
            if la == 0 or lb == 0:
                out[p, f] = -1
                continue
            kind = kinds[f]
            if a_hash[i, cx] == b_hash[j, cy]:
                out[p, f] = top[f]
                continue
            if kind == 3:
                out[p, f] = 0
                continue
            ra = i * na + cx
            rb = j * nb + cy
            out_a = _outside(ca, ra, la, b_mask[j, cy])
            out_b = _outside(cb, rb, lb, a_mask[i, cx])
            if kind == 0:
                out[p, f] = _jw_level(ca, ra, la, cb, rb, lb, out_a, out_b, th, n_th, pm, f, bm)
            elif kind == 1:
                out[p, f] = _code_level(ca, ra, la, cb, rb, lb, out_a, out_b, pm, f, bm)
            else:
                out[p, f] = _date_text_level(ca, ra, la, cb, rb, lb, out_a, out_b, pm, f, bm)


@njit(cache=True, parallel=True)
def _records_par(  # noqa: ANN202
    ca, a_len, a_hash, a_mask, cb, b_len, b_hash, b_mask, col_a, col_b, kinds, top, th, n_th,
    ia, ib, out, n_chunks,
):  # fmt: skip  # noqa: ANN001
    n = ia.shape[0]
    for c in prange(n_chunks):
        _records_range(
            ca, a_len, a_hash, a_mask, cb, b_len, b_hash, b_mask, col_a, col_b, kinds, top, th,
            n_th, ia, ib, out, n * c // n_chunks, n * (c + 1) // n_chunks,
        )  # fmt: skip


def compare_records(
    a: RecordTable,
    b: RecordTable,
    ia: np.ndarray,
    ib: np.ndarray,
    specs: Sequence[FieldSpec],
    *,
    parallel: bool = True,
) -> np.ndarray:
    """Agreement levels of the record pairs ``(a[ia[p]], b[ib[p]])``, one column per spec.

    Returns int8 ``(n_pairs, len(specs))`` (``-1`` missing; see
    :attr:`FieldSpec.levels`). One fused numba pass: a hash comparison first,
    then Jaro-Winkler or bounded Levenshtein only for values that differ and
    whose shared characters could reach the lowest level (a bound from
    :attr:`RecordTable.masks`). The pattern table of the ``b`` side is built
    once per run of pairs with the same ``ib`` (give pairs sorted by ``ib``,
    as :mod:`~graph.persons.blocking` does). Specs with ``swap_with`` also get their crosswise levels, and keep them
    where they beat the straight ones (sum of the two levels).
    O(n_pairs x n_fields x L).

    >>> t = encode_records({"surname": ["smith", "smyth", None]})
    >>> compare_records(t, t, np.array([0, 0]), np.array([1, 2]),
    ...                 [FieldSpec("surname", "string", (0.85, 0.9))]).ravel().tolist()
    [1, -1]
    """
    for name, x in (("a", a), ("b", b)):
        if not isinstance(x, RecordTable):
            raise TypeError(f"{name}: got {type(x).__name__}; expected a RecordTable")
    specs = list(specs)
    if not specs:
        raise ValueError("specs: got none; expected at least one FieldSpec")
    ia = np.ascontiguousarray(ia, dtype=np.int64)
    ib = np.ascontiguousarray(ib, dtype=np.int64)
    if ia.shape != ib.shape or ia.ndim != 1:
        raise ValueError(f"ia, ib: got shapes {ia.shape}, {ib.shape}; expected equal 1-d")
    for name, arr, n in (("ia", ia, len(a)), ("ib", ib, len(b))):
        if arr.size and (arr.min() < 0 or arr.max() >= n):
            raise ValueError(f"{name}: indices out of range 0..{n - 1}")
    names = [s.name for s in specs]
    swaps: list[tuple[int, int]] = []
    for f, s in enumerate(specs):
        if s.swap_with is not None:
            if s.swap_with not in names or s.swap_with == s.name:
                raise ValueError(
                    f"specs[{f}].swap_with: got {s.swap_with!r}; expected another spec's name"
                )
            swaps.append((f, names.index(s.swap_with)))
    ia = ia.astype(np.int64, copy=False)
    ib = ib.astype(np.int64, copy=False)
    out = _run_specs(a, b, ia, ib, specs, parallel)
    for f, g in swaps:
        # crosswise only where one crosswise value is equal: a swap, perhaps with a typo
        ca, cb = a.column(specs[f].source_a), a.column(specs[g].source_a)
        da, db = b.column(specs[f].source_b), b.column(specs[g].source_b)
        hit = (
            ((a.hashes[ia, ca] == b.hashes[ib, db]) | (a.hashes[ia, cb] == b.hashes[ib, da]))
            & (a.hashes[ia, ca] != 0)
            & (a.hashes[ia, cb] != 0)
        )
        hit &= (out[:, f] < len(specs[f].levels) - 1) | (out[:, g] < len(specs[g].levels) - 1)
        sel = np.flatnonzero(hit)
        if sel.size == 0:
            continue
        cross = [
            FieldSpec(f"{names[x]}~{names[y]}", specs[x].kind, specs[x].thresholds,
                      column=specs[x].source_a, other=specs[y].source_b)
            for x, y in ((f, g), (g, f))
        ]  # fmt: skip
        both = _run_specs(a, b, ia[sel], ib[sel], cross, parallel)
        straight = out[sel, f].astype(np.int16) + out[sel, g]
        better = (both[:, 0].astype(np.int16) + both[:, 1] > straight) & np.all(both >= 0, axis=1)
        rows = sel[better]
        out[rows, f] = both[better, 0]
        out[rows, g] = both[better, 1]
    return out


def _run_specs(
    a: RecordTable,
    b: RecordTable,
    ia: np.ndarray,
    ib: np.ndarray,
    run: Sequence[FieldSpec],
    parallel: bool,
) -> np.ndarray:
    col_a = np.array([a.column(s.source_a) for s in run], np.int64)
    col_b = np.array([b.column(s.source_b) for s in run], np.int64)
    kinds = np.array([_KIND_NAMES[s.kind] for s in run], np.int64)
    top = np.array([len(s.levels) - 1 for s in run], np.int64)  # the exact level
    n_th = np.array([len(s.thresholds) if s.kind == "string" else 0 for s in run], np.int64)
    th = np.ones((len(run), max(1, int(n_th.max()))), np.float64)
    for f, s in enumerate(run):
        if s.kind == "string":
            th[f, : len(s.thresholds)] = s.thresholds
    out = np.empty((ia.shape[0], len(run)), np.int8)
    if ia.shape[0] == 0:
        return out
    codes_a = a.codes.reshape(-1, a.codes.shape[2])  # row i * n_columns + c (no copy)
    codes_b = b.codes.reshape(-1, b.codes.shape[2])
    args = (codes_a, a.lengths, a.hashes, a.masks, codes_b, b.lengths, b.hashes, b.masks,
            col_a, col_b, kinds, top, th, n_th, ia, ib, out)  # fmt: skip
    if parallel and ia.shape[0] >= 4096:
        _records_par(*args, max(1, min(ia.shape[0] // 4096, numba.get_num_threads() * 8)))
    else:
        _records_range(*args, 0, ia.shape[0])
    return out
