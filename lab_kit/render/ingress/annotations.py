"""The `nginx.ingress.kubernetes.io/*` annotations lab_kit understands, parsed as ingress-nginx
parses them (internal/ingress/annotations/{rewrite,redirect,sessionaffinity}/, parser/).

- rewrite: `ssl-redirect`, `force-ssl-redirect`, `preserve-trailing-slash` (booleans as Go's
  strconv.ParseBool reads them; default from the ConfigMap), `rewrite-target` (a path with
  `$1`-style captures), `use-regex`. An invalid value is logged and the default used.
- redirect: `permanent-redirect` (a URL) and `permanent-redirect-code` (default 301, outside
  300-308 -> 301). ingress-nginx's redirect parser returns a validation error for a bad value,
  and then the whole Ingress is left out of the configuration: so does `parse` (None).
- affinity: `affinity: cookie` (the only type), `affinity-mode` (balanced | persistent),
  `session-cookie-name` (default INGRESSCOOKIE), `-path`, `-domain`, `-samesite`
  (None|Lax|Strict), `-secure`, `-max-age`, `-expires`. Invalid values fall back to defaults.

Every other annotation is ignored, as ingress-nginx ignores annotations it does not know.
The validators are ingress-nginx's character classes (parser/validators.go), re-expressed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from lab_kit.model import meta
from lab_kit.render.ingress.classes import Settings

PREFIX = "nginx.ingress.kubernetes.io/"

_ALNUM = r"\-\._~a-zA-Z0-9/:"
_BASIC_CHARS = re.compile(rf"^[/{_ALNUM}]*$")
_URL_CHARS = re.compile(rf"^[{_ALNUM},:?&=]*$")
_PATH_WITH_CAPTURE = re.compile(rf"^/?[{_ALNUM}/$]*$")
_MALICIOUS = re.compile(r"\r|\n")
# ingress-nginx's affinityCookieExpiresRegex, searched (Go's MatchString), quirks included.
_SECONDS = re.compile(r"(^0|-?[1-9]\d*$)")
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


class Rejected(Exception):
    """An annotation whose invalid value makes ingress-nginx drop the whole Ingress."""


@dataclass(frozen=True)
class Cookie:
    """Cookie affinity (sessionaffinity.Cookie)."""

    name: str = "INGRESSCOOKIE"
    path: str = ""  # "" = the matched Ingress path
    domain: str = ""
    samesite: str = ""
    secure: bool = False
    max_age: str = ""
    expires: str = ""
    mode: str = "balanced"


@dataclass(frozen=True)
class Annotations:
    ssl_redirect: bool = True
    force_ssl_redirect: bool = False
    preserve_trailing_slash: bool = False
    rewrite_target: str = ""
    use_regex: bool = False
    permanent_redirect: str = ""
    permanent_redirect_code: int = 301
    affinity: Cookie | None = None
    problems: tuple[str, ...] = field(default=(), compare=False)


class _Reader:
    """Reads one Ingress's annotations, noting each invalid value as ingress-nginx logs it."""

    def __init__(self, ingress: dict) -> None:
        self.values = meta.annotations(ingress)
        self.problems: list[str] = []

    def string(self, name: str, valid: re.Pattern[str] | None = None, spaces: bool = False) -> str:
        raw = self.values.get(PREFIX + name, "")
        value = "\n".join(line.strip() for line in raw.split("\n"))
        checked = value.replace(" ", "") if spaces else value
        if (
            value
            and valid is not None
            and not (valid.search(checked) and not _MALICIOUS.search(checked))
        ):
            self.problems.append(f"annotation {PREFIX}{name}={raw!r} is invalid, ignored")
            return ""
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.values.get(PREFIX + name, "")
        if raw in _TRUE or raw in _FALSE:
            return raw in _TRUE
        if raw:
            self.problems.append(
                f"annotation {PREFIX}{name}={raw!r} is not a boolean, using {str(default).lower()}"
            )
        return default

    def option(self, name: str, options: tuple[str, ...], case: bool = True) -> str:
        value = self.string(name)
        if value and (value if case else value.lower()) not in options:
            self.problems.append(
                f"annotation {PREFIX}{name}={value!r} is not one of {', '.join(options)}, ignored"
            )
            return ""
        return value


def parse(ingress: dict, settings: Settings) -> Annotations:
    """The annotations of one Ingress; raises Rejected where ingress-nginx drops the Ingress."""
    read = _Reader(ingress)
    url, code = _permanent_redirect(read)
    parsed = Annotations(
        ssl_redirect=read.boolean("ssl-redirect", settings.ssl_redirect),
        force_ssl_redirect=read.boolean("force-ssl-redirect", settings.force_ssl_redirect),
        preserve_trailing_slash=read.boolean("preserve-trailing-slash", False),
        rewrite_target=read.string("rewrite-target", _PATH_WITH_CAPTURE),
        use_regex=read.boolean("use-regex", False),
        permanent_redirect=url,
        permanent_redirect_code=code,
        affinity=_affinity(read),
    )
    return replace(parsed, problems=tuple(read.problems))


def _permanent_redirect(read: _Reader) -> tuple[str, int]:
    url = read.values.get(PREFIX + "permanent-redirect", "").strip()
    raw_code = read.values.get(PREFIX + "permanent-redirect-code", "")
    if url and (not _URL_CHARS.search(url) or _MALICIOUS.search(url)):
        raise Rejected(f"annotation {PREFIX}permanent-redirect={url!r} is invalid")
    if raw_code and not re.fullmatch(r"[+-]?\d+", raw_code):
        raise Rejected(f"annotation {PREFIX}permanent-redirect-code={raw_code!r} is not an integer")
    code = int(raw_code) if raw_code else 0
    return url, code if 300 <= code <= 308 else 301


def _affinity(read: _Reader) -> Cookie | None:
    if read.option("affinity", ("cookie",)) != "cookie":
        return None
    return Cookie(
        name=read.string("session-cookie-name", _BASIC_CHARS, spaces=True) or "INGRESSCOOKIE",
        path=read.string("session-cookie-path", _URL_CHARS, spaces=True),
        domain=read.string("session-cookie-domain", _BASIC_CHARS, spaces=True),
        samesite=read.option("session-cookie-samesite", ("none", "lax", "strict"), case=False),
        secure=read.boolean("session-cookie-secure", False),
        max_age=read.string("session-cookie-max-age", _SECONDS),
        expires=read.string("session-cookie-expires", _SECONDS, spaces=True),
        mode=read.option("affinity-mode", ("balanced", "persistent")) or "balanced",
    )
