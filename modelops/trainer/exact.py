"""Exact statistics of a column read batch by batch: sums, order statistics (quantiles), modes.

`prepare` cannot hold the data, yet its clipping bounds and fill values end up in the stored data,
in the version hash and in every served model's pipeline. So they are computed exactly, and the
same way whatever the batch sizes: the same data gives the same cleaning, hence the same version,
under any memory setting.

- Sums are kept exactly (as integers scaled by a power of two) and rounded once at the end: a mean
  is the correctly rounded mean, which numpy's pairwise summation approaches to within an ulp or
  two. It cannot be numpy's own: numpy's rounding depends on how the values are split up.
- Order statistics are exact: a radix select over the values' order-preserving 64-bit keys, one
  16-bit digit per scan, gathering the candidates once they fit (`gather` values). Quantiles
  interpolate between them as numpy does (`percentile`, `quantile`, `median`), to the bit.
- A mode is exact: values are counted range by range of their keys, each range small enough to
  count in memory.

A `Scan` is a callable that yields the column's values (NaN-free float64 or int64 arrays), the
same values on every call: each call reads the data once more.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import numpy.typing as npt

Values = npt.NDArray[np.float64] | npt.NDArray[np.int64]
Scan = Callable[[], Iterable[Values]]

_SIGN = np.uint64(1 << 63)
_LARGE = 2.0**-900
_SCALE = 2.0**-100
_DIGIT = 16
_BINS = 1 << _DIGIT
_MASK = np.uint64(_BINS - 1)


def held(*parts: Values) -> Scan:
    """A scan of values already in memory."""
    return lambda: parts


class ExactSum:
    """The exact sum of every value added; `value()` rounds it once.

    Each batch is split without error into slices (Rump's extraction: (s + x) - s keeps x's bits
    above a power of two s can round to), the slice sums are exact in float64 because every term
    is a multiple of the same power of two and their total stays below 2**53 of them, and those
    sums are added as fractions. Two or three slices cover most columns.
    """

    def __init__(self) -> None:
        self._total = Fraction(0)
        self.count = 0

    def add(self, values: Values) -> None:
        remainder = np.asarray(values, dtype=np.float64)
        self.count += remainder.size
        if remainder.size == 0:
            return
        # The slice sums hold up to `headroom` bits of carries above the largest term's bits.
        headroom = int(np.ceil(np.log2(remainder.size + 1))) + 1
        while True:
            largest = float(np.max(np.abs(remainder)))
            if largest == 0.0:
                return
            top = math.frexp(largest)[1] + headroom
            if top > 1023:  # the splitter itself would overflow
                self._add_scaled(remainder)
                return
            splitter = math.ldexp(1.0, top)
            high = (splitter + remainder) - splitter
            self._total += Fraction(float(high.sum()))
            remainder = remainder - high

    def _add_scaled(self, values: npt.NDArray[np.float64]) -> None:
        """Values near the largest doubles: the large ones scaled down by 2**-100 (exact: they stay normal),
        the small ones as they are (nothing near them can overflow)."""
        large = np.abs(values) >= _LARGE
        inner = ExactSum()
        inner.add(values[large] * _SCALE)
        self._total += inner._total * (1 << 100)
        inner = ExactSum()
        inner.add(values[~large])
        self._total += inner._total

    def fraction(self) -> Fraction:
        return self._total

    def value(self) -> float:
        return float(self._total)

    def mean(self) -> float:
        return float(self._total / self.count) if self.count else 0.0


def exact_mean(scan: Scan) -> tuple[float, int]:
    """(mean, count) of the scanned values; the mean is 0.0 when there are none."""
    total = ExactSum()
    for values in scan():
        total.add(values)
    return total.mean(), total.count


def squared_deviations(scan: Scan, mean: float) -> float:
    """The exact sum of (x - mean)**2, each term rounded as numpy rounds it, then rounded once."""
    total = ExactSum()
    for values in scan():
        deviations = np.asarray(values, dtype=np.float64) - mean
        total.add(deviations * deviations)
    return total.value()


def sort_keys(values: Values) -> npt.NDArray[np.uint64]:
    """uint64 keys in the order of the values: int64 offset by 2**63, float64 by its bits, sign flipped."""
    if values.dtype == np.int64:
        return values.view(np.uint64) ^ _SIGN
    bits = np.asarray(values, dtype=np.float64).view(np.uint64)
    return np.where(bits & _SIGN, ~bits, bits | _SIGN)


def key_value(key: int, dtype: np.dtype[np.generic]) -> float | int:
    """The value whose `sort_keys` is `key`."""
    word = np.array([key], dtype=np.uint64)
    if dtype == np.int64:
        return int((word ^ _SIGN).view(np.int64)[0])
    bits = np.where(word & _SIGN, word & ~_SIGN, ~word)
    return float(bits.view(np.float64)[0])


@dataclass
class _Range:
    """Keys whose top `bits` bits are `prefix` and whose next digit lies in [low, high]."""

    prefix: int
    bits: int
    size: int  # how many scanned values fall in it
    low: int = 0
    high: int = _BINS - 1
    # (rank counted from the range's first value, the rank asked for) of each order statistic sought
    ranks: list[tuple[int, int]] = field(default_factory=list)
    gathered: list[npt.NDArray[np.uint64]] | None = None
    histogram: npt.NDArray[np.int64] | None = None

    def select(self, keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
        if self.bits:
            keys = keys[(keys >> np.uint64(64 - self.bits)) == np.uint64(self.prefix)]
        if self.low > 0 or self.high < _BINS - 1:
            digit = self.digits(keys)
            keys = keys[(digit >= self.low) & (digit <= self.high)]
        return keys

    def digits(self, keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
        return ((keys >> np.uint64(64 - self.bits - _DIGIT)) & _MASK).astype(np.intp)

    def child(self, digit: int, size: int) -> _Range:
        return _Range(prefix=(self.prefix << _DIGIT) | digit, bits=self.bits + _DIGIT, size=size)

    def keys(self) -> npt.NDArray[np.uint64]:
        assert self.gathered is not None
        return np.concatenate(self.gathered) if self.gathered else np.empty(0, dtype=np.uint64)


def _scan_ranges(scan: Scan, ranges: list[_Range], gather: int) -> tuple[list[_Range], np.dtype[np.generic]]:
    """One scan over `ranges`; returns those left for a later scan, and the values' dtype.

    A range of at most `gather` values is gathered (smallest first, `gather` values all told); one
    that is too large is histogrammed on its next digit; one that would fit, but not beside the
    others gathered, waits for the next scan.
    """
    budget, later = gather, []
    for r in sorted(ranges, key=lambda r: r.size):
        if r.size <= budget:
            r.gathered = []
            budget -= r.size
        elif r.size > gather:
            r.histogram = np.zeros(_BINS, dtype=np.int64)
        else:
            later.append(r)
    active = [r for r in ranges if r.gathered is not None or r.histogram is not None]
    dtype: np.dtype[np.generic] = np.dtype(np.float64)
    for values in scan():
        dtype = values.dtype
        keys = sort_keys(values)
        for r in active:
            selected = r.select(keys)
            if r.gathered is not None:
                r.gathered.append(selected)
            elif r.histogram is not None and selected.size:
                r.histogram += np.bincount(r.digits(selected), minlength=_BINS)
    return later, dtype


def order_statistics(scan: Scan, ranks: Sequence[int], *, count: int, gather: int) -> dict[int, float | int]:
    """The values at `ranks` (0-based) in sorted order of the `count` scanned values, exactly."""
    if any(not 0 <= k < count for k in ranks):
        raise ValueError(f"ranks {sorted(ranks)} out of range for {count} values")
    if not ranks:
        return {}
    found: dict[int, int] = {}  # rank -> key
    pending = [_Range(prefix=0, bits=0, size=count, ranks=[(k, k) for k in sorted(set(ranks))])]
    dtype: np.dtype[np.generic] = np.dtype(np.float64)
    while pending:
        later, dtype = _scan_ranges(scan, pending, gather)
        for r in pending:
            if r.gathered is not None:
                keys = r.keys()
                keys.partition([within for within, _ in r.ranks])
                found.update((wanted, int(keys[within])) for within, wanted in r.ranks)
            elif r.histogram is not None:
                later.extend(_narrow(r, found))
        pending = later
    return {rank: key_value(found[rank], dtype) for rank in ranks}


def _narrow(r: _Range, found: dict[int, int]) -> Iterator[_Range]:
    """The bins of a histogrammed range that hold the ranks sought, as ranges one digit longer."""
    assert r.histogram is not None
    cumulative = np.cumsum(r.histogram)
    children: dict[int, _Range] = {}
    for within, wanted in r.ranks:
        digit = int(np.searchsorted(cumulative, within, side="right"))
        before = int(cumulative[digit - 1]) if digit else 0
        if r.bits + _DIGIT == 64:  # the bin holds one value, all 64 bits known
            found[wanted] = (r.prefix << _DIGIT) | digit
            continue
        if digit not in children:
            children[digit] = r.child(digit, int(r.histogram[digit]))
        children[digit].ranks.append((within - before, wanted))
    yield from children.values()


def _lerp(below: float | int, above: float | int, t: float) -> float:
    """numpy's interpolation between two order statistics (`numpy.lib._function_base_impl._lerp`)."""
    a, b, weight = np.asarray(below), np.asarray(above), np.float64(t)
    difference = b - a
    if weight >= 0.5:
        return float(b - difference * (1 - weight))
    return float(a + difference * weight)


def quantile_ranks(count: int, q: float) -> tuple[int, int, float]:
    """(rank below, rank above, weight) of quantile `q` as numpy's default (linear) method places it."""
    virtual = np.float64(count - 1) * np.float64(q)
    below = int(np.floor(virtual))
    if virtual >= count - 1:
        return count - 1, count - 1, float(virtual - below)
    if virtual < 0:
        return 0, 0, float(virtual - below)
    return below, below + 1, float(virtual - below)


def quantiles(scan: Scan, qs: Sequence[float], *, count: int, gather: int) -> list[float]:
    """`numpy.quantile(values, qs)` of the scanned values, exactly (`count` > 0)."""
    places = [quantile_ranks(count, q) for q in qs]
    wanted = sorted({rank for below, above, _ in places for rank in (below, above)})
    values = order_statistics(scan, wanted, count=count, gather=gather)
    return [_lerp(values[below], values[above], t) for below, above, t in places]


def median(scan: Scan, *, count: int, gather: int) -> float:
    """pandas' (and numpy's) median: the middle value, or the mean of the two middle ones (`count` > 0)."""
    middle = count // 2
    if count % 2:
        return float(order_statistics(scan, [middle], count=count, gather=gather)[middle])
    values = order_statistics(scan, [middle - 1, middle], count=count, gather=gather)
    pair = np.array([values[middle - 1], values[middle]], dtype=np.float64)
    return float(pair.mean())


def mode(scan: Scan, *, count: int, gather: int) -> float | int | None:
    """The most frequent scanned value, the smallest of those tied (pandas' `mode().iloc[0]`); None if none.

    Scan float values with -0.0 made 0.0: pandas counts them as one value, their keys differ.
    """
    if count == 0:
        return None
    best = (0, 0)  # (count, key)
    pending = [_Range(prefix=0, bits=0, size=count)]
    dtype: np.dtype[np.generic] = np.dtype(np.float64)
    while pending:
        later, dtype = _scan_ranges(scan, pending, gather)
        for r in pending:
            if r.gathered is not None:
                distinct, counts = np.unique(r.keys(), return_counts=True)
                if distinct.size:
                    top = int(np.argmax(counts))  # the first of the most frequent: the smallest key
                    best = _better(best, (int(counts[top]), int(distinct[top])))
            elif r.histogram is not None and r.bits + _DIGIT == 64:  # each bin is one value, counted
                top = int(np.argmax(r.histogram))
                best = _better(best, (int(r.histogram[top]), (r.prefix << _DIGIT) | top))
            elif r.histogram is not None:
                later.extend(_split(r, gather))
        pending = later
    return key_value(best[1], dtype)


def _better(best: tuple[int, int], candidate: tuple[int, int]) -> tuple[int, int]:
    """More frequent wins; between equally frequent values, the smaller key (value)."""
    if candidate[0] > best[0] or (candidate[0] == best[0] and candidate[1] < best[1]):
        return candidate
    return best


def _split(r: _Range, gather: int) -> Iterator[_Range]:
    """The histogrammed range cut into runs of digits that can each be counted in memory."""
    assert r.histogram is not None
    start, size = 0, 0
    for digit in (int(d) for d in np.flatnonzero(r.histogram)):
        bin_size = int(r.histogram[digit])
        if bin_size > gather:  # one digit alone is too many values: look at the next digit
            if size:
                yield _Range(prefix=r.prefix, bits=r.bits, size=size, low=start, high=digit - 1)
                size = 0
            yield r.child(digit, bin_size)
            start = digit + 1
            continue
        if size + bin_size > gather:
            yield _Range(prefix=r.prefix, bits=r.bits, size=size, low=start, high=digit - 1)
            start, size = digit, 0
        elif size == 0:
            start = digit
        size += bin_size
    if size:
        yield _Range(prefix=r.prefix, bits=r.bits, size=size, low=start, high=_BINS - 1)
