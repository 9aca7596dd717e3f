"""LeWM (LeWorldModel): ViT encoder with CLS token + AdaLN-zero causal transformer predictor.

Registered as ``lewm`` (reference), ``lewm_cpu`` and ``lewm_smoke`` (``presets.py``).
"""

from jepa_bench.models.lewm.model import LeWM, count_params
from jepa_bench.models.lewm.presets import LEWM, LEWM_CPU, LEWM_SMOKE

__all__ = ["LEWM", "LEWM_CPU", "LEWM_SMOKE", "LeWM", "count_params"]
