"""Publish targets: where `newsmirror run` copies its outputs so that readers can reach them.

Each target takes one output folder (the static site or the Jekyll tree) and makes a
place match it: a git repository pushed to remotes (:mod:`.git`), a local folder such
as a web root (:mod:`.folder`), an S3-compatible bucket (:mod:`.s3`). Every target
has the same small interface, :class:`Target`; the job (:mod:`newsmirror.runjob`)
calls :func:`make_target` and :meth:`Target.publish` and never looks inside one.
A target that fails raises :class:`~newsmirror.errors.PublishError` with a one-line
reason; the job reports it and goes on with the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class TargetResult:
    """What one publish did: files (or objects) added, changed and removed."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    detail: str = ""  # e.g. "commit 1a2b3c4, pushed to 2 remotes"

    def line(self) -> str:
        text = f"{self.added} added, {self.changed} changed, {self.removed} removed"
        return f"{text}; {self.detail}" if self.detail else text


@dataclass(frozen=True)
class TargetConfig:
    """One ``[[publish.targets]]`` table: its kind, which output it publishes ("site" or
    "jekyll"), the address readers use (for the mirrors page), and the kind's own keys."""

    kind: str  # "git", "folder" or "s3"
    output: str  # "site" or "jekyll"
    name: str
    public_url: str = ""
    options: dict[str, Any] = field(default_factory=dict)


class Target(Protocol):
    config: TargetConfig

    def publish(self, folder: Path, *, message: str) -> TargetResult:
        """Make the target match ``folder``; ``message`` describes the run (a commit
        message for git). Raise PublishError with a one-line reason on failure."""
        ...


def make_target(config: TargetConfig) -> Target:
    """The target for ``config`` (its module is imported only when used)."""
    if config.kind == "folder":
        from newsmirror.publish.targets.folder import FolderTarget

        return FolderTarget(config)
    if config.kind == "git":
        from newsmirror.publish.targets.git import GitTarget

        return GitTarget(config)
    if config.kind == "s3":
        from newsmirror.publish.targets.s3 import S3Target

        return S3Target(config)
    raise ValueError(f"unknown target kind {config.kind!r}")
