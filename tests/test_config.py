"""newsmirror.toml: every bad value is one clear error with the file, the key and a hint."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from newsmirror.config import load_config, parse_config, url_problem
from newsmirror.errors import EXIT_CONFIG, ConfigError

PATH = Path("/srv/mirror/newsmirror.toml")


def source(url: str) -> str:
    return f'[[sources]]\nname = "x"\nfeeds = ["{url}"]\n'


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/feed",  # urlsplit: Invalid IPv6 URL
        "http://127.0.0.1:99999/feed",  # port out of range (httpx takes it, connect overflows)
        "http://e.org:0/feed",
        "http://e.org:-1/feed",
        "http://e.org:http/feed",
        "http://:80/feed",  # no host
        "http://user@/feed",
        "http://exa mple.org/feed",  # space in the host
        "http://e\\u0000.org/feed",  # a control character
        "http://xn--a.org/feed",  # invalid punycode
        "ftp://e.org/feed",
        "https:///feed",
        "https://[zz::1]/feed",
    ],
)
def test_feed_urls_that_cannot_be_fetched_are_config_errors(url):
    with pytest.raises(ConfigError) as info:
        parse_config(source(url), PATH)
    err = info.value
    assert err.exit_code == EXIT_CONFIG
    assert "sources[0].feeds" in err.message and str(PATH) in err.message
    assert "\n" not in err.message and err.hint


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/f", "https://例子.测试/feed", "http://[::1]/f", "https://e.org"]
)
def test_good_feed_urls_pass(url):
    assert parse_config(source(url), PATH).sources[0].feeds == (url,)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=30))
@settings(max_examples=300, deadline=None)
def test_any_feed_url_text_is_accepted_or_a_config_error(tail):
    """No text after the scheme raises anything but ConfigError, and what passes is
    something httpx can send a request to."""
    import httpx

    for url in (f"http://{tail}", f"https://e.org:{tail}", f"http://[{tail}]/"):
        text = f'[[sources]]\nname = "x"\nfeeds = [{_toml(url)}]\n'
        try:
            config = parse_config(text, PATH)
        except ConfigError:
            continue
        parsed = httpx.URL(config.sources[0].feeds[0])
        assert parsed.host and 0 < (parsed.port or 80) < 65536


def _toml(value: str) -> str:
    import json

    return json.dumps(value)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "+inf", "-nan"])
@pytest.mark.parametrize("key", ["read_timeout", "connect_timeout", "backoff"])
def test_non_finite_numbers_are_refused(key, value):
    with pytest.raises(ConfigError, match=rf"\[fetch\.{key}\].*finite"):
        parse_config(f"[fetch]\n{key} = {value}\n", PATH)


def test_absurd_timeouts_are_refused_and_sane_ones_kept():
    with pytest.raises(ConfigError, match="read_timeout"):
        parse_config("[fetch]\nread_timeout = 1e300\n", PATH)
    config = parse_config("[fetch]\nread_timeout = 2.5\nbackoff = 0\n", PATH)
    assert (config.fetch.read_timeout, config.fetch.backoff) == (2.5, 0)


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "newsmirror.toml"
    path.write_bytes(b"\xef\xbb\xbf" + source("https://e.org/f").encode())
    assert load_config(path).sources[0].name == "x"


def test_archive_path_is_relative_to_the_config_file(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "newsmirror.toml"
    path.write_text("", encoding="utf-8")
    monkeypatch.chdir("/")
    assert load_config(Path(path)).archive == tmp_path / "conf" / "archive.sqlite"
    path.write_text('[archive]\npath = "data/a.sqlite"\n', encoding="utf-8")
    assert load_config(path).archive == tmp_path / "conf" / "data" / "a.sqlite"


@pytest.mark.parametrize(
    "value", ["a\\nb", "newsmirror\\r\\nX-Evil: 1", "tab\\there", "del\\u007f"]
)
def test_text_settings_with_control_characters_are_refused(value):
    """A user agent with a line break would make every request fail at run time."""
    with pytest.raises(ConfigError) as info:
        parse_config(f'[fetch]\nuser_agent = "{value}"\n' + source("https://e.org/f"), PATH)
    assert "[fetch.user_agent]" in info.value.message
    assert "control characters" in info.value.message
    assert info.value.hint == "Write it on one line."


def test_a_bad_remove_selector_is_reported_under_remove():
    text = source("https://e.org/f") + 'selector = "article"\nremove = ["p:nth-child(x"]\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, PATH)
    assert "[sources[0].remove]" in info.value.message
    text = source("https://e.org/f") + 'selector = "p:nth-child(x"\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, PATH)
    assert "[sources[0].selector]" in info.value.message


def test_a_user_agent_that_is_not_ascii_is_refused():
    """HTTP headers are ASCII: a 新闻镜像 user agent would make every request fail."""
    with pytest.raises(ConfigError) as info:
        parse_config('[fetch]\nuser_agent = "新闻镜像/1.0"\n' + source("https://e.org/f"), PATH)
    assert "[fetch.user_agent] must be ASCII" in info.value.message


def _problem_as_httpx_reads_it(url: str) -> str | None:
    """url_problem as it was before plain URLs skipped httpx (the reference)."""
    import httpx

    try:
        parts = urlsplit(url)
        port = parts.port
        host = httpx.URL(url).host
    except (ValueError, UnicodeError, httpx.InvalidURL) as exc:
        return str(exc) or type(exc).__name__
    if parts.scheme not in ("http", "https"):
        return "the scheme must be http or https"
    if not host or not parts.hostname:
        return "no host"
    if any(c.isspace() or not c.isprintable() for c in parts.netloc):
        return "the host has spaces or control characters"
    if port is not None and not 0 < port < 65536:
        return f"port {port} is out of range 1-65535"
    return None


_HOST_PARTS = st.sampled_from(
    ["a", "Z", "0", "9", "25", "256", "01", "-", ".", "xn--", "Xn--a", "xn--fiqs8s", "例",
     "ß", "İ", "_", "%41", "[", "]", "::1", "@", " ", "\t", "\x00", "255", "1", "1.1.1.",
     "0.0.0.", "127.0.0.", "\u212a", "\u017f"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    scheme=st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "http:/", ""]),
    host=st.lists(_HOST_PARTS, max_size=8).map("".join),
    port=st.sampled_from(["", ":", ":0", ":80", ":65535", ":65536", ":99999", ":8x", ":123456"]),
    path=st.text(st.sampled_from('/?#a%é \x7f\\"<>{}|^`~'), max_size=6),
)
@example(scheme="http://", host="01.1.1.1", port="", path="")
@example(scheme="http://", host="1.1.1.256", port="", path="")
@example(scheme="http://", host="xn--a.org", port="", path="")
@example(scheme="http://", host="-1.1.1.İ", port="", path="")  # case-folds to "i"
@example(scheme="http://", host="\u212a.com", port="", path="")  # the Kelvin sign, to "k"
def test_plain_urls_are_judged_as_httpx_judges_them(scheme, host, port, path):
    url = scheme + host + port + path
    assert url_problem(url) == _problem_as_httpx_reads_it(url)
