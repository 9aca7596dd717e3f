"""Convert a LeRobot dataset to the LeWM HDF5 layout, one episode and one camera at a time."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from jepa_bench import __version__
from jepa_bench.convert.hdf5_writer import COMPRESSIONS
from jepa_bench.convert.hub import resolve_source
from jepa_bench.convert.interrupt import InterruptGuard
from jepa_bench.convert.layout import LAYOUT_VERSION, PIXELS, extra_camera_name
from jepa_bench.convert.lerobot_meta import (
    V3,
    EpisodeMeta,
    EpisodeRows,
    LeRobotSource,
    read_source,
)
from jepa_bench.convert.plan import CameraPlan, Plan, current_rss_mb
from jepa_bench.convert.report import (
    POLICIES,
    BadSourceError,
    ConversionError,
    ConversionInterrupted,
    ConversionReport,
    DirtyDataError,
    EpisodeError,
    Issue,
    OptionError,
    OutputExistsError,
    SourceError,
    resolve_policy,
)
from jepa_bench.convert.validate import probe_videos, validate_metadata
from jepa_bench.convert.video import FITS, INTERPOLATIONS, MatchStats, Resizer, decode_episode
from jepa_bench.convert.watchdog import Watchdog, watched
from jepa_bench.convert.writing import commit_all, open_sinks, write_columns


@dataclass
class ConvertOptions:
    """How to convert; every field maps onto a ``jepa-bench convert`` flag."""

    camera: str | None = None  # primary camera (default: the first video feature)
    extra_cameras: str = "none"  # none | datasets (pixels_<cam> in the file) | files (one per cam)
    size: tuple[int, int] | None = (224, 224)  # (H, W); None keeps the source size
    fit: str = "stretch"  # stretch | crop (keep aspect, centre crop) | pad (keep aspect, pad)
    interpolation: str = "bilinear"
    compression: str = "lzf"
    micro_batch: int = 64  # frames per write = HDF5 chunk rows
    dirty_episode_policy: str = "fail"
    require_done: bool = False  # a missing next.done column is then a dirty episode
    action_key: str = "action"
    proprio_key: str = "observation.state"
    state_key: str = "observation.state"
    episodes: list[int] | None = None  # source episode indices to convert (default: all)
    stall_timeout_s: float = 120.0
    heartbeat_s: float = 0.0
    decode_threads: int = 0  # 0: let the decoder choose
    overwrite: bool = False
    report_path: str | None = None  # default: <out stem>.report.json beside the output
    revision: str | None = None  # Hub revision when the source is a repo id
    dry_run: bool = False  # validate and print the plan, decode nothing
    progress: bool = True

    def check(self) -> None:
        """Raise ``OptionError`` (a ``ValueError``) naming the first invalid option."""
        choices = {
            "extra_cameras": ("none", "datasets", "files"),
            "fit": FITS,
            "interpolation": INTERPOLATIONS,
            "compression": COMPRESSIONS,
            "dirty_episode_policy": POLICIES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise OptionError(
                    f"{_flag(name)} must be one of {allowed}, got {getattr(self, name)!r}"
                )
        if self.micro_batch < 1:
            raise OptionError(f"--micro-batch must be >= 1, got {self.micro_batch}")
        if self.size is not None and (len(self.size) != 2 or min(self.size) < 1):
            raise OptionError(f"--size must be (H, W) with H, W >= 1, got {self.size}")
        if self.decode_threads < 0:
            raise OptionError(f"--decode-threads must be >= 0, got {self.decode_threads}")
        for name in ("stall_timeout_s", "heartbeat_s"):
            value = getattr(self, name)
            if not value >= 0:  # NaN too
                raise OptionError(f"{_flag(name)} must be >= 0 seconds (0: off), got {value}")
        if self.episodes is not None and not self.episodes:
            raise OptionError("--episodes names no episode")


def _flag(field_name: str) -> str:
    """The command-line flag of a ``ConvertOptions`` field."""
    flags = {"dirty_episode_policy": "dirty-episode-policy", "stall_timeout_s": "stall-timeout"}
    return "--" + flags.get(field_name, field_name.removesuffix("_s").replace("_", "-"))


MAX_CHUNK_BYTES = 2**32  # HDF5's limit on the size of one chunk


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def report_path_for(out: Path, options: ConvertOptions) -> Path:
    return Path(options.report_path) if options.report_path else out.with_suffix(".report.json")


def _check_paths(out: Path, report_path: Path, opts: ConvertOptions) -> None:
    """Refuse, before anything is read or written, an output or report that cannot be used."""
    if out.is_dir():
        raise OptionError(f"{out}: the output is a folder; give the path of an .h5 file")
    if report_path.is_dir():
        raise OptionError(f"--report {report_path}: is a folder; give the path of a .json file")
    if report_path.resolve() == out.resolve():
        raise OptionError(f"--report {report_path}: is the output file itself")
    if out.exists() and not opts.overwrite and not opts.dry_run:
        raise OutputExistsError(
            f"{out} exists; pass --overwrite to replace it (it and its report are left as they are)"
        )


def _check_writable(path: Path, what: str) -> None:
    """``OptionError`` unless a file can be created in ``path``'s folder (made if missing)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):  # nameless or removed at once
            pass
    except OSError as exc:
        raise OptionError(f"{what} {path}: cannot be written ({exc.strerror or exc})") from exc


def convert_lerobot(
    source: str | Path,
    out: str | Path,
    options: ConvertOptions | None = None,
    log: Callable[[str], None] = _stderr,
) -> ConversionReport:
    """Convert the LeRobot dataset ``source`` (folder or Hub repo id) into the HDF5 file ``out``.

    Writes ``out`` atomically and a JSON report beside it (also on failure). Raises
    ``OptionError`` / ``OutputExistsError`` (nothing read or written, an existing output and its
    report untouched) for options or an output that cannot be used, ``DirtyDataError`` for dirty
    episodes under the "fail" policy, ``SourceError`` for an unusable source (``BadSourceError``
    for malformed metadata), ``StallError`` when nothing progresses for ``stall_timeout_s``, and
    ``ConversionInterrupted`` on SIGINT or SIGTERM (handled in the main thread only). Whatever
    stops it, no temporary file is left behind. A dry run of an existing output writes no report
    unless ``report_path`` names another file.
    """
    opts = options or ConvertOptions()
    opts.check()
    out = Path(out)
    report_path = report_path_for(out, opts)
    _check_paths(out, report_path, opts)
    keep_report = opts.dry_run and out.exists() and report_path == out.with_suffix(".report.json")
    if keep_report:
        log(f"dry run: {out} exists; its report {report_path} is left as it is (see --report)")
    else:
        _check_writable(report_path, "--report")
    if not opts.dry_run:
        _check_writable(out, "output")
    report = ConversionReport(str(source), str(out), asdict(opts))
    t0 = time.perf_counter()
    with InterruptGuard() as guard:
        try:
            guard.stage = "resolving the source"
            cams = [opts.camera] if opts.camera and opts.extra_cameras == "none" else None
            root, report.source = resolve_source(source, opts.revision, cams)
            _convert(root, out, opts, report, log, guard)
            guard.disarm()  # the output is complete: a late signal no longer undoes it
            report.status = "dry-run" if opts.dry_run else "ok"
        except BaseException as exc:
            interrupted = isinstance(exc, ConversionInterrupted)
            report.status = "interrupted" if interrupted else "failed"
            report.error = f"{type(exc).__name__}: {exc}"
            if not keep_report:
                setattr(exc, "report_path", str(report_path))  # noqa: B010 (for the CLI)
            raise
        finally:
            report.seconds = time.perf_counter() - t0
            if not keep_report:
                report.write(report_path)
    return report


def _check_keys(src: LeRobotSource, opts: ConvertOptions) -> None:
    """``BadSourceError`` naming the option whose feature the source does not have."""
    numeric = [k for k, f in src.features.items() if f.get("dtype") not in ("video", "image")]
    flags = {
        "--action-key": opts.action_key,
        "--proprio-key": opts.proprio_key,
        "--state-key": opts.state_key,
    }
    for flag, key in flags.items():
        if key not in numeric:
            raise BadSourceError(
                f"{flag} {key!r}: no such numeric feature; numeric features: {numeric}"
            )
        src.width(key)
    if opts.camera is not None and opts.camera not in src.camera_keys:
        hint = f"; image features are stored in parquet: {src.image_keys}" if src.image_keys else ""
        raise BadSourceError(
            f"--camera {opts.camera!r}: no such video feature; video features: {src.camera_keys}"
            + hint
        )


def _select(episodes: list[EpisodeMeta], wanted: list[int] | None) -> list[EpisodeMeta]:
    if wanted is None:
        return episodes
    known = {e.index: e for e in episodes}
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise BadSourceError(
            f"--episodes {unknown}: not in the dataset ({len(known)} episodes, indices "
            f"{min(known, default=0)}..{max(known, default=-1)})"
        )
    return [known[i] for i in sorted(set(wanted))]


def _plan(src, episodes, cameras, opts, probes, out) -> Plan:
    cam_plans = []
    for n, cam in enumerate(cameras):
        probe = probes[episodes[0].videos[cam].path]
        sizes = {(p.height, p.width) for p in (probes[e.videos[cam].path] for e in episodes)}
        if opts.size is None and len(sizes) > 1:
            raise BadSourceError(
                f"--size 0: camera {cam}'s videos differ in size {sorted(sizes)}; pass a size"
            )
        resizer = Resizer((probe.height, probe.width), opts.size, opts.fit, opts.interpolation)
        frame_bytes = int(np.prod(resizer.out_shape))
        most = (MAX_CHUNK_BYTES - 1) // frame_bytes
        if opts.micro_batch > most:
            gib = opts.micro_batch * frame_bytes / 2**30
            raise OptionError(
                f"--micro-batch {opts.micro_batch}: a chunk of {opts.micro_batch} frames of "
                f"{resizer.out_shape} would take {gib:.1f} GiB; HDF5 chunks must stay under "
                f"4 GiB ({most} frames at most)"
            )
        if n == 0:
            cam_plans.append(CameraPlan(cam, probe, resizer))
        elif opts.extra_cameras == "datasets":
            cam_plans.append(CameraPlan(cam, probe, resizer, extra_camera_name(cam)))
        else:
            name = extra_camera_name(cam).removeprefix(PIXELS + "_")
            path = out.with_name(f"{out.stem}__{name}{out.suffix}")
            cam_plans.append(CameraPlan(cam, probe, resizer, PIXELS, path))
    keys = {"action": opts.action_key, "proprio": opts.proprio_key, "state": opts.state_key}
    columns = {k: (v, src.width(v)) for k, v in keys.items()}
    return Plan(episodes, cam_plans, columns, opts.micro_batch, opts.compression)


def _convert(
    root: Path,
    out: Path,
    opts: ConvertOptions,
    report: ConversionReport,
    log: Callable[[str], None],
    guard: InterruptGuard,
) -> None:
    guard.stage = "reading the metadata"
    src = read_source(root)
    if not src.camera_keys:
        raise SourceError(f"{root}: no video features (image features: {src.image_keys})")
    _check_keys(src, opts)
    primary = opts.camera or src.camera_keys[0]
    extra = [c for c in src.camera_keys if c != primary] if opts.extra_cameras != "none" else []
    cameras = [primary, *extra]
    episodes = _select(src.episodes, opts.episodes)
    keys = list(dict.fromkeys([opts.action_key, opts.proprio_key, opts.state_key]))
    guard.check()
    guard.stage = "checking the parquet rows"
    for issue in validate_metadata(src, keys, cameras, opts.require_done, episodes):
        report.add(issue)
    base_rss = current_rss_mb()
    guard.check()
    guard.stage = "reading the video headers"
    video_issues, probes = probe_videos(src, episodes, cameras)
    for issue in video_issues:
        report.add(issue)
    drop, failing = resolve_policy(report.issues, opts.dirty_episode_policy)
    for issue in report.issues:
        if issue.action != "failed":
            log(f"{issue.action}: {issue.describe()}")
    if failing:
        raise DirtyDataError(failing)
    keep = [e for e in episodes if e.index not in drop]
    report.episodes_dropped = sorted(drop)
    if not keep:
        raise ConversionError("no episodes left to convert after dropping dirty ones")
    plan = _plan(src, keep, cameras, opts, probes, out)
    plan.dropped = sorted(drop)
    plan.base_rss_mb = base_rss
    report.plan = plan.to_dict()
    for line in plan.describe(report.source, src.codebase_version, src.fps, out):
        log(line)
    if opts.dry_run:
        return
    if not opts.overwrite:
        for cam in plan.cameras:
            if cam.file is not None and cam.file.exists():
                raise OutputExistsError(f"{cam.file} exists; pass --overwrite to replace it")
    guard.check()
    _write(src, plan, out, opts, report, log, guard)


def _write(src, plan: Plan, out: Path, opts: ConvertOptions, report, log, guard) -> None:
    targets = [out, *[c.file for c in plan.cameras if c.file is not None]]
    try:
        _write_files(src, plan, out, opts, report, log, guard)
    except BaseException:
        # The writers remove their temporary files; this also covers a signal that arrived
        # while one of them was being opened.
        for path in targets:
            path.with_name(path.name + ".tmp").unlink(missing_ok=True)
        raise
    log(
        f"wrote {out} ({report.frames_written} frames, {len(report.episodes_written)} episodes, "
        f"{len(report.episodes_dropped)} dropped)"
    )


def _write_files(src, plan: Plan, out: Path, opts: ConvertOptions, report, log, guard) -> None:
    rows_reader = EpisodeRows([c for c, _w in plan.columns.values()])
    total = plan.n_frames * len(plan.cameras)
    with ExitStack() as stack:
        sinks = open_sinks(stack, out, plan, opts)
        wd = stack.enter_context(Watchdog(opts.stall_timeout_s, opts.heartbeat_s, log))
        bar = stack.enter_context(
            tqdm(total=total, unit="frame", disable=not opts.progress, file=sys.stderr)
        )
        for e in plan.episodes:
            guard.check()
            wd.stage = guard.stage = f"reading the rows of episode {e.index}"
            try:
                rows = rows_reader.rows(e)
                n = write_columns(sinks, rows, e, plan, opts)
                for cam in plan.cameras:
                    _write_camera(sinks, cam, e, rows, src, opts, wd, bar, report, guard)
                for sink in sinks.values():
                    sink.end_episode()
            except EpisodeError as exc:
                for sink in sinks.values():
                    sink.rollback_episode()
                report.add(exc.issue)
                _apply(exc.issue, opts)
                log(f"dropped episode {e.index}: {exc.issue.describe()}")
                continue
            report.episodes_written.append(e.index)
            report.frames_written += n
        if not report.episodes_written:
            raise ConversionError("every episode was dropped; nothing written")
        report.episodes_dropped = sorted(_dropped(report))
        guard.check()
        wd.stage = guard.stage = "validating the output"
        # From the final rename on, the output exists: a signal no longer undoes the conversion.
        commit_all(sinks, plan, src, report, opts, __version__, LAYOUT_VERSION, guard.disarm)


def _dropped(report: ConversionReport) -> set[int]:
    return {i.episode for i in report.issues if i.action == "dropped" and i.episode is not None}


def _apply(issue: Issue, opts: ConvertOptions) -> None:
    _drop, failing = resolve_policy([issue], opts.dirty_episode_policy)
    if failing:
        raise DirtyDataError(failing)


def _episode_issue(report: ConversionReport, issue: Issue, opts: ConvertOptions) -> None:
    """Record an issue found while decoding; raise ``EpisodeError`` if the episode must go."""
    _drop, failing = resolve_policy([issue], opts.dirty_episode_policy)
    if failing:
        report.add(issue)
        raise DirtyDataError(failing)
    if issue.action == "dropped":
        raise EpisodeError(issue.kind, issue.episode or 0, issue.message, issue.camera)
    report.add(issue)


def _write_camera(
    sinks, cam: CameraPlan, e: EpisodeMeta, rows, src, opts, wd, bar, report, guard
) -> None:
    """Decode, match, resize and append one camera's frames of episode ``e``."""
    ref = e.videos[cam.key]
    end = ref.to_ts
    if end is None and src.layout == V3:
        end = ref.from_ts + e.length / src.fps
    stats = MatchStats()
    frames = decode_episode(
        ref.path, rows["timestamp"], src.fps, cam.resizer, e.index, cam.key,
        ref.from_ts, end, stats, opts.decode_threads,
    )  # fmt: skip
    appender = sinks[cam.file].appenders[cam.dataset]
    wd.stage = guard.stage = f"decoding episode {e.index} camera {cam.key}"
    for frame in watched(frames, wd, interrupt=guard.check):
        appender.append(frame[None])  # frame: (H, W, 3) -> one row
        wd.beat()
        bar.update(1)
    report.max_timestamp_error_s = max(report.max_timestamp_error_s, stats.max_error_s)
    known = any(
        (i.kind, i.episode, i.camera) == ("extra_frames", e.index, cam.key) for i in report.issues
    )
    if stats.extra_frames and not known:
        msg = f"{stats.extra_frames} video frame(s) match no row and are not written"
        _episode_issue(report, Issue("extra_frames", msg, e.index, cam.key), opts)
