"""What an evaluation returns: metrics, their directions and JSON-able details."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class EvalResult:
    """Metrics (NaN where a value could not be computed), their directions and JSON-able details."""

    metrics: dict[str, float] = field(default_factory=dict)
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, key: str, value: float, higher_is_better: bool) -> None:
        """Record a metric; non-finite values become NaN."""
        value = float(value)
        self.metrics[key] = value if math.isfinite(value) else math.nan
        self.higher_is_better[key] = higher_is_better

    def note(self, message: str) -> None:
        self.details.setdefault("messages", []).append(message)
