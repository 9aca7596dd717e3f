"""The shared evaluator: probes, latent error, collapse statistics and parameter counts."""

from jepa_bench.evaluate.evaluator import EvalResult, evaluate, frozen, probe_epochs
from jepa_bench.evaluate.params import param_counts

__all__ = ["EvalResult", "evaluate", "frozen", "param_counts", "probe_epochs"]
