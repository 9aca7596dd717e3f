"""Re-key records made before configs were resolved in one step (``jepa-bench migrate``).

Earlier runs named their directory after the hash of the *request* and stored the hash of the
*resolved* config, with some settings left unset (``None`` meant "the budget's default"). A
migration resolves the stored config again with today's ``resolve``, refuses when any setting
that was set would change (the run's behaviour must be the one recorded), and then writes the
record under the new hash: ``run_id`` and ``config_hash`` both carry it, ``config`` is the full
resolved config, and ``details.migration`` says what it was before. A migrated record is no
longer verified (its verification named the old hash): run ``jepa-bench verify`` on it again.
In a leaderboard folder the record and checkpoint files are renamed and the tables regenerated;
a run directory gets a new config.yaml and result.json and is renamed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from jepa_bench.config import RunConfig
from jepa_bench.leaderboard.tables import RECORDS, generate_tables, record_path
from jepa_bench.record.io import load_record, write_record
from jepa_bench.record.verification import strip_verification
from jepa_bench.runner import RunDir, resolve, run_id_for
from jepa_bench.submit.submit import leaderboard_checkpoint


class MigrationError(ValueError):
    """A record that cannot be re-keyed without changing what the run did."""


@dataclass
class Migrated:
    """One record re-keyed: where it was and where it is now."""

    old_run_id: str
    new_run_id: str
    changed: bool  # False: already in today's form
    path: Path | None = None  # a run directory's path after the migration (None: a record)


def _changes(old: Any, new: Any, where: str = "") -> list[str]:
    """Settings that were set in ``old`` and differ in ``new`` (``None`` in old: unset)."""
    if isinstance(old, Mapping):
        sub = new if isinstance(new, Mapping) else {}
        out: list[str] = []
        for key, value in old.items():
            out += _changes(value, sub.get(key), f"{where}{key}.")
        return out
    if old is None or old == new:
        return []
    return [f"{where.rstrip('.')}: {old!r} -> {new!r}"]


def migrate_config(old: Mapping[str, Any]) -> RunConfig:
    """Today's resolved config for a stored one; ``MigrationError`` if any set value changes."""
    cfg = resolve(old)
    # the regulariser string may only be respelled (resolve writes one spelling per composition)
    changes = [c for c in _changes(old, cfg.to_dict()) if not c.startswith("reg:")]
    if changes:
        raise MigrationError("resolving it again would change: " + "; ".join(changes))
    return cfg


def migrate_record(record: dict[str, Any]) -> dict[str, Any]:
    """The record under today's config and hash (a copy; unverified when it changed)."""
    cfg = migrate_config(record["config"])
    kept = {k: record["config"].get(k) for k in ("out", "data_dir", "device")}
    cfg = replace(cfg, **{k: v for k, v in kept.items() if v is not None})
    new_id = run_id_for(cfg)
    if new_id == record["run_id"] and cfg.hash() == record["config_hash"]:
        return record
    out = strip_verification(copy.deepcopy(record))
    details = dict(out.get("details") or {})
    details["migration"] = {
        "from_run_id": record["run_id"],
        "from_config_hash": record["config_hash"],
        "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "why": "configs are resolved in one step; one hash names the run and the record",
    }
    out.update(
        run_id=new_id,
        config=cfg.to_dict(),
        config_hash=cfg.hash(),
        details=details,
        regularizer={**out["regularizer"], "spec": cfg.reg},
    )
    return out


def migrate_leaderboard(leaderboard_dir: str | Path) -> list[Migrated]:
    """Migrate every record of a leaderboard folder, move its checkpoint, regenerate tables.

    Every record is migrated in memory first: one that cannot be leaves every file as it was.
    """
    root = Path(leaderboard_dir)
    plans = []
    for path in sorted((root / RECORDS).glob("*/*.json")):
        record = load_record(path)
        try:
            plans.append((path, record, migrate_record(record)))
        except MigrationError as e:
            raise MigrationError(f"{path}: {e}") from None
    done = []
    for path, old, new in plans:
        changed = new is not old
        if changed:
            old_ckpt = leaderboard_checkpoint(root, old)
            write_record(record_path(root, new), new)
            if old_ckpt.exists():
                old_ckpt.replace(leaderboard_checkpoint(root, new))
            if record_path(root, new) != path:
                path.unlink()
        done.append(Migrated(old["run_id"], new["run_id"], changed))
    generate_tables(root)
    return done


def migrate_run_dir(run_dir: str | Path) -> Migrated:
    """Migrate a run directory's config.yaml and result.json and rename it after the new hash;
    ``path`` of the answer is where the directory is now."""
    rundir = RunDir(Path(run_dir))
    if not rundir.config_file.is_file():
        raise MigrationError(f"{rundir.path} is not a run directory: it has no config.yaml")
    old_cfg = yaml.safe_load(rundir.config_file.read_text())
    record = rundir.record()
    if record is not None:
        new = migrate_record(record)
        cfg = RunConfig.from_dict(new["config"])
    else:
        new, cfg = None, migrate_config(old_cfg)
    target = rundir.path.with_name(run_id_for(cfg))
    if target != rundir.path and target.exists():
        raise MigrationError(f"{target} exists already; not renaming {rundir.path} onto it")
    rundir.config_file.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    if new is not None and new is not record:
        write_record(rundir.result_file, new)
    if target != rundir.path:
        rundir.path.rename(target)
    old_id = record["run_id"] if record else rundir.path.name
    return Migrated(old_id, target.name, target != rundir.path, target)
