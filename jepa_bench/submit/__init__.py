"""Submitting runs to the leaderboard and verifying recorded results (``submit`` / ``verify``)."""

from jepa_bench.record.verification import is_verified
from jepa_bench.submit.compare import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    MetricCheck,
    compare_metrics,
    values_match,
)
from jepa_bench.submit.submit import Submission, SubmissionError, check_submission, submit_run
from jepa_bench.submit.verify import Verification, format_checks, mark_leaderboard, verify_record

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "MetricCheck",
    "SubmissionError",
    "Submission",
    "Verification",
    "check_submission",
    "compare_metrics",
    "format_checks",
    "is_verified",
    "mark_leaderboard",
    "submit_run",
    "values_match",
    "verify_record",
]
