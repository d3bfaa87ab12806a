"""The scheduled job, ``newsmirror run``: fetch, then write every output ``[publish]`` names.

    update (pipeline: feeds, pages, images)
        -> Jekyll tree ([publish.jekyll], as `export jekyll`)
        -> static site ([publish.site], as `build`)
        -> publish targets ([[publish.targets]]: git, folder, s3), all at once, each on its own
        -> RunReport (a summary line, a JSON report, the exit code)

One process does it all, so the interpreter starts once and the outputs are
written straight after the fetch. The caller holds the archive's lock and gives
``hold``, which holds an output folder's lock. An output that fails (a full disk, a
folder that cannot be written, another run holding it) is reported with its reason
and the other outputs are still written; the archive keeps everything fetched.
A target that fails is reported the same way and the other targets still publish;
a target whose output failed in this run is not published (it is left as it was).
Only an archive error stops the job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsmirror.config import Config
from newsmirror.errors import (
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_SOURCES_FAILED,
    EXIT_TARGETS_FAILED,
    ArchiveError,
    NewsmirrorError,
)
from newsmirror.pipeline import ProgressCallback, RunSummary, fewer_collections, update
from newsmirror.publish.targets import TargetConfig
from newsmirror.publishconf import JekyllOutput, SiteOutput
from newsmirror.restore import RestoreResult, restore_archive
from newsmirror.store import Archive
from newsmirror.summaries import Budget, Events
from newsmirror.timeutil import now_utc, to_iso


@dataclass
class OutputResult:
    """What one output of the job did."""

    kind: str  # "jekyll" or "site"
    path: Path
    line: str = ""
    error: str | None = None


@dataclass
class TargetOutcome:
    """What one publish target did."""

    name: str
    kind: str  # "git", "folder" or "s3"
    output: str  # "site" or "jekyll"
    line: str = ""
    error: str | None = None


@dataclass
class RunReport:
    started: str
    fetch: RunSummary
    outputs: list[OutputResult] = field(default_factory=list)
    targets: list[TargetOutcome] = field(default_factory=list)
    finished: str = ""
    restored: RestoreResult | None = None  # the archive rebuilt from the Jekyll tree

    @property
    def exit_code(self) -> int:
        """5 when an output failed, else 7 when a target failed, else 1 when a source
        failed, else 0."""
        if any(o.error for o in self.outputs):
            return EXIT_OUTPUT
        if any(t.error for t in self.targets):
            return EXIT_TARGETS_FAILED
        return EXIT_SOURCES_FAILED if self.fetch.any_failed else EXIT_OK

    def lines(self) -> list[str]:
        out = [self.fetch.line()]
        if r := self.restored:
            head = f"archive restored from {r.path}: "
            out.insert(0, head + (f"FAILED: {r.error}" if r.error else r.line))
        for o in self.outputs:
            out.append(f"{o.kind} {o.path}: " + (f"FAILED: {o.error}" if o.error else o.line))
        for t in self.targets:
            head = f"target {t.name} ({t.kind}, {t.output}): "
            out.append(head + (f"FAILED: {t.error}" if t.error else t.line))
        return out

    def as_dict(self) -> dict[str, Any]:
        """The report for ``--json`` (and for monitors): plain JSON values only."""
        summary = self.fetch
        return {
            "started": self.started,
            "finished": self.finished,
            "exit_code": self.exit_code,
            "restored": None
            if self.restored is None
            else {
                "path": str(self.restored.path),
                "summary": self.restored.line,
                "error": self.restored.error,
            },
            "new": summary.new,
            "updated": summary.updated,
            "sources": [
                {
                    "name": s.name,
                    "status": s.status,
                    "new": s.new,
                    "updated": s.updated,
                    "errors": s.errors,
                    "warnings": s.warnings,
                }
                for s in summary.sources
            ],
            "pages": {
                "fetched": summary.pages.fetched,
                "extracted": summary.pages.extracted,
                "failed": summary.pages.failed,
                "errors": summary.pages.errors,
            },
            "images": {
                "stored": summary.media.stored,
                "failed": summary.media.failed,
                "errors": summary.media.errors,
            },
            "outputs": [
                {"kind": o.kind, "path": str(o.path), "summary": o.line, "error": o.error}
                for o in self.outputs
            ],
            "targets": [
                {
                    "name": t.name,
                    "kind": t.kind,
                    "output": t.output,
                    "summary": t.line,
                    "error": t.error,
                }
                for t in self.targets
            ],
        }


Hold = Callable[[Path], AbstractContextManager[Path]]


def _write_jekyll(archive: Archive, output: JekyllOutput) -> str:
    from newsmirror.publish.jekyll import export_jekyll, write_site_files

    summary = export_jekyll(archive, output.path, media_dir=archive.media_dir)
    if output.layouts:
        write_site_files(output.path, output.title)
    return summary.line()


def mirrors(targets: tuple[TargetConfig, ...]) -> tuple[tuple[str, str], ...]:
    """The (name, public URL) of every target readers can reach, for the mirrors page."""
    return tuple((t.name, t.public_url) for t in targets if t.public_url)


def _write_site(archive: Archive, output: SiteOutput, targets: tuple[TargetConfig, ...]) -> str:
    from newsmirror.publish.site import build_site
    from newsmirror.publish.sitebuild import SiteOptions

    options = SiteOptions(
        title=output.title,
        base_url=output.base_url,
        search=output.search,
        mirrors=mirrors(targets),
        feed_items=output.feed_items,
        feed_full_bytes=output.feed_full_kb * 1024,
        min_tag_articles=output.min_tag_articles,
    )
    return build_site(archive, output.path, options).line()


def write_outputs(
    config: Config, archive: Archive, hold: Hold, events: Events | None = None
) -> list[OutputResult]:
    """Write every output of ``config.publish``; one failing does not stop the others.
    ``events`` hears of each as it is done."""
    results = []
    for output in config.publish.outputs:
        kind = "jekyll" if isinstance(output, JekyllOutput) else "site"
        result = OutputResult(kind, output.path)
        try:
            with hold(output.path):
                if isinstance(output, JekyllOutput):
                    result.line = _write_jekyll(archive, output)
                else:
                    result.line = _write_site(archive, output, config.publish.targets)
        except ArchiveError:
            raise
        except NewsmirrorError as exc:
            result.error = " ".join(exc.message.split())
        results.append(result)
        if events is not None:
            events("output", f"{kind} {output.path}: {result.error or result.line}")
    return results


def commit_message(summary: RunSummary, when: str) -> str:
    """The message a target records for this run (a git commit's)."""
    return f"newsmirror: {summary.new} new, {summary.updated} updated articles ({when})"


def publish_targets(
    config: Config,
    outputs: list[OutputResult],
    hold: Hold,
    message: str,
    events: Events | None = None,
) -> list[TargetOutcome]:
    """Publish every target, all at once (a slow host or a hanging remote delays none of
    the others); one failing (or raising anything) never stops the others. A target whose
    output failed in this run is left as it was. Each output folder is held once for all
    its targets. ``events`` hears of each as it is done; the outcomes come in the config's
    order."""
    failed = {o.kind: o.error for o in outputs if o.error}
    folders = {o.kind: o.path for o in outputs}
    results = []
    todo: list[tuple[TargetConfig, TargetOutcome]] = []
    for target_config in config.publish.targets:
        outcome = TargetOutcome(target_config.name, target_config.kind, target_config.output)
        results.append(outcome)
        if target_config.output in failed or target_config.output not in folders:
            outcome.error = f"not published: the {target_config.output} output failed"
        else:
            todo.append((target_config, outcome))
    with ExitStack() as stack:
        held: dict[str, Path] = {}
        busy: dict[str, str] = {}  # output -> why it could not be held
        for target_config, outcome in todo:
            kind = target_config.output
            if kind not in held and kind not in busy:
                try:
                    held[kind] = stack.enter_context(hold(folders[kind]))
                except NewsmirrorError as exc:
                    busy[kind] = " ".join(exc.message.split())
                except OSError as exc:
                    busy[kind] = f"cannot hold the {kind} output: {exc.strerror or exc}"
            if kind in busy:
                outcome.error = busy[kind]
                if events is not None:
                    events("target", f"{outcome.name}: {outcome.error}")
        ready = [(t, o) for t, o in todo if o.error is None]
        places: dict[str, list[tuple[TargetConfig, TargetOutcome]]] = {}
        for target_config, outcome in ready:  # targets that share a place take turns
            places.setdefault(place(target_config), []).append((target_config, outcome))
        stop = threading.Event()  # set when the job is left early (Ctrl-C): no new target
        pool = ThreadPoolExecutor(max(1, len(places)), thread_name_prefix="newsmirror-target")
        try:
            turns = [
                pool.submit(_publish_in_turn, turn, held, message, stop) for turn in places.values()
            ]
            for turn in as_completed(turns):
                for outcome in turn.result():
                    if events is not None:
                        events("target", f"{outcome.name}: {outcome.error or outcome.line}")
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
    return results


def place(target: TargetConfig) -> str:
    """Where a target writes on this machine or far away: two targets with the same place
    (one git work tree, one folder) publish one after the other, others at once."""
    path = target.options.get("path")
    return str(Path(path).resolve()) if path else f"{target.kind}:{target.name}"


def _publish_in_turn(
    turn: list[tuple[TargetConfig, TargetOutcome]],
    held: dict[str, Path],
    message: str,
    stop: threading.Event,
) -> list[TargetOutcome]:
    """Publish the targets of one place one after the other; every one gets an outcome,
    whatever happens to the one before it."""
    for target_config, outcome in turn:
        if stop.is_set():
            outcome.error = "not published: the run was stopped"
            continue
        try:
            folder = held[target_config.output]
            outcome.line, outcome.error = _publish_one(target_config, folder, message)
        except BaseException as exc:  # even SystemExit: the others still get their turn
            outcome.error = " ".join(f"{type(exc).__name__}: {exc}".split())
    return [outcome for _, outcome in turn]


def _publish_one(target_config: TargetConfig, folder: Path, message: str) -> tuple[str, str | None]:
    """One target's publish: (its summary line, None) or ("", the error in one line)."""
    from newsmirror.publish.targets import make_target

    try:
        return make_target(target_config).publish(folder, message=message).line(), None
    except NewsmirrorError as exc:
        return "", " ".join(exc.message.split())
    except Exception as exc:  # a target's bug or an OS error must not stop the others
        return "", " ".join(f"{type(exc).__name__}: {exc}".split())


def run_job(
    config: Config,
    archive: Archive,
    hold: Hold,
    *,
    names: list[str] | None = None,
    progress: ProgressCallback | None = None,
    events: Events | None = None,
    budget: Budget | None = None,
    queue: str | None = None,
) -> RunReport:
    """Fetch the sources into ``archive``, then write the configured outputs and publish
    the targets. ``progress`` and ``events`` hear of each feed, page, image, output and
    target as it is done; with a ``budget``,
    pages and images are not started once it is spent (the outputs are always written).
    ``queue``: the PostgreSQL archive's URL, to fetch through its job queue with any
    workers running (:func:`jobqueue.update_by_queue`) instead of in this process."""
    report = RunReport(started=to_iso(now_utc()), fetch=RunSummary([]))
    tree = next((o.path for o in config.publish.outputs if isinstance(o, JekyllOutput)), None)
    with fewer_collections():
        report.restored = restore_archive(archive, tree)
        if queue is not None:
            from newsmirror.jobqueue import update_by_queue

            report.fetch = update_by_queue(config, archive, queue, names, budget=budget)
        else:
            report.fetch = update(
                config, archive, names, progress=progress, events=events, budget=budget
            )
        report.outputs = write_outputs(config, archive, hold, events)
    message = commit_message(report.fetch, to_iso(now_utc()))
    report.targets = publish_targets(config, report.outputs, hold, message, events)
    report.finished = to_iso(now_utc())
    return report
