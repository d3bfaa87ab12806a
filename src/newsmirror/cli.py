"""The command line: a thin layer over the library.

Progress goes to stderr, results and the one-line summary to stdout. Every
:class:`~newsmirror.errors.NewsmirrorError` becomes a message with a hint and
a deliberate exit code (see :mod:`newsmirror.errors` and the README).
"""

from __future__ import annotations

import atexit
import gc
import os
import shlex
from pathlib import Path

import click

from newsmirror import __version__
from newsmirror.clibase import Context, echo, handle_errors, pass_ctx, shown
from newsmirror.clijobs import (
    migrate_archive_command,
    schedule_command,
    worker_command,
)
from newsmirror.clirun import fetch, run, this_program
from newsmirror.config import (
    CONFIG_NAME,
    STARTER_SOURCES,
    Config,
    archive_url_from_env,
    load_config,
    render_config,
    shown_url,
    sources_from_subs,
)
from newsmirror.errors import (
    ConfigError,
)
from newsmirror.lock import DEFAULT_WAIT
from newsmirror.searchview import search_command
from newsmirror.store import Archive


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="newsmirror")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=lambda: os.environ.get("NEWSMIRROR_CONFIG", CONFIG_NAME),
    show_default=CONFIG_NAME,
    help="Config file (env NEWSMIRROR_CONFIG).",
)
@click.option(
    "--archive",
    "archive_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Archive file, instead of the one the config names (every command).",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=DEFAULT_WAIT,
    show_default=True,
    help="Seconds to wait while another run holds the archive or output folder.",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path, archive_path: Path | None, wait: float) -> None:
    """Mirror news feeds into an archive, and publish it as a static site, Jekyll
    posts and feeds that anyone can host, mirror and read offline.

    \b
    Examples:
      newsmirror demo newsmirror-demo          # try it on the bundled sources
      newsmirror init mirror && cd mirror && newsmirror run
      newsmirror fetch && newsmirror build public && newsmirror export jekyll site/
    """
    source = ctx.get_parameter_source("config_path")
    given = source is not click.core.ParameterSource.DEFAULT or "NEWSMIRROR_CONFIG" in os.environ
    ctx.obj = Context(config_path, archive_path, wait, config_given=given)


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path), default=".")
@click.option(
    "--from-subs",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Convert an old mirror's subs.json instead of the starter outlets.",
)
@click.option(
    "--from-opml",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Take the sources of a feed reader's subscription list (OPML).",
)
@click.option(
    "--force", is_flag=True, help="Overwrite an existing config (with --ci: the CI files)."
)
@click.option(
    "--ci",
    type=click.Choice(["github", "systemd"]),
    help="Also write a schedule: a GitHub Actions workflow, or a systemd service and timer.",
)
@click.option(
    "--install",
    metavar="SPEC",
    help="With --ci github: the pip requirement the workflow installs (default: this "
    "newsmirror's own source, pinned).",
)
@handle_errors
def init(
    directory: Path,
    from_subs: Path | None,
    from_opml: Path | None,
    force: bool,
    ci: str | None,
    install: str | None,
) -> None:
    """Write a starter newsmirror.toml and create the archive.

    With --ci, also write what runs `newsmirror run` every hour: for github
    .github/workflows/newsmirror.yml (archive kept in the Actions cache, site
    deployed to GitHub Pages), for systemd newsmirror.service and newsmirror.timer.
    With --ci an existing config is kept.

    \b
    Examples:
      newsmirror init mirror/
      newsmirror init mirror/ --from-subs old-mirror/subs.json
      newsmirror init mirror/ --from-opml subscriptions.opml
      newsmirror init mirror/ --ci github
      newsmirror init mirror/ --ci github --install \
        'newsmirror @ git+https://github.com/YOU/newsmirror@v0.1.0'
    """
    target = directory / CONFIG_NAME
    if ci and target.exists():  # the config is kept; --force is for the CI files
        _write_schedule(directory, ci, load_config(target), force=force, install=install)
        return
    if target.exists() and not force:
        raise ConfigError(
            "config already exists", path=str(target), hint="Pass --force to overwrite it."
        )
    if from_subs and from_opml:
        raise click.UsageError("give --from-subs or --from-opml, not both")
    if from_subs:
        sources = sources_from_subs(from_subs.read_text(encoding="utf-8"), str(from_subs))
    elif from_opml:
        from newsmirror.opml import read_opml

        sources = read_opml(from_opml.read_bytes(), str(from_opml))
    else:
        sources = [(name, [url]) for name, url in STARTER_SOURCES]
    directory.mkdir(parents=True, exist_ok=True)  # once the sources are read
    target.write_text(render_config(sources), encoding="utf-8")
    config = load_config(target)
    location = archive_url_from_env() or config.archive_location
    with Archive.open(location, media_dir=config.media_dir) as archive:
        archive.sync_sources(config.sources)
    shown = config.archive if isinstance(location, Path) else shown_url(location)
    click.echo(f"wrote {target} ({len(sources)} sources) and archive {shown}")
    if ci:
        _write_schedule(directory, ci, config, force=force, install=install)


def _write_schedule(
    directory: Path, ci: str, config: Config, *, force: bool, install: str | None
) -> None:
    from newsmirror.schedule import write_schedule

    for path in write_schedule(directory, ci, config, force=force, install=install):
        click.echo(f"wrote {path}")
    if ci == "systemd":
        click.echo(
            "install: cp newsmirror.service newsmirror.timer ~/.config/systemd/user/ && "
            "systemctl --user enable --now newsmirror.timer"
        )


@cli.group()
def export() -> None:
    """Publish the archive (jekyll).

    \b
    Example:
      newsmirror export jekyll site/ --site   # posts, and a Jekyll site around them
    """


@export.command("jekyll")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--site",
    is_flag=True,
    help="Also write _config.yml, layouts and an index, so real Jekyll builds it.",
)
@click.option("--title", default="新闻镜像", show_default=True, help="Site title (with --site).")
@pass_ctx
@handle_errors
def export_jekyll_cmd(ctx: Context, out: Path, site: bool, title: str) -> None:
    """Write or update OUT/_posts/*.md, one post per article.

    Only new or changed articles are written; unchanged files keep their bytes
    and mtime. Mirrored images are copied to OUT/media/.

    \b
    Examples:
      newsmirror export jekyll ../my-mirror
      newsmirror export jekyll ../my-mirror --site --title 新闻镜像   # for GitHub Pages
    """
    from newsmirror.publish.jekyll import export_jekyll, write_site_files

    with ctx.archive() as archive, ctx.output(out, archive):
        summary = export_jekyll(archive, out, media_dir=archive.media_dir)
        if site:
            write_site_files(out, title)
    click.echo(summary.line())


@cli.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--title", default="新闻镜像", show_default=True, help="The site's name.")
@click.option(
    "--base-url",
    default="",
    help="The site's address, for the sitemap and RSS "
    "(e.g. https://example.org/mirror/); links stay relative.",
)
@click.option("--no-search", is_flag=True, help="Skip the search index.")
@click.option(
    "--min-tag-articles",
    type=click.IntRange(0, 1_000_000),
    default=3,
    show_default=True,
    help="A topic tag gets a page and a feed only with at least this many articles.",
)
@pass_ctx
@handle_errors
def build(
    ctx: Context, out: Path, title: str, base_url: str, no_search: bool, min_tag_articles: int
) -> None:
    """Build the archive as a static site in OUT (incrementally).

    Only pages whose content changed are written; the search index (search/) follows,
    written for new and changed articles only.

    \b
    Example:
      newsmirror build public --title 新闻镜像 --base-url https://example.org/mirror/
    """
    from newsmirror.publish.site import build_site
    from newsmirror.publish.sitebuild import SiteOptions

    if base_url and not base_url.endswith("/"):
        base_url += "/"
    options = SiteOptions(
        title=title,
        base_url=base_url,
        search=not no_search,
        min_tag_articles=min_tag_articles,
    )
    with ctx.archive() as archive, ctx.output(out, archive):
        summary = build_site(archive, out, options)
    click.echo(summary.line())


@cli.command()
@click.argument(
    "folder", type=click.Path(exists=True, file_okay=False, path_type=Path), default="public"
)
@click.option(
    "-p",
    "--port",
    type=click.IntRange(1, 65535),
    default=8000,
    show_default=True,
    help="Port on 127.0.0.1.",
)
@handle_errors
def serve(folder: Path, port: int) -> None:
    """Serve a built site on 127.0.0.1 for reading and searching offline.

    \b
    Example:
      newsmirror serve public --port 8000
    """
    from newsmirror.demo.server import serve_forever

    if not (folder / "index.html").is_file():
        click.echo(
            f"note: {folder} has no index.html (build a site with `newsmirror build`)", err=True
        )
    serve_forever(
        folder,
        port,
        ready=lambda: click.echo(
            f"serving {folder} at http://127.0.0.1:{port}/ (Ctrl-C to stop)", err=True
        ),
    )


@cli.group("import")
def import_() -> None:
    """Bring existing material into the archive (jekyll).

    \b
    Example:
      newsmirror import jekyll old-mirror/   # an old mirror's _posts, merged by URL
    """


@import_.command("jekyll")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@pass_ctx
@handle_errors
def import_jekyll_cmd(ctx: Context, directory: Path) -> None:
    """Read an old mirror's _posts/ and archived/** into the archive.

    \b
    Example:
      newsmirror import jekyll ../waimei
    """
    from newsmirror.jekyll_import import import_jekyll

    with ctx.archive(create=True) as archive:
        summary = import_jekyll(archive, directory)
    for message in summary.notes:
        echo(f"note: {message}", err=True)
    for message in summary.skipped:  # every one: the operator fixes them from this list
        echo(f"skipped: {message}", err=True)
    click.echo(summary.line())


@cli.command()
@click.argument("url")
@click.option("-s", "--source", help="Source to file it under (default: the page's host).")
@click.option(
    "--allow-private",
    is_flag=True,
    help="Allow hosts on private, loopback or link-local addresses (intranets, tests).",
)
@pass_ctx
@handle_errors
def add(ctx: Context, url: str, source: str | None, allow_private: bool) -> None:
    """Archive one article page now: full text, images and all.

    Only http(s) URLs; hosts that resolve to private addresses are refused unless
    --allow-private is given.

    \b
    Example:
      newsmirror add https://www.rfa.org/mandarin/yataibaodao/article.html -s 自由亚洲电台
    """
    from newsmirror.add import add_url

    config = ctx.config()
    with ctx.archive(create=True, path=config.archive_location) as archive:
        archive.sync_sources(config.sources)
        result = add_url(config, archive, url, source=source, allow_private=allow_private)
    click.echo(
        f"{result.change.value}: [{shown(result.source)}] {shown(result.title)} (article "
        f"{result.article_id}); {result.media.line()}"
    )


@cli.command()
@click.option("-s", "--source", help="Only this source's articles.")
@click.option("--since", help="Only articles published on or after this date (YYYY-MM-DD).")
@pass_ctx
@handle_errors
def refetch(ctx: Context, source: str | None, since: str | None) -> None:
    """Fetch and extract stored articles' pages again.

    After changing a source's selector, or to see whether articles changed: a changed
    text is kept as a new revision, and a page now gone (404/410) marks the article as
    removed at its origin.

    \b
    Example:
      newsmirror refetch --source 大纪元 --since 2024-01-01
    """
    from newsmirror.display import run_display
    from newsmirror.fulltext import refetch as refetch_pages

    if since is not None:
        since = _check_date(since)
    config = ctx.config()
    with (
        ctx.archive(path=config.archive_location) as archive,
        run_display(0, verbose=False, plain=True) as display,
    ):
        pages, media = refetch_pages(
            config, archive, source=source, since=since, events=display.event
        )
    for message in pages.errors[:20]:
        echo(f"page: {message}", err=True)
    click.echo(f"{pages.line()}; {media.line()}")


def _check_date(text: str) -> str:
    from datetime import date

    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise click.BadParameter(
            f"{text!r} is not a date like 2024-01-31", param_hint="--since"
        ) from exc


def _configured_names(ctx: Context) -> set[str] | None:
    """The names of the config's sources; None without a usable config naming any, or
    with --archive and no -c (a config found in the folder may belong to another
    archive), when every source of the archive is shown as it is."""
    if ctx.archive_override is not None and not ctx.config_given:
        return None
    try:
        return {source.name for source in ctx.config().sources} or None
    except ConfigError:
        return None


@cli.command()
@click.option("--opml", "as_opml", is_flag=True, help="Print the sources as OPML.")
@pass_ctx
@handle_errors
def sources(ctx: Context, as_opml: bool) -> None:
    """Each source with its health: last success, last error, failures, articles, and
    how many of its articles were taken down at their origin (404/410).

    With --opml, the config's sources as a subscription list for feed readers.

    \b
    Examples:
      newsmirror sources
      newsmirror sources --opml > subscriptions.opml
    """
    if as_opml:
        from newsmirror.opml import write_opml

        click.echo(write_opml(list(ctx.config().sources)), nl=False)
        return
    with ctx.archive(lock=False) as archive:
        rows, taken_down = archive.health(), archive.removed_counts()
    if not rows:
        click.echo("no sources yet: run `newsmirror fetch`")
        return
    configured = _configured_names(ctx)
    for h in rows:
        state = (
            "not in config"
            if configured is not None and h.name not in configured
            else "disabled"
            if not h.enabled
            else (
                "FAILING"
                if h.consecutive_failures
                else ("ok" if h.last_success else "never fetched")
            )
        )
        click.echo(
            f"{shown(h.name)}\t{state}\tarticles={h.articles}\t"
            f"last_success={h.last_success or '-'}\t"
            f"failures={h.consecutive_failures}\tremoved_at_origin={taken_down.get(h.name, 0)}"
        )
        if h.last_error and h.consecutive_failures:
            click.echo(f"  last error at {h.last_error_at}: {shown(h.last_error)}")


@cli.command()
@click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), default="newsmirror-demo"
)
@pass_ctx
@handle_errors
def demo(ctx: Context, directory: Path) -> None:
    """Run the main job on bundled demo feeds, with no internet.

    Serves the demo feeds on 127.0.0.1, fetches them into DIRECTORY/archive.sqlite,
    exports Jekyll posts to DIRECTORY/site and builds the static site (with search)
    in DIRECTORY/public.

    \b
    Example:
      newsmirror demo /tmp/newsmirror-demo
    """
    from newsmirror.demo.run import run_demo

    result = run_demo(directory, log=lambda line: click.echo(line, err=True))
    click.echo(result.fetch_line)
    click.echo(result.export_line)
    click.echo(result.build_line)
    click.echo(f"archive: {result.archive}")
    click.echo(f"posts:   {result.posts}")
    click.echo(f"site:    {result.site}")
    click.echo(f"read it: {this_program()} serve {shlex.quote(str(result.site))}")


cli.add_command(fetch, "fetch")
cli.add_command(run, "run")
cli.add_command(search_command, "search")
cli.add_command(worker_command, "worker")
cli.add_command(schedule_command, "schedule")
cli.add_command(migrate_archive_command, "migrate-archive")


def main() -> None:
    """The ``newsmirror`` program. What it made is set aside as it exits (``gc.freeze``):
    the interpreter's last collection, which finds nothing to free in a run that ends
    (every file and connection is closed by then), then walks none of it: 12-17 ms of
    every run, a twentieth of one that finds nothing new."""
    atexit.register(gc.freeze)
    cli(prog_name="newsmirror")
