"""The scheduled job, ``newsmirror run``: fetch, then write every output ``[publish]`` names.

    update (pipeline: feeds, pages, images)
        -> Jekyll tree ([publish.jekyll], as `export jekyll`)
        -> static site ([publish.site], as `build`)
        -> publish targets ([[publish.targets]]: git, folder, s3), each on its own, each
           as soon as its output is written (the Jekyll tree's while the site is built)
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
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
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
    hint: str = ""  # what the user can do about the error


@dataclass
class TargetOutcome:
    """What one publish target did."""

    name: str
    kind: str  # "git", "folder" or "s3"
    output: str  # "site" or "jekyll"
    line: str = ""
    error: str | None = None
    hint: str = ""  # what the user can do about the error


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
            if o.error and o.hint:
                out.append(f"  hint: {o.hint}")
        for t in self.targets:
            head = f"target {t.name} ({t.kind}, {t.output}): "
            out.append(head + (f"FAILED: {t.error}" if t.error else t.line))
            if t.error and t.hint:
                out.append(f"  hint: {t.hint}")
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
                {
                    "kind": o.kind,
                    "path": str(o.path),
                    "summary": o.line,
                    "error": o.error,
                    "hint": o.hint or None,
                }
                for o in self.outputs
            ],
            "targets": [
                {
                    "name": t.name,
                    "kind": t.kind,
                    "output": t.output,
                    "summary": t.line,
                    "error": t.error,
                    "hint": t.hint or None,
                }
                for t in self.targets
            ],
        }


Hold = Callable[[Path], AbstractContextManager[Path]]
POLL = 0.05  # seconds: how soon a Ctrl-C is seen while the targets publish


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


def output_kind(output: JekyllOutput | SiteOutput) -> str:
    return "jekyll" if isinstance(output, JekyllOutput) else "site"


def write_outputs(
    config: Config,
    archive: Archive,
    hold: Hold,
    events: Events | None = None,
    done: Callable[[OutputResult], None] | None = None,
) -> list[OutputResult]:
    """Write every output of ``config.publish``; one failing does not stop the others.
    ``events`` hears of each as it is done; ``done`` gets each result as it is known."""
    results = []
    for output in config.publish.outputs:
        kind = output_kind(output)
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
            result.hint = " ".join(exc.hint.split())
        results.append(result)
        if events is not None:
            events("output", f"{kind} {output.path}: {result.error or result.line}")
        if done is not None:
            done(result)
    return results


def write_and_publish(
    config: Config, archive: Archive, hold: Hold, message: str, events: Events | None = None
) -> tuple[list[OutputResult], list[TargetOutcome]]:
    """Write every output and publish every target; a target starts as soon as the
    outputs it publishes are written (the Jekyll tree's targets publish while the site
    is built). The results come in the config's order."""
    kinds = {output_kind(o) for o in config.publish.outputs}
    with _Publishing(config, kinds, hold, message, events) as publishing:
        outputs = write_outputs(config, archive, hold, events, done=publishing.written)
    return outputs, publishing.outcomes


def commit_message(summary: RunSummary, when: str, total: int) -> str:
    """The message a target records for this run (a git commit's). ``total``: the
    archive's articles, which a commit may hold more of than this run's (the first one
    after a target could not publish)."""
    return (
        f"newsmirror: {summary.new} new, {summary.updated} updated articles,"
        f" {total} in the archive ({when})"
    )


def publish_targets(
    config: Config,
    outputs: list[OutputResult],
    hold: Hold,
    message: str,
    events: Events | None = None,
) -> list[TargetOutcome]:
    """Publish every target of outputs already written (see :class:`_Publishing`)."""
    with _Publishing(config, {o.kind for o in outputs}, hold, message, events) as publishing:
        for output in outputs:
            publishing.written(output)
    return publishing.outcomes


class _Publishing:
    """Publish every target, all at once (a slow host or a hanging remote delays none of
    the others), each as soon as its output is written (:meth:`written`); one failing (or
    raising anything) never stops the others. A target whose output failed in this run,
    or is not written at all, is left as it was. Each output folder is held once for all
    its targets. ``events`` hears of each target as it is done, in the calling thread;
    :attr:`outcomes` come in the config's order once the block is left."""

    def __init__(
        self,
        config: Config,
        outputs: set[str],
        hold: Hold,
        message: str,
        events: Events | None = None,
    ) -> None:
        self.message, self.events, self.hold = message, events, hold
        self.outcomes = [TargetOutcome(t.name, t.kind, t.output) for t in config.publish.targets]
        places: dict[str, list[tuple[TargetConfig, TargetOutcome]]] = {}
        for pair in zip(config.publish.targets, self.outcomes, strict=True):
            places.setdefault(place(pair[0]), []).append(pair)  # a place's targets take turns
        self.waiting = list(places.values())
        self.settled: dict[str, OutputResult | None] = {}  # output kind -> its result
        self.pending = set(outputs)  # the kinds of outputs still being written
        self.held: dict[str, Path] = {}
        self.busy: dict[str, str] = {}  # output -> why it could not be held
        self.stack = ExitStack()
        self.stop = threading.Event()  # set when the job is left early (Ctrl-C): no new target
        self.pool = ThreadPoolExecutor(max(1, len(places)), thread_name_prefix="newsmirror-target")
        self.running: list[Future[list[TargetOutcome]]] = []

    def __enter__(self) -> _Publishing:
        self.stack.__enter__()
        return self

    def written(self, output: OutputResult) -> None:
        """``output`` is written (or failed): start the turns that waited only for it, and
        tell of the turns done meanwhile."""
        self.settled[output.kind] = output
        self.pending.discard(output.kind)
        self._start(ready_only=True)
        self._tell(done_only=True)

    def _start(self, ready_only: bool) -> None:
        for turn in list(self.waiting):
            kinds = {t.output for t, _ in turn}
            if ready_only and kinds & self.pending:
                continue
            self.waiting.remove(turn)
            ready = [(t, o) for t, o in turn if self._ready(t, o)]
            if ready:
                self.running.append(
                    self.pool.submit(_publish_in_turn, ready, self.held, self.message, self.stop)
                )

    def _ready(self, target: TargetConfig, outcome: TargetOutcome) -> bool:
        """Whether ``target`` can publish: its output written and held; else its outcome
        says why not."""
        kind = target.output
        result = self.settled.get(kind)
        if result is None or result.error:
            outcome.error = f"not published: the {kind} output failed"
            return False
        if kind not in self.held and kind not in self.busy:
            try:
                self.held[kind] = self.stack.enter_context(self.hold(result.path))
            except NewsmirrorError as exc:
                self.busy[kind] = " ".join(exc.message.split())
            except OSError as exc:
                self.busy[kind] = f"cannot hold the {kind} output: {exc.strerror or exc}"
        if kind in self.busy:
            outcome.error = self.busy[kind]
            self._event(outcome)
            return False
        return True

    def _tell(self, done_only: bool) -> None:
        """Tell of the turns done (all of them, waiting, unless ``done_only``). The wait
        wakes every POLL seconds: a Ctrl-C that the system gave to a target's thread
        rather than this one is only seen here when this thread runs (then it raises
        KeyboardInterrupt, and ``stop`` is set on the way out)."""
        while self.running:
            done = [f for f in self.running if f.done()]
            if not done and not done_only:
                done = list(wait(self.running, timeout=POLL, return_when=FIRST_COMPLETED)[0])
            for turn in done:
                self.running.remove(turn)
                for outcome in turn.result():
                    self._event(outcome)
            if done_only:
                return

    def _event(self, outcome: TargetOutcome) -> None:
        if self.events is not None:
            self.events("target", f"{outcome.name}: {outcome.error or outcome.line}")

    def __exit__(self, *exc_info: object) -> None:
        try:
            if exc_info[0] is None:
                self._start(ready_only=False)  # outputs never written: their targets say so
                self._tell(done_only=False)
        finally:
            self.stop.set()
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.stack.__exit__(None, None, None)


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
            outcome.line, outcome.error, outcome.hint = _publish_one(target_config, folder, message)
        except BaseException as exc:  # even SystemExit: the others still get their turn
            outcome.error = " ".join(f"{type(exc).__name__}: {exc}".split())
        if outcome.error:  # perhaps a Ctrl-C killed its git: the job may be stopping
            stop.wait(2 * POLL)
    return [outcome for _, outcome in turn]


def _publish_one(
    target_config: TargetConfig, folder: Path, message: str
) -> tuple[str, str | None, str]:
    """One target's publish: (its summary line, None, "") or ("", the error in one line
    without the target's name, which the report gives, and its hint)."""
    from newsmirror.publish.targets import make_target

    try:
        return make_target(target_config).publish(folder, message=message).line(), None, ""
    except NewsmirrorError as exc:
        error = " ".join(exc.message.split()).removeprefix(f"{target_config.name}: ")
        return "", error, " ".join(exc.hint.split())
    except Exception as exc:  # a target's bug or an OS error must not stop the others
        return "", " ".join(f"{type(exc).__name__}: {exc}".split()), ""


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
        total = archive.counts()["articles"]
        message = commit_message(report.fetch, to_iso(now_utc()), total)
        report.outputs, report.targets = write_and_publish(config, archive, hold, message, events)
    report.finished = to_iso(now_utc())
    return report
