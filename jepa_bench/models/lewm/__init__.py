"""LeWM (LeWorldModel): ViT encoder with CLS token + AdaLN-zero causal transformer predictor.

Registered lazily in ``jepa_bench.models`` as ``lewm`` (reference), ``lewm_cpu`` and ``lewm_smoke``.
"""

from jepa_bench.models.lewm.model import LeWM, count_params
from jepa_bench.models.lewm.sizes import LeWMCPU, LeWMSmoke, lewm, lewm_cpu, lewm_smoke

__all__ = ["LeWM", "LeWMCPU", "LeWMSmoke", "count_params", "lewm", "lewm_cpu", "lewm_smoke"]
