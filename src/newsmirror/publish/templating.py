"""The site's templates: one environment per script, and what every page shares.

A page of the site is a template that extends base.html. The links, header and footer
of base.html (templates/_chrome.html) are the same on every page of one script, depth
and footer time, so :class:`Templates` renders them once per build and each page takes
them as they are (``chrome``): a build of thousands of article pages renders them a
handful of times instead of once a page. Each was escaped when it was rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from newsmirror.publish import pages, zhconvert
from newsmirror.publish.status import Moment

FOLDER = Path(__file__).parent / "templates"


@dataclass
class SiteInfo:
    """What pages show of the site as a whole."""

    title: str
    base_url: str


@dataclass(frozen=True)
class Chrome:
    """base.html's parts that many pages share (templates/_chrome.html)."""

    links: Markup
    header: Markup
    footer: Markup


def environment(lang: str = zhconvert.HANS) -> jinja2.Environment:
    """The templates for pages of ``lang``: a zh-Hant page has the site's words in
    traditional script (zhconvert.HantLoader), as do the Python-made ones (filter ``zh``)."""
    folder = str(FOLDER)
    hant = lang == zhconvert.HANT
    env = jinja2.Environment(
        loader=zhconvert.HantLoader(folder) if hant else jinja2.FileSystemLoader(folder),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # packaged templates: no stat of each one at every page
    )
    env.tests["http_url"] = pages.is_http_url  # links to originals: http(s) only
    env.filters["zh"] = zhconvert.chrome if hant else str
    return env


class Templates:
    """The templates of one build, in both scripts, with the chrome each page takes."""

    def __init__(self, site: SiteInfo) -> None:
        self.site = site
        self.envs = {lang: environment(lang) for lang in (zhconvert.HANS, zhconvert.HANT)}
        self._chrome: dict[tuple[str | None, str, Moment | None], Chrome] = {}

    def get(self, name: str, lang: str | None = None) -> jinja2.Template:
        """The template ``name`` for pages of ``lang`` (None: simplified)."""
        return self.envs.get(str(lang), self.envs[zhconvert.HANS]).get_template(name)

    def chrome(self, lang: str | None, root: str, updated: Moment | None) -> Chrome:
        """The links, header and footer of a page of ``lang`` at ``root`` whose footer
        shows ``updated`` (None: the time comes from updated.css)."""
        key = (lang, root, updated)
        made = self._chrome.get(key)
        if made is None:
            values: dict[str, object] = {"site": self.site, "root": root, "updated": updated}
            if lang is not None:
                values["lang"] = lang
            macros: Any = self.get("_chrome.html", lang).make_module(values)
            made = Chrome(macros.links(), macros.header(), macros.footer())
            self._chrome[key] = made
        return made

    def render(self, template: str | jinja2.Template, root: str, **context: object) -> str:
        """A page: ``template`` (a name, or a template of :meth:`get`) rendered with
        ``context``, in the script of ``context["lang"]`` (if any), at depth ``root``."""
        lang = context.get("lang")
        lang = lang if isinstance(lang, str) else None
        if isinstance(template, str):
            template = self.get(template, lang)
        updated = context.get("updated")
        chrome = self.chrome(lang, root, updated if isinstance(updated, Moment) else None)
        return template.render(site=self.site, root=root, chrome=chrome, **context)
