"""Who wrote an article: bylines and names on a page (作者：, 文/, 记者 X 报道, (X Y),
a line of names under the headline, declared authors), each checked to be a person's
name: never a URL, a site name, an organisation or a user id."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

# -- authors -----------------------------------------------------------------------

# Common Chinese surnames (百家姓 and the most frequent modern ones); a name found without a
# label must start with one.
_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖萧田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛"
    "郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞"
    "左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈"
    "饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟"
    "邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储"
    "原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平"
    "计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战"
    "慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
    "張劉陳楊黃趙吳周許韓馮鄧曹彭曾蕭葉蘇魏呂盧姜鍾譚陸範賈韋傅鄒孟熊邱閻段龍陶賀顧龔萬錢嚴覃"
    "湯溫龐顏聶魯翟詹歐蘭俞寧紀畢單塗駱藍辛靳鮑喻饒艾穆車項連蘆麥婁竇寶臧閔鄔邊卞欒隋"
)
_COMPOUND_SURNAMES = (
    "欧阳", "歐陽", "司马", "司馬", "上官", "诸葛", "諸葛", "东方", "東方", "皇甫",
    "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "令狐", "夏侯", "端木", "轩辕",
)  # fmt: skip
_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_NAME = re.compile(f"[{_HAN}]{{2,4}}")
_FOREIGN_NAME = re.compile(f"[{_HAN}]{{1,8}}(?:[·•・][{_HAN}]{{1,8}}){{1,3}}")
_LATIN_NAME = re.compile(r"[A-Za-zÀ-ɏ][A-Za-zÀ-ɏ.'’-]*(?: [A-Za-zÀ-ɏ][A-Za-zÀ-ɏ.'’-]*){0,3}")
_FREE_NAME = re.compile(rf"[{_HAN}A-Za-zÀ-ɏ][{_HAN}A-Za-zÀ-ɏ&·•・.'’ -]{{0,23}}")
# Words of organisations, sites and roles: never a person's name.
_ORG_END = re.compile(
    f"(?:[{_HAN}]*(?:网|網|报|報|社|台|刊|集团|集團|公司|出版|中心|政府|委员会|委員會|频道|頻道|新闻|新聞"
    "|杂志|雜誌|编辑部|編輯部|论坛|論壇|博客|部|局|厅|廳|院|所|站|室|组|組|协会|協會|学会|大学|学院))$"
)
_ORG_WORDS = re.compile(
    r"\b(?:inc|ltd|llc|corp|co|gmbh|team|staff|publishers?|publishing|press|media|news|group"
    r"|admin|administrator|webmaster|editors?|desk|online|network|agency|daily|times|post"
    r"|magazine|journal|blog|website|official|organi[sz]ation|foundation|association|society"
    r"|institute|university|contributors?|wikimedia|username|user)\b",
    re.I,
)
_PARTICLES = {"van", "von", "der", "den", "de", "da", "di", "du", "la", "le", "del", "bin", "al"}
_URL_PART = re.compile(r"[(<\[]?\s*(?:https?://|www\.)\S*\s*[)>\]]?", re.I)
_MONTH_END = re.compile(
    r"\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?(?:\s+\d.*)?$", re.I
)
_NOT_NAME = re.compile(r"\d|_|@|#|://|www\.|\.(?:com|cn|net|org|gov|edu|io|hk|tw)\b|/|\\", re.I)
_STOP_WORDS = {
    "分享", "来源", "來源", "编辑", "編輯", "责任编辑", "評論", "评论", "打印", "关闭", "作者",
    "记者", "記者", "本报", "本報", "本刊", "本台", "本网", "通讯员", "摄影", "报道", "報道",
    "原标题", "转载", "阅读", "點擊", "点击", "匿名", "佚名", "未知", "网友", "網友", "游客",
    "admin", "unknown", "anonymous",
}  # fmt: skip
# Labels of a byline: who wrote it (strong) and who edited it (a last resort).
_WRITER = "采写|採寫|口述|记者|記者|通讯员|通訊員|实习生|實習生"
_BYLINE_LABEL = re.compile(
    rf"(?:(?<![{_HAN}])|(?<=[报報社台网網刊]))(?P<free>作者|作\s+者|撰文|撰稿|执笔人?|執筆人?)"
    r"(?:\s*[:：|]\s*|\s+)"
    rf"|(?P<writer>{_WRITER})\s*[:：|]?\s*|(?<![{_HAN}])(?P<wen>文|图文|圖文)\s*[/|｜]\s*"
    rf"|(?<!责任)(?<!責任)(?<!值班)(?P<editor>编辑|編輯)\s*[:：]\s*"
)
_NAME_SPLIT = re.compile(r"[\s、，,;；/|｜]+")
_ROLE_END = re.compile(r"(?:报道|報道|报导|報導|讯|訊|撰|整理|供稿)$")
_PHOTO = re.compile(r"摄|攝|图|圖|photo", re.I)
_ORG_PREFIX_END = re.compile(
    f"(?:本报|本報|本刊|本台|本网|本網|特约|特約|[{_HAN}]{{1,6}}(?:报|報|社|网|網|台))$"
)
PUBLISHED_BY = re.compile(
    r"(?:^|[\s》」』\]】)])(?P<name>[^\s》」』\]】)]{2,24}?)\s*(?:发表于|發表於)"
)
# Names in brackets that close a paragraph (after its last sentence) or make a line.
_CLOSING = re.compile(r"(?:^|[。！？!?.…”」』])\s*[(（]\s*([^()（）]{2,40}?)\s*[)）]\s*$")
_NAMES_ONLY = re.compile(f"[{_HAN}]{{2,4}}(?:[ 、][{_HAN}]{{2,4}}){{0,2}}")
_LEADING_BRACKET = re.compile(r"^[\[【(（]\s*([^\]】)）]{2,30}?)\s*[\]】)）]")
SENTENCE = re.compile(r"[。，,；;！!？?]")
MAX_BYLINE_LINE = 60
MENU_ITEM = 4  # a line this short right after a name line makes them a menu
MAX_AUTHORS = 6


@dataclass(frozen=True)
class SiteNames:
    """What a site calls itself: an author equal to (or inside) one of these is not one."""

    names: frozenset[str]

    def has(self, candidate: str) -> bool:
        key = name_key(candidate)
        if not key:
            return True
        return any(key == name or (len(name) >= 3 and name in key) for name in self.names)


def name_key(text: str) -> str:
    return re.sub(r"[\s\W_]+", "", text).lower()


def chinese_name(token: str) -> bool:
    """A Chinese personal name: a common surname and one to two more characters."""
    if token.startswith(_COMPOUND_SURNAMES):
        return 3 <= len(token) <= 4 and bool(_HAN_NAME.fullmatch(token))
    return 2 <= len(token) <= 3 and token[0] in _SURNAMES and bool(_HAN_NAME.fullmatch(token))


def plausible_name(token: str, sites: SiteNames, *, free: bool = False) -> bool:
    """Whether ``token`` can be a person's name: no URL, id, handle, site or organisation."""
    if not token or token in _STOP_WORDS or token.lower() in _STOP_WORDS:
        return False
    if _NOT_NAME.search(token) or _ORG_WORDS.search(token) or sites.has(token):
        return False
    if _ORG_END.fullmatch(token):
        return False
    if _HAN_NAME.fullmatch(token) or _FOREIGN_NAME.fullmatch(token):
        return True
    if re.search(f"[{_HAN}]", token) and not free:
        return False
    if not free and not all(
        w[0].isupper() or w in _PARTICLES for w in token.split()
    ):  # names are capitalised: "Authority control", "Mac, i" are not names
        return False
    pattern = _FREE_NAME if free else _LATIN_NAME
    return bool(pattern.fullmatch(token))


def _join_spaced(text: str) -> str:
    """赵  培 -> 赵培: single Chinese characters spaced out to fill a width."""
    parts = text.split()
    if len(parts) in (2, 3) and all(len(p) == 1 and re.fullmatch(f"[{_HAN}]", p) for p in parts):
        return "".join(parts)
    return text


def _tokens(segment: str) -> list[str]:
    """Words of a byline: a Latin name stays whole, Chinese names are split at spaces."""
    tokens: list[str] = []
    for chunk in _NAME_SPLIT.split(segment):
        chunk = chunk.strip()
        if _LATIN_NAME.fullmatch(chunk):
            tokens.append(chunk)
        else:
            tokens += chunk.split()
    return [t for t in tokens if t]


def names_in(
    segment: str, sites: SiteNames, *, free: bool = False, surname: bool = True
) -> list[str]:
    """The names that start ``segment`` (the text after a byline label), up to the first
    word that is not one: "王建宏 张文攀" -> both; "彭冲 山东冠县报道" -> 彭冲. With
    ``free`` (作者：, 文/) the first may be any pen name; with ``surname`` a Chinese name
    must start with a common surname (记者王某, a label run into the name)."""
    segment = _join_spaced(segment.strip(" :：|[]【】()（）"))
    names: list[str] = []
    for token in _tokens(segment)[:MAX_AUTHORS]:
        rest = _ROLE_END.sub("", token)
        if rest != token:  # 王燕平报道: a name; 姚峰 上海报道: a place after the names
            if not names and _person(rest, sites, free=False):
                names.append(rest)
            break
        if not _person(token, sites, free=free and not names, surname=surname):
            org = _ORG_PREFIX_END.search(token)  # 周炜本报(记者) -> 周炜
            if org and _person(token[: org.start()], sites, free=False):
                names.append(token[: org.start()])
            break
        names.append(token)
    return names


def _person(token: str, sites: SiteNames, *, free: bool, surname: bool = True) -> bool:
    if not plausible_name(token, sites, free=free):
        return False
    han = bool(re.fullmatch(f"[{_HAN}]+", token))
    return free or not han or not surname or chinese_name(token)


def byline(line: str, sites: SiteNames) -> tuple[str, list[str]]:
    """The names a byline line gives, and its kind ("writer" or "editor"); ("", []) when
    the line is not one. Several labels on one line (实习生 X 本报记者 Y) add up."""
    kind, names = "", []
    labels = list(_BYLINE_LABEL.finditer(line))
    for i, label in enumerate(labels):
        end = labels[i + 1].start() if i + 1 < len(labels) else len(line)
        free = bool(label.group("free") or label.group("wen"))
        explicit = bool(re.search(r"[:：|/｜]", label.group(0)))  # 编辑：X, 记者|X
        found = names_in(line[label.end() : end], sites, free=free, surname=not explicit)
        if not found:
            continue
        this = "editor" if label.group("editor") else "writer"
        if kind == "writer" and this == "editor":
            break
        kind = kind or this
        names += [n for n in found if n not in names]
    return kind, names


def closing_names(line: str, sites: SiteNames) -> list[str]:
    """Names in brackets closing a paragraph: (记者 胡晓蓉), (姚峰 上海报道), (常书香 马丹阳)."""
    match = _CLOSING.search(line)
    if match is None:
        return []
    inner = match.group(1)
    if _PHOTO.search(inner):
        return []  # a photo credit, not the article's author
    kind, names = byline(inner, sites)
    if kind == "writer":
        return names
    found = names_in(inner, sites)
    return found if found and all(chinese_name(n) for n in found) else []


def name_line(line: str, sites: SiteNames, titles: Sequence[str] = ()) -> list[str]:
    """A line that is only one to three Chinese personal names (a byline with no label),
    or starts with them in brackets ([ 黄宇 ] 来源：…). A name in the title is its subject,
    not its author."""
    bracketed = _LEADING_BRACKET.match(line)
    line = _join_spaced(bracketed.group(1) if bracketed else line)
    if not _NAMES_ONLY.fullmatch(line):  # "时事 |" is a menu entry
        return []
    tokens = line.replace("、", " ").split()
    if any(t in title for t in tokens for title in titles):
        return []
    if 1 <= len(tokens) <= 3 and all(chinese_name(t) and not sites.has(t) for t in tokens):
        return tokens
    return []


def clean_declared_author(value: str, sites: SiteNames) -> list[str]:
    """The names in a declared author (meta, JSON-LD, trafilatura): URLs, ids, site and
    organisation names dropped ("赵  培; 汉斯出版社; Hans Publishers" -> 赵培)."""
    value = unicodedata.normalize("NFKC", value)
    value = re.sub(r"^\s*(?:by|作者|文)\s*[:：/]?\s*", "", _URL_PART.sub(" ", value), flags=re.I)
    parts = [p.strip() for p in re.split(r"[;；,，、|]|\s+and\s+|\s+&\s+", value) if p.strip()]
    names = []
    for part in parts[:MAX_AUTHORS]:
        part = _join_spaced(_MONTH_END.sub("", part))
        if plausible_name(part, sites) and part not in names:
            names.append(part)
    return names


def join_names(names: list[str]) -> str:
    if all(re.search(f"[{_HAN}]", n) for n in names):
        return "、".join(names)
    return ", ".join(names)
