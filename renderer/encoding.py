"""Turning document bytes into text the way browsers do.

The order is the HTML standard's: a byte order mark wins, then the charset
of the Content-Type header, then (HTML only) a ``<meta charset>`` found by
prescanning the first 1024 bytes, else UTF-8.  Labels are mapped with the
WHATWG Encoding Standard's table, so ``iso-8859-1`` and ``ascii`` mean
windows-1252, ``shift_jis`` means what Windows means by it, and so on.

Every Python codec named here is imported by :func:`preload`: after the
sandbox is up nothing can be imported, and ``bytes.decode`` imports its
codec lazily.
"""

from __future__ import annotations

import codecs

# WHATWG encoding name -> the labels that name it (encoding.spec.whatwg.org).
_LABELS: dict[str, tuple[str, ...]] = {
    "utf-8": ("unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8", "x-unicode20utf8"),
    "ibm866": ("866", "cp866", "csibm866", "ibm866"),
    "iso-8859-2": ("csisolatin2", "iso-8859-2", "iso-ir-101", "iso8859-2", "iso88592", "iso_8859-2", "iso_8859-2:1987", "l2", "latin2"),
    "iso-8859-3": ("csisolatin3", "iso-8859-3", "iso-ir-109", "iso8859-3", "iso88593", "iso_8859-3", "iso_8859-3:1988", "l3", "latin3"),
    "iso-8859-4": ("csisolatin4", "iso-8859-4", "iso-ir-110", "iso8859-4", "iso88594", "iso_8859-4", "iso_8859-4:1988", "l4", "latin4"),
    "iso-8859-5": ("csisolatincyrillic", "cyrillic", "iso-8859-5", "iso-ir-144", "iso8859-5", "iso88595", "iso_8859-5", "iso_8859-5:1988"),
    "iso-8859-6": ("arabic", "asmo-708", "csiso88596e", "csiso88596i", "csisolatinarabic", "ecma-114", "iso-8859-6", "iso-8859-6-e", "iso-8859-6-i", "iso-ir-127", "iso8859-6", "iso88596", "iso_8859-6", "iso_8859-6:1987"),
    "iso-8859-7": ("csisolatingreek", "ecma-118", "elot_928", "greek", "greek8", "iso-8859-7", "iso-ir-126", "iso8859-7", "iso88597", "iso_8859-7", "iso_8859-7:1987", "sun_eu_greek"),
    "iso-8859-8": ("csiso88598e", "csisolatinhebrew", "hebrew", "iso-8859-8", "iso-8859-8-e", "iso-ir-138", "iso8859-8", "iso88598", "iso_8859-8", "iso_8859-8:1988", "visual"),
    "iso-8859-8-i": ("csiso88598i", "iso-8859-8-i", "logical"),
    "iso-8859-10": ("csisolatin6", "iso-8859-10", "iso-ir-157", "iso8859-10", "iso885910", "l6", "latin6"),
    "iso-8859-13": ("iso-8859-13", "iso8859-13", "iso885913"),
    "iso-8859-14": ("iso-8859-14", "iso8859-14", "iso885914"),
    "iso-8859-15": ("csisolatin9", "iso-8859-15", "iso8859-15", "iso885915", "iso_8859-15", "l9"),
    "iso-8859-16": ("iso-8859-16",),
    "koi8-r": ("cskoi8r", "koi", "koi8", "koi8-r", "koi8_r"),
    "koi8-u": ("koi8-ru", "koi8-u"),
    "macintosh": ("csmacintosh", "mac", "macintosh", "x-mac-roman"),
    "windows-874": ("dos-874", "iso-8859-11", "iso8859-11", "iso885911", "tis-620", "windows-874"),
    "windows-1250": ("cp1250", "windows-1250", "x-cp1250"),
    "windows-1251": ("cp1251", "windows-1251", "x-cp1251"),
    "windows-1252": ("ansi_x3.4-1968", "ascii", "cp1252", "cp819", "csisolatin1", "ibm819", "iso-8859-1", "iso-ir-100", "iso8859-1", "iso88591", "iso_8859-1", "iso_8859-1:1987", "l1", "latin1", "us-ascii", "windows-1252", "x-cp1252"),
    "windows-1253": ("cp1253", "windows-1253", "x-cp1253"),
    "windows-1254": ("cp1254", "csisolatin5", "iso-8859-9", "iso-ir-148", "iso8859-9", "iso88599", "iso_8859-9", "iso_8859-9:1989", "l5", "latin5", "windows-1254", "x-cp1254"),
    "windows-1255": ("cp1255", "windows-1255", "x-cp1255"),
    "windows-1256": ("cp1256", "windows-1256", "x-cp1256"),
    "windows-1257": ("cp1257", "windows-1257", "x-cp1257"),
    "windows-1258": ("cp1258", "windows-1258", "x-cp1258"),
    "x-mac-cyrillic": ("x-mac-cyrillic", "x-mac-ukrainian"),
    "gbk": ("chinese", "csgb2312", "csiso58gb231280", "gb2312", "gb_2312", "gb_2312-80", "gbk", "iso-ir-58", "x-gbk"),
    "gb18030": ("gb18030",),
    "big5": ("big5", "big5-hkscs", "cn-big5", "csbig5", "x-x-big5"),
    "euc-jp": ("cseucpkdfmtjapanese", "euc-jp", "x-euc-jp"),
    "iso-2022-jp": ("csiso2022jp", "iso-2022-jp"),
    "shift_jis": ("csshiftjis", "ms932", "ms_kanji", "shift-jis", "shift_jis", "sjis", "windows-31j", "x-sjis"),
    "euc-kr": ("cseuckr", "csksc56011987", "euc-kr", "iso-ir-149", "korean", "ks_c_5601-1987", "ks_c_5601-1989", "ksc5601", "ksc_5601", "windows-949"),
    "replacement": ("csiso2022kr", "hz-gb-2312", "iso-2022-cn", "iso-2022-cn-ext", "iso-2022-kr", "replacement"),
    "utf-16be": ("unicodefffe", "utf-16be"),
    "utf-16le": ("csunicode", "iso-10646-ucs-2", "ucs-2", "unicode", "unicodefeff", "utf-16", "utf-16le"),
    "x-user-defined": ("x-user-defined",),
}

LABELS: dict[str, str] = {label: name for name, labels in _LABELS.items() for label in labels}

# WHATWG encoding name -> the Python codec that decodes it (closest superset
# where the two differ, as browsers do: Shift_JIS is really cp932, EUC-KR is
# really cp949, GBK is decoded as gb18030, Big5 includes HKSCS).
PYTHON_CODECS: dict[str, str] = {
    "utf-8": "utf-8",
    "ibm866": "cp866",
    "iso-8859-2": "iso8859_2",
    "iso-8859-3": "iso8859_3",
    "iso-8859-4": "iso8859_4",
    "iso-8859-5": "iso8859_5",
    "iso-8859-6": "iso8859_6",
    "iso-8859-7": "iso8859_7",
    "iso-8859-8": "iso8859_8",
    "iso-8859-8-i": "iso8859_8",
    "iso-8859-10": "iso8859_10",
    "iso-8859-13": "iso8859_13",
    "iso-8859-14": "iso8859_14",
    "iso-8859-15": "iso8859_15",
    "iso-8859-16": "iso8859_16",
    "koi8-r": "koi8_r",
    "koi8-u": "koi8_u",
    "macintosh": "mac_roman",
    "windows-874": "cp874",
    "windows-1250": "cp1250",
    "windows-1251": "cp1251",
    "windows-1252": "cp1252",
    "windows-1253": "cp1253",
    "windows-1254": "cp1254",
    "windows-1255": "cp1255",
    "windows-1256": "cp1256",
    "windows-1257": "cp1257",
    "windows-1258": "cp1258",
    "x-mac-cyrillic": "mac_cyrillic",
    "gbk": "gb18030",
    "gb18030": "gb18030",
    "big5": "big5hkscs",
    "euc-jp": "euc_jp",
    "iso-2022-jp": "iso2022_jp",
    "shift_jis": "cp932",
    "euc-kr": "cp949",
    "utf-16be": "utf-16-be",
    "utf-16le": "utf-16-le",
}

_ASCII_WHITESPACE = " \t\n\f\r"


def lookup(label: str | None) -> str | None:
    """The WHATWG encoding name for ``label``, or None if it names none."""
    if not label:
        return None
    return LABELS.get(label.strip(_ASCII_WHITESPACE).lower())


def sniff_bom(body: bytes) -> str | None:
    if body.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    if body.startswith(b"\xfe\xff"):
        return "utf-16be"
    if body.startswith(b"\xff\xfe"):
        return "utf-16le"
    return None


def decode(body: bytes, *, header_charset: str | None, prescan_meta: bool) -> tuple[str, str]:
    """Decode ``body``; return ``(text, whatwg_encoding_name)``."""
    encoding = sniff_bom(body)
    if encoding is not None:
        body = body[3:] if encoding == "utf-8" else body[2:]
    else:
        encoding = lookup(header_charset)
        if encoding is None and prescan_meta:
            encoding = prescan(body[:1024])
        if encoding is None:
            encoding = "utf-8"
    return decode_as(body, encoding), encoding


def decode_as(body: bytes, encoding: str) -> str:
    if encoding == "replacement":
        return "\ufffd" if body else ""
    if encoding == "x-user-defined":
        return "".join(chr(b) if b < 0x80 else chr(0xF700 + b) for b in body)
    return body.decode(PYTHON_CODECS[encoding], errors="replace")


# ---------------------------------------------------------------------------
# The HTML standard's "prescan a byte stream to determine its encoding",
# simplified: comments, <meta> attributes, other tags skipped.  Byte
# scanning, no regular expressions.
# ---------------------------------------------------------------------------

_SPACE_BYTES = b" \t\n\f\r"


def prescan(head: bytes) -> str | None:
    data = head.lower()
    n = len(data)
    i = 0
    while i < n:
        lt = data.find(b"<", i)
        if lt < 0:
            return None
        if data.startswith(b"<!--", lt):
            end = data.find(b"-->", lt + 4)
            if end < 0:
                return None
            i = end + 3
            continue
        if data.startswith(b"<meta", lt) and lt + 5 < n and data[lt + 5] in b" \t\n\f\r/":
            attrs, i = _attributes(data, lt + 5)
            encoding = _meta_encoding(attrs)
            if encoding is not None:
                return encoding
            continue
        if lt + 1 < n and (data[lt + 1 : lt + 2].isalpha() or data[lt + 1 : lt + 2] == b"/"):
            # Some other tag: skip its name and attributes.
            j = lt + 1
            while j < n and data[j] not in b" \t\n\f\r/>":
                j += 1
            _, i = _attributes(data, j)
            continue
        if data.startswith(b"<!", lt) or data.startswith(b"<?", lt):
            end = data.find(b">", lt)
            if end < 0:
                return None
            i = end + 1
            continue
        i = lt + 1
    return None


def _meta_encoding(attrs: dict[bytes, bytes]) -> str | None:
    label: bytes | None = None
    if b"charset" in attrs:
        label = attrs[b"charset"]
    elif attrs.get(b"http-equiv") == b"content-type" and b"content" in attrs:
        label = _charset_from_content(attrs[b"content"])
    if label is None:
        return None
    encoding = lookup(label.decode("ascii", errors="replace"))
    if encoding in ("utf-16be", "utf-16le"):
        return "utf-8"
    if encoding == "x-user-defined":
        return "windows-1252"
    return encoding


def _charset_from_content(content: bytes) -> bytes | None:
    """The standard's "extract a character encoding from a meta element"."""
    i = 0
    while True:
        i = content.find(b"charset", i)
        if i < 0:
            return None
        i += 7
        while i < len(content) and content[i] in _SPACE_BYTES:
            i += 1
        if i < len(content) and content[i : i + 1] == b"=":
            break
    i += 1
    while i < len(content) and content[i] in _SPACE_BYTES:
        i += 1
    if i >= len(content):
        return None
    quote = content[i : i + 1]
    if quote in (b'"', b"'"):
        end = content.find(quote, i + 1)
        return None if end < 0 else content[i + 1 : end]
    end = i
    while end < len(content) and content[end] not in b" \t\n\f\r;":
        end += 1
    return content[i:end]


def _attributes(data: bytes, i: int) -> tuple[dict[bytes, bytes], int]:
    """Parse attributes from ``data[i:]`` up to the tag's ``>``."""
    attrs: dict[bytes, bytes] = {}
    n = len(data)
    while i < n:
        while i < n and data[i] in b" \t\n\f\r/":
            i += 1
        if i >= n:
            break
        if data[i] == 0x3E:  # >
            return attrs, i + 1
        start = i
        while i < n and data[i] not in b" \t\n\f\r/>=":
            i += 1
        name = data[start:i]
        while i < n and data[i] in _SPACE_BYTES:
            i += 1
        value = b""
        if i < n and data[i] == 0x3D:  # =
            i += 1
            while i < n and data[i] in _SPACE_BYTES:
                i += 1
            if i < n and data[i] in b"\"'":
                quote = data[i]
                end = data.find(bytes((quote,)), i + 1)
                if end < 0:
                    end = n
                value = data[i + 1 : end]
                i = end + 1
            else:
                start = i
                while i < n and data[i] not in b" \t\n\f\r>":
                    i += 1
                value = data[start:i]
        if name and name not in attrs:
            attrs[name] = value
    return attrs, i


def preload() -> None:
    """Import every codec this module can ever use."""
    for python_name in set(PYTHON_CODECS.values()):
        codecs.lookup(python_name)
        b"abc\x80\xff".decode(python_name, errors="replace")
        "abc\u00e9\u3042".encode(python_name, errors="xmlcharrefreplace")
    for label in ("utf-8", "ascii", "latin-1"):
        b"x".decode(label)
