"""Leaderboard: result records in; headline markdown and CSV tables, index.html and plots out."""

from jepa_bench.leaderboard.lock import LeaderboardBusy, leaderboard_lock
from jepa_bench.leaderboard.tables import (
    LeaderboardWarning,
    VerifiedRecordError,
    add_record,
    build_tables,
    check_tables,
    generate_tables,
    load_records,
    record_path,
    render_tables,
)

__all__ = [
    "LeaderboardBusy",
    "LeaderboardWarning",
    "VerifiedRecordError",
    "add_record",
    "build_tables",
    "check_tables",
    "generate_tables",
    "leaderboard_lock",
    "load_records",
    "record_path",
    "render_tables",
]
