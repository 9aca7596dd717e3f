"""Leaderboard: result records in, generated markdown and CSV tables out."""

from jepa_bench.leaderboard.tables import (
    LeaderboardWarning,
    add_record,
    check_tables,
    generate_tables,
    load_records,
    record_path,
    render_tables,
)

__all__ = [
    "LeaderboardWarning",
    "add_record",
    "check_tables",
    "generate_tables",
    "load_records",
    "record_path",
    "render_tables",
]
