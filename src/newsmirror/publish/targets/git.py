"""The ``git`` target: an output committed where it lies, and pushed to remotes.

Each publish:

1. makes the work tree ready: an existing repository is used as it is; otherwise the
   branch is cloned from the first remote that has it, or a new repository is made
   when no reachable remote has the branch yet (when no remote can be reached at all,
   nothing is made and the target fails, so that a new history never diverges from a
   remote that was only down);
2. builds the index from the output folder itself (:mod:`.gitindex`): git reads the
   output's files where they are and never writes there; the target's folder holds
   only the files newsmirror did not place (a ``CNAME``, files others committed),
   which are committed beside the output's. The list of placed files is kept in
   ``.git/``, not committed: a committed list changed with every new article, and the
   branch holds what readers get and nothing else. A new work tree (a fresh clone on a
   new runner, made without checking the site out) rebuilds the list from the branch:
   the files of newsmirror's last commit, less those it did not place, which that
   commit names in its ``Newsmirror-Kept:`` trailer (a JSON list, usually ``[]``);
   those, and files others committed later, are checked out and kept. A branch that
   still has the ``.newsmirror-files`` of older versions is taken over from that list,
   and the file leaves the branch; a work tree of older versions, full of copies of
   the output, has the copies removed once;
3. commits only when the tree changed, with the run's message and the trailer; with
   ``flat = true`` the commit has no parent (the branch keeps one commit, force-pushed).
   Whether anything changed is asked without writing anything (an idle run writes
   nothing): the output's files against their size, mtime and inode when last added
   (kept in ``.git/``), the target's folder by ``git status``;
4. pushes to each remote whose last push from here was not this commit, with
   ``retries`` more tries, waiting ``backoff`` seconds, doubled each time. Every remote
   is tried; any that failed makes the target fail, naming it (credentials in a URL
   are never shown).

git always gets an argument list (no shell), ``GIT_TERMINAL_PROMPT=0`` and ssh in batch
mode (a cron job never waits for a password), the identity through ``-c``, no
``GIT_DIR``-like variables from the caller's environment, only the file, git, http(s)
and ssh transports (never ``ext::``), and a transfer that stalls is given up after
:data:`STALL_SECONDS`. An existing work tree is used only on the target's branch; a
folder that is neither empty nor a work tree is refused (everything in it would be
published).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from newsmirror.errors import PublishError
from newsmirror.files import atomic_write
from newsmirror.publish.targets import TargetConfig, TargetResult, gitprime
from newsmirror.publish.targets.folder import PLACED, failure, read_placed
from newsmirror.publish.targets.gitcmd import (
    GIT_TIMEOUT,
    Done,
    add_config,
    backoff_delays,
    git_env,
    nul,
    push_config,
    redact,
)
from newsmirror.publish.targets.gitindex import (
    EXCLUDES,
    NOT_PUBLISHED,
    READ_OPTIONS,
    TRAILER,
    changes_since,
    diff_counts,
    folder_changes,
    in_nested,
    index_entries,
    kept_files,
    kept_of,
    load_output_state,
    nested_of,
    output_state,
    remove_copies,
    shadowed_line,
    skip_worktree,
    stale_locks,
    status_entries,
    verbatim_attributes,
    with_trailer,
)

PLACED_STATE = "newsmirror-placed.json"  # in .git/: the files this target placed
# In .git/: the work tree holds no copies of the output (older versions' did, and kept
# their stat cache in .git/newsmirror-cache.json).
LAYOUT_STATE = "newsmirror-layout"
OUTPUT_STATE = "newsmirror-output.json"  # in .git/: the output's files as last added (stat)


class GitTarget:
    """Commit an output into a git work tree (``path``) and push it to ``remotes``."""

    def __init__(self, config: TargetConfig) -> None:
        options = config.options
        self.config = config
        self.path = Path(options["path"])
        self.remotes: list[str] = list(options.get("remotes", []))
        self.branch: str = options.get("branch", "main")
        self.flat: bool = options.get("flat", False)
        self.retries: int = options.get("retries", 3)
        self.backoff: float = float(options.get("backoff", 2.0))
        self.identity = [
            "-c",
            f"user.name={options.get('author_name', 'newsmirror')}",
            "-c",
            f"user.email={options.get('author_email', 'newsmirror@localhost')}",
        ]

    # -- running git -------------------------------------------------------------------

    def _git(self, *args: str, stdin: str | None = None, cwd: bool = True) -> Done:
        command = ["git", *(["-C", str(self.path)] if cwd else []), *args]
        try:
            done = subprocess.run(
                command,
                input=stdin,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="surrogateescape",  # names that are not UTF-8 pass through as bytes
                env=git_env(),
                timeout=GIT_TIMEOUT,
                check=False,
            )
        except FileNotFoundError as exc:
            raise PublishError(
                f"{self.config.name}: git is not installed", hint="Install git."
            ) from exc
        except subprocess.TimeoutExpired:
            return Done(-1, "", f"git {args[0]} took longer than {GIT_TIMEOUT:g} s")
        return Done(done.returncode, done.stdout, done.stderr)

    def _must(self, *args: str, stdin: str | None = None) -> str:
        done = self._git(*args, stdin=stdin)
        if done.code != 0:
            command = next((a for a in args if a[:1].isalpha() and "=" not in a), args[0])
            raise PublishError(
                f"{self.config.name}: git {command} failed in {self.path}: {done.last_line()}",
                hint="Check the work tree; `git status` there shows what is wrong.",
            )
        return done.out.strip()

    # -- 1. the work tree --------------------------------------------------------------

    def _has_branch(self, url: str) -> bool | None:
        """True if ``url`` has the branch, False if it is reachable without it, None if
        it cannot be reached."""
        ref = f"refs/heads/{self.branch}"
        done = self._git("ls-remote", "--exit-code", "--", url, ref, cwd=False)
        return {0: True, 2: False}.get(done.code)

    def _on_branch(self) -> None:
        """Use an existing work tree only on the target's branch (an unborn HEAD is moved
        there): never switch someone's checkout and publish what it holds."""
        ref = f"refs/heads/{self.branch}"
        current = self._git("symbolic-ref", "-q", "HEAD").out.strip()
        if current == ref:
            return
        if self._git("rev-parse", "-q", "--verify", "HEAD^{commit}").code == 0:
            where = current.removeprefix("refs/heads/") or "a detached HEAD"
            raise PublishError(
                f"{self.config.name}: the work tree {self.path} is on {where}, "
                f"not on the branch {self.branch}",
                hint=f"Give the target a folder of its own, or run "
                f"`git -C {self.path} switch {self.branch}` there first.",
            )
        self._must("symbolic-ref", "HEAD", ref)

    def _clear_stale_locks(self) -> None:
        """Remove the locks a git killed mid-publish left (kill -9, a full disk, a lost
        runner): none of newsmirror's git commands runs longer than GIT_TIMEOUT, and the
        run's own lock keeps any other newsmirror run out, so an older lock is nobody's."""
        for lock in stale_locks(self.path / ".git", time.time(), GIT_TIMEOUT):
            lock.unlink(missing_ok=True)

    def _refuse_full_folder(self) -> None:
        """A folder that is not a repository must be empty: newsmirror commits and pushes
        everything in its work tree."""
        try:
            full = self.path.is_dir() and any(self.path.iterdir())
        except OSError as exc:
            raise PublishError(
                f"{self.config.name}: cannot read {self.path}: {exc.strerror or exc}"
            ) from exc
        if full:
            raise PublishError(
                f"{self.config.name}: {self.path} is not empty and not a git work tree; "
                "nothing was committed",
                hint="Give the git target a new or empty folder, or run `git init` in this one "
                "(its files are then published with the site, e.g. a CNAME).",
            )

    def _prepare(self) -> None:
        if (self.path / ".git").exists():
            self._clear_stale_locks()
            self._on_branch()
            return
        self._refuse_full_folder()
        answers = [(url, self._has_branch(url)) for url in self.remotes]
        if self.remotes and all(found is None for _, found in answers):
            listed = ", ".join(redact(url) for url in self.remotes)
            raise PublishError(
                f"{self.config.name}: no remote can be reached to clone from ({listed})",
                hint="Check the remotes' URLs and access; nothing was published.",
            )
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PublishError(
                f"{self.config.name}: cannot create {self.path}: {exc.strerror or exc}"
            ) from exc
        for url, found in answers:
            if found:
                self._clone(url)
                return
        self._must("init", "-q")
        self._must("symbolic-ref", "HEAD", f"refs/heads/{self.branch}")
        self._mark_layout()

    def _clone(self, url: str) -> None:
        """Clone the branch without checking the site out, then check out only the files
        newsmirror did not place (the work tree never holds copies of the output)."""
        done = self._git(
            "clone",
            "-q",
            "--no-checkout",
            "--branch",
            self.branch,
            "--single-branch",
            "--",
            url,
            ".",
        )
        if done.code != 0:
            raise PublishError(
                f"{self.config.name}: cannot clone {redact(url)}: {done.last_line()}"
            )
        self._verbatim()
        self._recover_placed()
        kept = sorted(self._tree_files("HEAD") - read_placed(self._placed_file) - {PLACED})
        if kept:
            self._must(
                "--literal-pathspecs",
                *READ_OPTIONS,
                "checkout",
                "HEAD",
                "--pathspec-from-file=-",
                "--pathspec-file-nul",
                stdin=nul(kept),
            )
        self._mark_layout()

    def _verbatim(self) -> None:
        """No attributes file changes the bytes git reads (gitindex.VERBATIM)."""
        path = self.path / ".git" / "info" / "attributes"
        try:
            current = path.read_bytes().decode("utf-8", "surrogateescape")
        except FileNotFoundError:
            current = ""
        text = verbatim_attributes(current)
        if text is not None:
            path.parent.mkdir(exist_ok=True)
            atomic_write(path, text.encode("utf-8", "surrogateescape"))

    def _mark_layout(self) -> None:
        atomic_write(self.path / ".git" / LAYOUT_STATE, b"no copies of the output\n")

    def _take_over(self) -> tuple[bool, list[str]]:
        """A work tree of older versions holds copies of the output: remove them, once.
        (whether it was one, one line per copy that could not be removed)."""
        if (self.path / ".git" / LAYOUT_STATE).exists():
            return False, []
        errors = remove_copies(self.path, read_placed(self._placed_file))
        (self.path / ".git" / "newsmirror-cache.json").unlink(missing_ok=True)  # its stat cache
        if not errors:
            self._mark_layout()
        return True, errors

    def _tree_files(self, commit: str) -> set[str]:
        names = self._git("ls-tree", "-r", "-z", "--name-only", commit)
        if names.code != 0:
            raise PublishError(f"{self.config.name}: git ls-tree failed: {names.last_line()}")
        return {n for n in names.out.split("\0") if n}

    # -- 2. the list of placed files ------------------------------------------------------

    @property
    def _placed_file(self) -> Path:
        return self.path / ".git" / PLACED_STATE

    def _recover_placed(self) -> None:
        """A work tree without the list in .git/: rebuild it (see the module's text)."""
        if self._placed_file.exists():
            return
        committed = self.path / PLACED
        if committed.is_file() and not committed.is_symlink():
            listing = committed.read_bytes()
            committed.unlink()
        else:
            blob = self._git("cat-file", "blob", f"HEAD:{PLACED}")  # a clone, not checked out
            listing = blob.out.encode("utf-8") if blob.code == 0 else b""
        if listing:
            atomic_write(self._placed_file, listing)
            placed = read_placed(self._placed_file)  # only safe names
        else:
            placed = self._placed_by_last_commit()
        atomic_write(self._placed_file, json.dumps(sorted(placed), indent=0).encode("ascii"))

    def _placed_by_last_commit(self) -> set[str]:
        done = self._git("log", "-1", "--format=%H%n%B", f"--grep=^{TRAILER}", "HEAD")
        commit, _, message = done.out.partition("\n")
        kept = kept_of(message) if done.code == 0 and commit else None
        if kept is None:
            return set()  # no commit of newsmirror's: nothing is removed
        return self._tree_files(commit) - set(kept)

    # -- 3. the commit -----------------------------------------------------------------

    def _folder_changes(self, placed: set[str]) -> list[str] | None:
        """What differs in the target's own folder from the index, and the index from
        HEAD, asked without writing anything (``git add`` rewrites the index and
        refreshes objects even when nothing changed, so an idle run would write in
        .git/); None if git cannot tell."""
        done = self._git(
            "--no-optional-locks",
            *READ_OPTIONS,
            "status",
            "--porcelain",
            "-z",
            "--no-renames",
            "--untracked-files=all",
            "--ignored",  # `add --force` adds ignored files too
            "--",
            ".",
            *EXCLUDES,
        )
        return folder_changes(status_entries(done.out), placed) if done.code == 0 else None

    def _build(
        self, output: Path, kept: list[str], fresh: list[tuple[str, int]], nested: list[str]
    ) -> str:
        """Make the index the output's files and the kept ones (``fresh``: the output's
        files added or changed, with their sizes; ``nested``: the output's own
        repositories, left out); its tree. The output's entries are marked
        skip-worktree, so that git in the target's folder (where they are not) sees them
        as they are. A bulk add's blobs are written on every core first (gitprime)."""
        marked = skip_worktree(self._must("ls-files", "-v", "-z"))
        if marked:  # `git add` leaves skip-worktree entries as they are
            self._must("update-index", "--no-skip-worktree", "-z", "--stdin", stdin=nul(marked))
        bulk = add_config(len(fresh))
        add = [*READ_OPTIONS, *bulk, "--work-tree", str(output), "add"]
        primed = bulk and gitprime.cores() > 1
        if primed and gitprime.prime(self.path, output, fresh, add, git_env(), GIT_TIMEOUT):
            add = [*READ_OPTIONS, "--work-tree", str(output), "add"]  # it only hashes
        skip = [f":(exclude,top,literal){rel}" for rel in nested]
        self._must(*add, "--all", "--force", "--", ".", *EXCLUDES, *skip)
        entries = index_entries(self._must("ls-files", "--stage", "-z"))
        links = [rel for mode, rel in entries if mode in NOT_PUBLISHED or in_nested(rel, nested)]
        if links:  # a symlink in the output is never published
            self._must("update-index", "--force-remove", "-z", "--stdin", stdin=nul(links))
        if kept:
            self._must(
                "--literal-pathspecs",
                *READ_OPTIONS,
                "add",
                "--force",
                "--pathspec-from-file=-",
                "--pathspec-file-nul",
                stdin=nul(kept),
            )
        placed = {rel for _, rel in entries} - set(links) - set(kept)
        if placed:
            self._must("update-index", "--skip-worktree", "-z", "--stdin", stdin=nul(placed))
        if read_placed(self._placed_file) != placed:
            atomic_write(self._placed_file, json.dumps(sorted(placed), indent=0).encode("ascii"))
        return self._must("write-tree")

    def _commit(
        self, output: Path, kept: list[str], message: str, rebuild: bool
    ) -> tuple[TargetResult, str | None]:
        """Commit the output and the kept files if they differ from HEAD (``rebuild``:
        even if the index looks up to date); what changed and the new commit's id."""
        head = self._git("rev-parse", "-q", "--verify", "HEAD^{commit}")
        flat_done = not self.flat or self._git("rev-parse", "-q", "--verify", "HEAD^").code != 0
        state_file = self.path / ".git" / OUTPUT_STATE
        last = load_output_state(state_file)
        now = output_state(output)
        changes, fresh = changes_since(now, last)
        idle = head.code == 0 and flat_done and not rebuild and changes == 0
        if idle and self._folder_changes(read_placed(self._placed_file)) == []:
            return TargetResult(), None
        tree = self._build(output, kept, fresh, nested_of(now))
        if now != last:  # the output as it was before `git add` read it
            atomic_write(state_file, json.dumps(now, separators=(",", ":")).encode("utf-8"))
        result = TargetResult()
        parents: list[str] = []
        if head.code == 0:
            head_id = head.out.strip()
            diff = self._git(
                "diff-tree", "-r", "-z", "--no-renames", "--name-status", head_id, tree
            )
            result.added, result.changed, result.removed = diff_counts(diff.out)
            has_parent = self._git("rev-parse", "-q", "--verify", f"{head_id}^").code == 0
            unchanged = diff.code == 0 and not diff.out
            if unchanged and not (self.flat and has_parent):
                return result, None
            if not self.flat:
                parents = ["-p", head_id]
        else:
            result.added = len(self._git("ls-files", "-z").out.split("\0")) - 1
        message = with_trailer(message, kept)
        commit = self._must(*self.identity, "commit-tree", tree, *parents, "-F", "-", stdin=message)
        self._must("update-ref", "-m", "newsmirror publish", "HEAD", commit)
        return result, commit

    # -- flat history: what a push may leave out ------------------------------------------
    #
    # A flat commit has no parent, so git's push would send every object of the site: it
    # leaves out only what the remote's commits reach through the new commit's parents.
    # Listed in .git/shallow, the replaced commits (roots themselves: the list changes no
    # history) make the push pack with `--shallow`, which leaves out whatever any commit
    # the remote holds reaches; the push of an hourly run then sends what changed. The
    # list goes, and the replaced commits with it, once every remote holds the new one.

    def _keep_replaced(self, commit: str) -> None:
        """Keep ``commit``, which the branch no longer holds, until the push is done."""
        shallow = self.path / ".git" / "shallow"
        try:
            listed = shallow.read_text(encoding="ascii").split()
        except (OSError, ValueError):
            listed = []
        if commit not in listed:
            atomic_write(shallow, "".join(f"{c}\n" for c in [*listed, commit]).encode())

    def _drop_replaced(self) -> None:
        """Drop the commits the branch no longer holds (and what only they held), so that
        the repository here stays the size of one commit."""
        (self.path / ".git" / "shallow").unlink(missing_ok=True)
        self._git("reflog", "expire", "--expire=now", "--all")
        self._git("prune", "--expire=now")  # loose objects only
        packs = list((self.path / ".git" / "objects" / "pack").glob("*.pack"))
        if len(packs) > 1:  # bulk adds (add_config): the replaced sites' packs go too
            self._git("-c", "pack.window=0", "repack", "-a", "-d", "-q")

    # -- 4. the pushes -----------------------------------------------------------------

    def _push(self, url: str, files: int, first: bool) -> str | None:
        """Push HEAD to ``url`` with retries; None on success, else the reason."""
        args = [
            *push_config(files, first),
            "push",
            "-q",
            *(["--force"] if self.flat else []),
            "--",
            url,
        ]
        refspec = f"HEAD:refs/heads/{self.branch}"
        waits = iter(backoff_delays(self.retries, self.backoff))
        tries = 0
        while True:
            done = self._git(*args, refspec)
            tries += 1
            if done.code == 0:
                return None
            wait = next(waits, None)
            if wait is None:
                break
            time.sleep(wait)
        reason = done.last_line().replace(url, redact(url))
        return f"{redact(url)} (after {tries} tries: {reason})"

    def _push_all(self, head: str, files: int) -> tuple[int, list[str]]:
        """Push to every remote not known to hold ``head``; (remotes now holding it,
        one reason per failed remote)."""
        state_file = self.path / ".git" / "newsmirror-pushed.json"
        try:
            state = json.loads(state_file.read_bytes())
            if not isinstance(state, dict):
                state = {}
        except (OSError, ValueError):
            state = {}
        before = dict(state)
        current, failed = 0, []
        for url in self.remotes:
            reason = None if state.get(url) == head else self._push(url, files, url not in state)
            if reason is None:
                state[url] = head
                current += 1
            else:
                state.pop(url, None)
                failed.append(reason)
        if state != before:  # an idle run writes nothing, not even here
            atomic_write(state_file, json.dumps(state, ensure_ascii=False).encode("utf-8"))
        return current, failed

    def publish(self, folder: Path, *, message: str) -> TargetResult:
        name = self.config.name
        self._prepare()
        output = Path(os.path.abspath(folder))
        try:
            self._verbatim()
            self._recover_placed()
            took_over, errors = self._take_over()
            kept, in_the_way, shadowed = kept_files(self.path, output)
        except OSError as exc:
            raise PublishError(f"{name}: cannot use {self.path}: {exc.strerror or exc}") from exc
        errors += in_the_way
        before = self._git("rev-parse", "-q", "--verify", "HEAD^{commit}").out.strip()
        result, commit = self._commit(output, kept, message, rebuild=took_over)
        files = result.added + result.changed + result.removed
        head = self._git("rev-parse", "-q", "--verify", "HEAD^{commit}").out.strip()
        if self.flat and commit and before:
            self._keep_replaced(before)
        current, failed = self._push_all(head, files) if head else (0, [])
        if self.flat and not failed and (commit or (self.path / ".git" / "shallow").exists()):
            self._drop_replaced()
        parts = [f"commit {commit[:7]}{' (flat)' if self.flat else ''}" if commit else "no change"]
        if self.remotes:
            parts.append(f"{current} of {len(self.remotes)} remotes up to date")
        result.detail = ", ".join(filter(None, [*parts, shadowed_line(shadowed)]))
        if failed:
            raise PublishError(
                f"{name}: push failed: {'; '.join(failed)}; {result.line()}",
                hint="Check the remote's URL, network and credentials; the next run pushes again.",
            )
        if errors:
            raise PublishError(
                failure(name, errors),
                hint=f"Move away, in {self.path}, what stands in the output's way.",
            )
        return result
