"""Escaping for HTML-mode execution, by where in the HTML a value lands.

Go's html/template escapes each value for its context. tocsin covers the
contexts notification HTML uses: element text, attribute values, and URL
attribute values (``href``, ``src``, ...), where a value at the start of the
URL must be a safe scheme (else it becomes ``#ZgotmplZ``, as in Go) and is
percent-normalised, and a value in the query or fragment is
percent-escaped. Script and style contents are not analysed.
"""

from __future__ import annotations

import re

_TEXT_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&#34;",
        "'": "&#39;",
        "+": "&#43;",
        "\0": "\ufffd",
    }
)

# Attributes whose values are URLs (Go's attribute type table), plus any
# name containing "src", "uri" or "url".
_URL_ATTRS = frozenset(
    {
        "action",
        "archive",
        "background",
        "cite",
        "classid",
        "codebase",
        "data",
        "formaction",
        "href",
        "icon",
        "longdesc",
        "manifest",
        "poster",
        "profile",
        "src",
        "usemap",
        "xmlns",
    }
)

_ATTR_VALUE = re.compile(
    r"""\s([^\s"'<>/=]+)\s*=\s*(?:"([^"]*)|'([^']*)|([^\s"'=<>`]*))$""", re.DOTALL
)
_TAG_START = re.compile(r"<[A-Za-z]")

TEXT = "text"
ATTR = "attr"
URL = "url"

_RESERVED = frozenset("!#$&*+,/:;=?@[]")
_UNRESERVED = frozenset("-._~abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
FILTERED_URL = "#ZgotmplZ"


def html_escape(text: str) -> str:
    """html/template's escaping of element text and quoted attribute values."""
    return text.translate(_TEXT_ESCAPES)


def context_of(tail: str) -> tuple[str, str, str]:
    """(context, attribute name, attribute value so far) at the end of `tail`."""
    lt = tail.rfind("<")
    if lt < 0 or tail.rfind(">") > lt or not _TAG_START.match(tail, lt):
        return TEXT, "", ""
    m = _ATTR_VALUE.search(tail, lt)
    if m is None:
        return TEXT, "", ""
    name = m.group(1).lower()
    value = next((g for g in m.groups()[1:] if g is not None), "")
    if name in _URL_ATTRS or any(part in name for part in ("src", "uri", "url")):
        return URL, name, value
    return ATTR, name, value


def _process_url(text: str, normalize: bool) -> str:
    data = text.encode()
    out: list[str] = []
    n = len(data)
    for i, byte in enumerate(data):
        c = chr(byte)
        if c in _UNRESERVED and byte < 0x80:
            out.append(c)
        elif c in _RESERVED and normalize:
            out.append(c)
        elif (
            c == "%"
            and normalize
            and i + 2 < n
            and chr(data[i + 1]) in _HEX
            and chr(data[i + 2]) in _HEX
        ):
            out.append(c)
        else:
            out.append(f"%{byte:02x}")
    return "".join(out)


def is_safe_url(text: str) -> bool:
    """Go's isSafeURL: no scheme, or http / https / mailto."""
    scheme, sep, _ = text.partition(":")
    if sep and "/" not in scheme:
        return scheme.lower() in ("http", "https", "mailto")
    return True


def escape_url_value(text: str, so_far: str, trusted_url: bool) -> str:
    """A value printed inside a URL attribute, given the URL text before it."""
    if so_far == "":
        if not trusted_url and not is_safe_url(text):
            text = FILTERED_URL
        text = _process_url(text, normalize=True)
    elif "?" in so_far or "#" in so_far:
        text = _process_url(text, normalize=trusted_url)
    else:
        text = _process_url(text, normalize=True)
    return html_escape(text)
