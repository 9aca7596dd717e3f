"""Versioned JSON result records: build, validate, read and write them (see docs/results.md)."""

from jepa_bench.record.hardware import git_info, hardware_info, hardware_short
from jepa_bench.record.io import (
    RecordError,
    file_sha256,
    load_record,
    parse_record,
    to_jsonable,
    write_json,
    write_record,
)
from jepa_bench.record.schema import (
    LEGACY_EVAL_PROTOCOL,
    SCHEMA_VERSION,
    build_record,
    eval_protocol_of,
    hash_config,
    make_run_id,
    record_warnings,
    validate_record,
)

__all__ = [
    "LEGACY_EVAL_PROTOCOL",
    "SCHEMA_VERSION",
    "RecordError",
    "build_record",
    "eval_protocol_of",
    "file_sha256",
    "git_info",
    "hardware_info",
    "hardware_short",
    "hash_config",
    "load_record",
    "make_run_id",
    "parse_record",
    "record_warnings",
    "to_jsonable",
    "validate_record",
    "write_json",
    "write_record",
]
