"""The shared evaluator: probes, latent error, collapse statistics and parameter counts."""

from jepa_bench.evaluate.evaluator import EVAL_PROTOCOL, EvalResult, evaluate, frozen
from jepa_bench.models.params import param_counts

__all__ = ["EVAL_PROTOCOL", "EvalResult", "evaluate", "frozen", "param_counts"]
