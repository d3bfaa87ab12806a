"""Where a machine that runs the mirror (the GitHub workflow) installs newsmirror from.

The running newsmirror knows how it was installed (PEP 610's ``direct_url.json``): from a
git URL at a commit, from an archive's URL, from a local folder (then, if that folder is
a git checkout whose ``origin`` is a web address, from that address at the checked-out
commit), or from a package index (no ``direct_url.json``: that release, by its version).
The workflow installs the same code from the same place, pinned, never the bare name
``newsmirror``: a name on a public index that is not this project's would run someone
else's code with the mirror's rights.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from newsmirror.errors import ConfigError

NAME = "newsmirror"
_WEB = re.compile(r"https://[^\s@]+")  # a remote the runner can clone without a key
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
HINT = (
    "Pass --install with a pip requirement the runner can install, such as "
    "'newsmirror @ git+https://github.com/YOU/newsmirror@v0.1.0'."
)

GitAsk = Callable[[str, list[str]], str | None]  # (folder, git arguments) -> output


def spec_from(info: dict[str, Any] | None, version: str, git: GitAsk) -> str | None:
    """The pip requirement for the install ``info`` (direct_url.json; None: an index)
    describes, pinned; None when it names nothing another machine can reach."""
    if info is None:
        return f"{NAME}=={version}"
    url = str(info.get("url", ""))
    vcs = info.get("vcs_info")
    if isinstance(vcs, dict):
        commit = str(vcs.get("commit_id", ""))
        if vcs.get("vcs") == "git" and _WEB.fullmatch(url) and _COMMIT.fullmatch(commit):
            return f"{NAME} @ git+{url}@{commit}"
        return None
    if isinstance(info.get("archive_info"), dict):
        return f"{NAME} @ {url}" if _WEB.fullmatch(url) else None
    if isinstance(info.get("dir_info"), dict) and url.startswith("file://"):
        folder = unquote(urlsplit(url).path)
        remote = git(folder, ["remote", "get-url", "origin"])
        head = git(folder, ["rev-parse", "HEAD"])
        if remote and head and _WEB.fullmatch(remote) and _COMMIT.fullmatch(head):
            return f"{NAME} @ git+{remote}@{head}"
    return None


def _git(folder: str, args: list[str]) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", folder, *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def install_spec(explicit: str | None = None) -> str:
    """``explicit`` if given, else the running newsmirror's own source, pinned; a
    ConfigError when there is none another machine can install from."""
    if explicit is not None:
        return explicit
    spec = spec_from(*_this_install(), _git)
    if spec is None:
        raise ConfigError(
            "cannot tell where the workflow should install newsmirror from: this one runs "
            "from a place the runner cannot reach (a local folder or repository)",
            hint=HINT,
        )
    return spec


def _this_install() -> tuple[dict[str, Any] | None, str]:
    """(direct_url.json, version) of the newsmirror that runs. Code imported from a
    folder that is not the installed distribution's (a checkout on PYTHONPATH, whose
    build metadata may lie beside it) counts as installed from that folder."""
    import newsmirror

    here = Path(newsmirror.__file__).resolve().parent
    folder = {"url": here.as_uri(), "dir_info": {}}
    try:
        dist = metadata.distribution(NAME)
    except metadata.PackageNotFoundError:
        return folder, ""
    if dist.read_text("INSTALLER") is None:  # build metadata beside a checkout: no install
        return folder, dist.version
    site = Path(str(dist.locate_file(""))).resolve()
    text = dist.read_text("direct_url.json")
    try:
        info = json.loads(text) if text else None
    except ValueError:
        return {}, dist.version  # unreadable: no source
    if isinstance(info, dict) and isinstance(info.get("dir_info"), dict):
        site = Path(unquote(urlsplit(str(info.get("url", ""))).path)).resolve()
    if not here.is_relative_to(site):
        return folder, dist.version  # imported from elsewhere than the distribution
    return info, dist.version
