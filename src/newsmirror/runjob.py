"""The scheduled job, ``newsmirror run``: fetch, then write every output ``[publish]`` names.

    update (pipeline: feeds, pages, images)
        -> Jekyll tree ([publish.jekyll], as `export jekyll`)
        -> static site ([publish.site], as `build`)
        -> RunReport (a summary line, a JSON report, the exit code)

One process does it all, so the interpreter starts once and the outputs are
written straight after the fetch. The caller holds the archive's lock and gives
``hold``, which holds an output folder's lock. An output that fails (a full disk, a
folder that cannot be written, another run holding it) is reported with its reason
and the other outputs are still written; the archive keeps everything fetched.
Only an archive error stops the job.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsmirror.config import Config
from newsmirror.errors import (
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_SOURCES_FAILED,
    ArchiveError,
    NewsmirrorError,
)
from newsmirror.pipeline import ProgressCallback, RunSummary, update
from newsmirror.publishconf import JekyllOutput, SiteOutput
from newsmirror.store import Archive
from newsmirror.timeutil import now_utc, to_iso


@dataclass
class OutputResult:
    """What one output of the job did."""

    kind: str  # "jekyll" or "site"
    path: Path
    line: str = ""
    error: str | None = None


@dataclass
class RunReport:
    started: str
    fetch: RunSummary
    outputs: list[OutputResult] = field(default_factory=list)
    finished: str = ""

    @property
    def exit_code(self) -> int:
        """5 when an output failed, else 1 when a source failed, else 0."""
        if any(o.error for o in self.outputs):
            return EXIT_OUTPUT
        return EXIT_SOURCES_FAILED if self.fetch.any_failed else EXIT_OK

    def lines(self) -> list[str]:
        out = [self.fetch.line()]
        for o in self.outputs:
            out.append(f"{o.kind} {o.path}: " + (f"FAILED: {o.error}" if o.error else o.line))
        return out

    def as_dict(self) -> dict[str, Any]:
        """The report for ``--json`` (and for monitors): plain JSON values only."""
        summary = self.fetch
        return {
            "started": self.started,
            "finished": self.finished,
            "exit_code": self.exit_code,
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
        }


Hold = Callable[[Path], AbstractContextManager[Path]]


def _write_jekyll(archive: Archive, output: JekyllOutput) -> str:
    from newsmirror.publish.jekyll import export_jekyll, write_site_files

    summary = export_jekyll(archive, output.path, media_dir=archive.media_dir)
    if output.layouts:
        write_site_files(output.path, output.title)
    return summary.line()


def _write_site(archive: Archive, output: SiteOutput) -> str:
    from newsmirror.publish.site import SiteOptions, build_site

    options = SiteOptions(title=output.title, base_url=output.base_url, search=output.search)
    return build_site(archive, output.path, options).line()


def write_outputs(config: Config, archive: Archive, hold: Hold) -> list[OutputResult]:
    """Write every output of ``config.publish``; one failing does not stop the others."""
    results = []
    for output in config.publish.outputs:
        kind = "jekyll" if isinstance(output, JekyllOutput) else "site"
        result = OutputResult(kind, output.path)
        try:
            with hold(output.path):
                if isinstance(output, JekyllOutput):
                    result.line = _write_jekyll(archive, output)
                else:
                    result.line = _write_site(archive, output)
        except ArchiveError:
            raise
        except NewsmirrorError as exc:
            result.error = " ".join(exc.message.split())
        results.append(result)
    return results


def run_job(
    config: Config,
    archive: Archive,
    hold: Hold,
    *,
    names: list[str] | None = None,
    progress: ProgressCallback | None = None,
) -> RunReport:
    """Fetch the sources into ``archive``, then write the configured outputs."""
    report = RunReport(started=to_iso(now_utc()), fetch=RunSummary([]))
    report.fetch = update(config, archive, names, progress=progress)
    report.outputs = write_outputs(config, archive, hold)
    report.finished = to_iso(now_utc())
    return report
