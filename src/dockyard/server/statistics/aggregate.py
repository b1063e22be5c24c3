"""Sums of stored minute rows, and the figures the stats endpoints derive from them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from dockyard.server.statistics.models import BUCKET_COLUMNS, LATENCY_BOUNDS_MS, RequestStat


@dataclass
class Totals:
    requests: int = 0
    by_class: list[int] = field(default_factory=lambda: [0] * 5)  # 1xx … 5xx
    latency_sum_ms: float = 0.0
    latency_max_ms: float = 0.0
    max_concurrency: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKET_COLUMNS))

    @classmethod
    def of(cls, rows: Iterable[RequestStat]) -> Totals:
        totals = cls()
        for row in rows:
            totals.add(row)
        return totals

    def add(self, row: RequestStat) -> None:
        self.requests += row.requests
        for index in range(5):
            self.by_class[index] += getattr(row, f"status_{index + 1}xx")
        self.latency_sum_ms += row.latency_sum_ms
        self.latency_max_ms = max(self.latency_max_ms, row.latency_max_ms)
        self.max_concurrency = max(self.max_concurrency, row.max_concurrency)
        for index, column in enumerate(BUCKET_COLUMNS):
            self.buckets[index] += getattr(row, column)

    # --- derived figures ---------------------------------------------------------------------

    @property
    def user_errors(self) -> int:
        return self.by_class[3]

    @property
    def server_errors(self) -> int:
        return self.by_class[4]

    @property
    def succeeded(self) -> int:
        return self.requests - self.user_errors - self.server_errors

    def rate(self, part: int) -> float:
        return part / self.requests if self.requests else 0.0

    @property
    def mean_ms(self) -> float:
        return self.latency_sum_ms / self.requests if self.requests else 0.0

    def quantile_ms(self, q: float) -> float:
        """The latency at quantile `q`, interpolated inside its histogram bucket."""
        total = sum(self.buckets)
        if not total:
            return 0.0
        target = q * total
        seen = 0
        lower = 0.0
        for count, bound in zip(self.buckets, LATENCY_BOUNDS_MS, strict=True):
            upper = min(bound, max(self.latency_max_ms, lower))
            if count and seen + count >= target:
                return round(lower + (upper - lower) * max(target - seen, 0) / count, 3)
            seen += count
            lower = bound
        return round(self.latency_max_ms, 3)

    def slower_than(self, threshold_ms: float) -> int:
        """Requests slower than the threshold (exact when it is a bucket bound)."""
        slow = 0.0
        lower = 0.0
        for count, bound in zip(self.buckets, LATENCY_BOUNDS_MS, strict=True):
            upper = min(bound, max(self.latency_max_ms, lower))
            if lower >= threshold_ms:
                slow += count
            elif upper > threshold_ms and count:
                slow += count * (upper - threshold_ms) / (upper - lower)
            lower = bound
        return round(slow)
