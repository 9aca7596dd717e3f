"""Model families, registered by name. Heavy or optional families register lazily."""

from jepa_bench.models import convnext_mlp  # noqa: F401,E402
from jepa_bench.registry import MODELS

for _name in ("lewm", "lewm_cpu", "lewm_smoke"):
    MODELS.add(
        _name, f"jepa_bench.models.lewm:{_name}", help="LeWM: ViT encoder + AdaLN-zero predictor"
    )
