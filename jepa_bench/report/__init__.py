"""The latent-space report of one or several runs: figures, a verdict in plain words, HTML.

``build_report(run_dirs, out)`` writes ``out/report.html`` (images embedded) and the PNGs beside
it; ``jepa-bench report`` and ``jepa-bench run --report`` call it.
"""

from jepa_bench.report.build import build_report
from jepa_bench.report.diagnosis import RULE, Diagnosis, DiagnosisInputs, diagnose

__all__ = ["RULE", "Diagnosis", "DiagnosisInputs", "build_report", "diagnose"]
