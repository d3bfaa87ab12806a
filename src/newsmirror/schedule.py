"""Templates that run ``newsmirror run`` on a schedule: a GitHub Actions workflow and a
systemd service with its timer (``newsmirror init --ci github|systemd``).

The workflow runs hourly in a concurrency group (runs never overlap), keeps the
archive between runs in the Actions cache (the archive is the source of truth; a
run that finds no cache starts a new one), gives the run a time budget well inside
the job's limit, and deploys the site to GitHub Pages. The systemd units run the job
hourly as the user who installs them, with a randomised delay.
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from newsmirror.config import Config
from newsmirror.errors import ConfigError

WORKFLOW_PATH = ".github/workflows/newsmirror.yml"

_WORKFLOW = """\
# newsmirror on GitHub Actions: fetch hourly, keep the archive, publish to GitHub Pages.
# Settings > Pages > Source: "GitHub Actions". The site is the [publish.site] folder
# of newsmirror.toml ({site}).
name: newsmirror

on:
  schedule:
    - cron: "17 * * * *"
  workflow_dispatch:

concurrency:
  group: newsmirror
  cancel-in-progress: false

permissions:
  contents: read
  pages: write
  id-token: write

jobs:
  mirror:
    runs-on: ubuntu-latest
    timeout-minutes: 55
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - name: Install newsmirror
        run: |
          pip install {package}
      - name: Restore the archive
        uses: actions/cache/restore@v4
        with:
          path: |
            {archive}
            {media}
          key: newsmirror-archive-${{{{ github.run_id }}}}
          restore-keys: newsmirror-archive-
      - name: Fetch and build
        # Exit 1 means some sources failed: the others are still published.
        run: newsmirror run --max-minutes 40 --json > run-report.json || [ $? -eq 1 ]{env}
      - name: Save the archive
        if: always()
        uses: actions/cache/save@v4
        with:
          path: |
            {archive}
            {media}
          key: newsmirror-archive-${{{{ github.run_id }}}}
      - uses: actions/upload-pages-artifact@v3
        with:
          path: {site}
  deploy:
    needs: mirror
    runs-on: ubuntu-latest
    environment:
      name: github-pages
      url: ${{{{ steps.deployment.outputs.page_url }}}}
    steps:
      - id: deployment
        uses: actions/deploy-pages@v4
"""


# Paths the workflow writes as plain YAML scalars and as the cache's glob patterns: a
# YAML indicator ("&a" an anchor, "[x]" a list, "*", "!", "@", "?", ">", "|", "%") or a
# glob character ("*?[]", a leading "!", "+(x)") would name another folder, or break the
# file.
_WORKFLOW_PATH = re.compile(r"[\w.](?:[\w.+,/-]| (?! |\Z))*\Z")
_SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Variables the runner, Python or git read themselves: a secret by that name would break
# the job (GitHub refuses secrets named GITHUB_*).
_RESERVED = {"PATH", "HOME", "SHELL", "USER", "PWD", "LANG", "TMPDIR", "CI"}
_RESERVED_PREFIXES = ("GITHUB_", "RUNNER_", "ACTIONS_", "LD_", "PYTHON", "GIT_", "LC_")


def usable_requirement(spec: str) -> bool:
    """Whether the workflow can hand ``spec`` to pip: a block scalar and shell quoting
    carry any character as it is, but "${{" would be a GitHub expression, a leading "-"
    an option of pip, and a line break or control character another command."""
    return (
        bool(spec.strip())
        and not spec.startswith("-")
        and "${{" not in spec
        and not re.search(r"[\x00-\x1f]", spec)
    )


def github_workflow(
    site: str, archive: str, package: str = "newsmirror", secrets: Sequence[str] = ()
) -> str:
    """The workflow for a mirror whose site folder, archive file and package (a pip
    requirement) are given relative to the repository root; ``secrets``: environment
    variables the run needs, each given the repository secret of the same name."""
    for value in (site, archive):
        if not _WORKFLOW_PATH.match(value):
            raise ValueError(
                f"not usable in the workflow: {value!r} (use letters, digits, spaces "
                "and . _ - + , / in the folder and file names)"
            )
    if not usable_requirement(package):
        raise ValueError(f"not usable in the workflow: {package!r}")
    packages = [package, *(["boto3>=1.36"] if secrets else [])]  # s3 targets need boto3
    for name in secrets:
        upper = name.upper()
        if (
            not _SECRET_NAME.match(name)
            or upper in _RESERVED
            or upper.startswith(_RESERVED_PREFIXES)
        ):
            raise ValueError(f"not usable as a GitHub secret's name: {name!r}")
    env = "".join(
        f"\n          {name}: ${{{{ secrets.{name} }}}}" for name in dict.fromkeys(secrets)
    )
    media = str(Path(archive).parent / "media") if Path(archive).parent != Path(".") else "media"
    return _WORKFLOW.format(
        site=site,
        archive=archive,
        media=media,
        package=" ".join(shlex.quote(one) for one in packages),
        env="\n        env:" + env if env else "",
    )


def _s3_secrets(config: Config) -> list[str]:
    """The environment variables the config's s3 targets read their keys from."""
    from newsmirror.publish.targets.s3 import settings_from_options

    names: list[str] = []
    for target in config.publish.targets:
        if target.kind == "s3":
            s3 = settings_from_options(target.options)
            names += [s3.access_key_env, s3.secret_key_env, s3.session_token_env]
    return names


def systemd_quote(arg: str) -> str:
    """One argument of an ExecStart= line: double-quoted, with systemd's C-style
    escapes, "%" doubled (systemd reads %x as a specifier) and "$" doubled (it expands
    $NAME and ${NAME})."""
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    # "%x" is a specifier and "$NAME" a variable to systemd: doubled, each is itself.
    escaped = escaped.replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def systemd_path(path: Path) -> str:
    """A path for WorkingDirectory=: absolute, "%" doubled; refused when it holds a line
    break (a unit file has one setting per line)."""
    text = str(path.absolute())
    if "\n" in text or "\r" in text:
        raise ValueError(f"a path with a line break cannot go in a unit file: {text!r}")
    return text.replace("%", "%%")


def systemd_units(directory: Path, command: list[str]) -> dict[str, str]:
    """``newsmirror.service`` and ``newsmirror.timer`` running ``command`` (the program
    and its first arguments, e.g. [python, -m, newsmirror]) in ``directory``."""
    exec_start = " ".join(systemd_quote(a) for a in [*command, "run", "--max-minutes", "50"])
    service = (
        "[Unit]\n"
        "Description=newsmirror: fetch the sources and publish the mirror\n"
        "After=network-online.target\n"
        "Wants=network-online.target\n\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"WorkingDirectory={systemd_path(directory)}\n"
        f"ExecStart={exec_start}\n"
        "# 1: some sources failed (the others were published)\n"
        "SuccessExitStatus=1\n"
        "Nice=10\n"
        "TimeoutStartSec=1h\n"
    )
    timer = (
        "[Unit]\n"
        "Description=Run newsmirror every hour\n\n"
        "[Timer]\n"
        "OnCalendar=hourly\n"
        "RandomizedDelaySec=300\n"
        "Persistent=true\n\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )
    return {"newsmirror.service": service, "newsmirror.timer": timer}


def write_schedule(
    directory: Path, ci: str, config: Config, *, force: bool, install: str | None = None
) -> list[Path]:
    """Write the ``ci`` ("github" or "systemd") files for the mirror in ``directory``;
    return their paths. ``install``: the pip requirement the workflow installs (None:
    this newsmirror's own source, pinned: installsource). ConfigError when the config
    cannot be scheduled that way or a file exists (unless ``force``)."""
    root = directory.absolute()
    if ci == "github":
        site = config.publish.site
        if site is None:
            raise ConfigError(
                "the workflow publishes the static site, and [publish.site] names none",
                path=str(config.path),
                key="publish.site",
                hint='Add [publish.site] with path = "public".',
            )
        from newsmirror.installsource import install_spec

        secrets = _s3_secrets(config)
        package = install_spec(install)
        if not usable_requirement(package):
            raise ConfigError(
                f"not usable in the workflow: {package!r}",
                hint="Give --install a plain pip requirement.",
            )
        site_path, archive = _relative(site.path, root), _relative(config.archive, root)
        try:
            text = github_workflow(site_path, archive, package, secrets)
        except ValueError as exc:
            key = "publish.targets" if "secret" in str(exc) else "publish.site.path"
            key = "archive.path" if f"{archive!r} (" in str(exc) else key
            raise ConfigError(str(exc), path=str(config.path), key=key) from exc
        files = {WORKFLOW_PATH: text}
    else:
        files = systemd_units(root, [sys.executable, "-m", "newsmirror"])
    written = []
    for name, text in files.items():
        path = directory / name
        if path.exists() and not force:
            raise ConfigError(f"{path} already exists", hint="Pass --force to overwrite it.")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with "/" (the repository root in the workflow)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError as exc:
        raise ConfigError(
            f"{path} is outside {root}: the workflow sees only the repository",
            hint="Keep the archive and the site inside the repository folder.",
        ) from exc
