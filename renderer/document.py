"""The parsed document: a small tree built once from Lexbor's DOM.

:func:`parse` runs the HTML5 parser (selectolax's Lexbor binding) and copies
what layout needs into plain Python objects: elements that are never shown
(``script``, ``hidden``, ``display: none``...) are dropped, text is cleaned
of control characters, links are numbered and form controls get their ids,
in document order, so that both stay the same at every width.
"""

from __future__ import annotations

import urllib.parse

from selectolax.lexbor import LexborHTMLParser

from .protocol import MAX_ANCHOR_NAME_CHARS, MAX_FRAME_SLOTS, MAX_SHEET_URL_CHARS, MAX_SHEETS, MAX_URL_CHARS
from .style import (
    BLOCKIFYING, DISPLAY_KINDS, PX_PER_CELL, Computed, StyleSheets, compute_styles, media_attribute_matches,
    transform_text,
)

#: Elements whose content is never shown.
SKIPPED = frozenset(
    {
        "script", "style", "template", "head", "title", "meta", "link", "base",
        "svg", "math", "object", "embed", "canvas", "video", "audio",
        "map", "area", "datalist", "param", "source", "track", "noembed",
        "noframes", "frameset", "option", "optgroup", "-comment", "#comment",
        "!doctype", "-doctype",
    }
)

#: Deeper elements than this are flattened to their text, so that layout's
#: recursion stays bounded whatever the page does.
MAX_DEPTH = 80

TEXT_INPUT_TYPES = frozenset(
    {
        "text", "search", "email", "url", "tel", "number", "date", "time",
        "datetime-local", "month", "week", "color", "range",
    }
)

# C0 and C1 controls (except tab, newline, form feed, carriage return), DEL
# and the soft hyphen are removed: a page must not reach the terminal with
# escape sequences.
_CLEAN = {c: None for c in [*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), *range(0x7F, 0xA0), 0xAD]}
_ASCII_WHITESPACE = " \t\n\f\r"
_COLLAPSE = str.maketrans({"\t": " ", "\n": " ", "\f": " ", "\r": " "})


def clean(text: str) -> str:
    return text.translate(_CLEAN)


def collapse(text: str) -> str:
    """HTML whitespace collapsing: runs of ASCII whitespace become one space."""
    return " ".join(part for part in text.translate(_COLLAPSE).split(" ") if part)


class Element:
    """An element as layout sees it; children are Elements and strs."""

    __slots__ = ("tag", "attrs", "children", "link", "field", "css", "slot")

    def __init__(self, tag: str, attrs: dict[str, str]):
        self.tag = tag
        self.attrs = attrs
        self.children: list[Element | str] = []
        self.link = 0  # link number for <a href>, 0 if none
        self.field = 0  # field id for form controls, 0 if none
        self.css: Computed | None = None  # the author style, None when no sheet touches it
        self.slot = 0  # a subframe's slot: its 1-based index in Document.frames, 0 if none

    def text(self) -> str:
        """All the text inside, whitespace-collapsed."""
        parts: list[str] = []
        _gather_text(self, parts)
        return collapse("".join(parts))

    def __repr__(self) -> str:
        return f"<{self.tag} {len(self.children)} children>"


def _gather_text(element: Element, parts: list[str]) -> None:
    for child in element.children:
        if isinstance(child, str):
            parts.append(child)
        else:
            _gather_text(child, parts)


class Option:
    __slots__ = ("value", "label", "selected")

    def __init__(self, value: str, label: str, selected: bool):
        self.value = value
        self.label = label
        self.selected = selected


class Field:
    """A form control with its defaults (the page keeps what the user changed)."""

    __slots__ = (
        "id", "kind", "type", "name", "value", "checked", "options", "form",
        "disabled", "readonly", "size", "rows", "cols", "label", "attrs",
    )

    def __init__(self, id: int, kind: str, type: str, attrs: dict[str, str]):
        self.id = id
        self.kind = kind  # what the UI sees: text, password, checkbox, radio, select, ...
        self.type = type  # the input type or element name
        self.name = attrs.get("name") or ""
        self.value = ""
        self.checked = False
        self.options: list[Option] = []
        self.form = -1  # index into Document.forms
        self.disabled = "disabled" in attrs
        self.readonly = "readonly" in attrs
        self.size = _int(attrs.get("size"), 20, low=1, high=200)
        self.rows = _int(attrs.get("rows"), 2, low=1, high=100)
        self.cols = _int(attrs.get("cols"), 20, low=1, high=500)
        self.label = ""
        self.attrs = attrs

    @property
    def is_submit(self) -> bool:
        return self.kind == "submit"

    def default_index(self) -> int:
        """The option a select shows before the user picks one."""
        for index, option in enumerate(self.options):
            if option.selected:
                return index
        return 0 if self.options else -1


class Form:
    __slots__ = ("action", "method", "enctype", "id")

    def __init__(self, attrs: dict[str, str]):
        self.action = attrs.get("action") or ""
        method = (attrs.get("method") or "get").strip().lower()
        self.method = "POST" if method == "post" else "GET"
        self.enctype = (attrs.get("enctype") or "").strip().lower()
        self.id = attrs.get("id") or ""


class LinkInfo:
    __slots__ = ("number", "url", "text", "target")

    def __init__(self, number: int, url: str, text: str, target: str = "self"):
        self.number = number
        self.url = url
        self.text = text
        self.target = target  # self, top, parent, blank (protocol.LinkTarget)


class FrameInfo:
    """A subframe's slot as the page asks for it (``<iframe>`` or ``<frame>``)."""

    __slots__ = ("index", "src", "srcdoc", "width", "height", "sandboxed", "name")

    def __init__(self, index: int, src: str, srcdoc: str, width: str | None, height: str | None,
                 sandboxed: bool, name: str):
        self.index = index
        self.src = src
        self.srcdoc = srcdoc
        self.width = width
        self.height = height
        self.sandboxed = sandboxed
        self.name = name


class Document:
    def __init__(self, url: str):
        self.url = url
        self.base_url = url
        self.title = ""
        self.body = Element("body", {})
        self.links: list[LinkInfo] = []
        self.fields: list[Field] = []
        self.forms: list[Form] = []
        #: Subframe slots in document order (at most MAX_FRAME_SLOTS; later ones are shown as links).
        self.frames: list[FrameInfo] = []
        #: Linked style sheets in document order (absolute URLs), for the broker to fetch.
        self.stylesheet_urls: list[str] = []

    def resolve(self, href: str) -> str:
        return resolve(self.base_url, href)


def resolve(base: str, href: str) -> str:
    """Resolve ``href`` against ``base`` as a URL parser would (tabs/newlines dropped)."""
    href = href.strip(_ASCII_WHITESPACE + "\x00").replace("\t", "").replace("\n", "").replace("\r", "")
    try:
        return urllib.parse.urljoin(base, href)
    except ValueError:
        return href


_TARGETS = {"_top": "top", "_parent": "parent", "_blank": "blank"}


def link_target(value: str | None) -> str:
    """A link's ``target`` as the protocol names it (a named target opens here)."""
    return _TARGETS.get((value or "").strip(_ASCII_WHITESPACE).lower(), "self")


def parse_int(value: str | None) -> int | None:
    """An HTML integer attribute ("  12px" is 12), or None when it is not one."""
    if value is None:
        return None
    digits = value.strip(_ASCII_WHITESPACE)
    sign = 1
    if digits[:1] in ("-", "+"):
        sign, digits = (-1 if digits[0] == "-" else 1), digits[1:]
    end = 0
    while end < len(digits) and end < 9 and digits[end] in "0123456789":
        end += 1
    return sign * int(digits[:end]) if end else None


def _int(value: str | None, default: int, *, low: int, high: int) -> int:
    number = parse_int(value)
    return default if number is None else max(low, min(high, number))


def parse(text: str, url: str, *, width: int = 80, linked_sheets: dict[str, str] | None = None) -> Document:
    """Parse HTML ``text`` served from ``url``.

    ``width`` (cells) is the viewport for media queries; ``linked_sheets``
    maps the absolute URL of a ``<link rel=stylesheet>`` to the sheet's text,
    as the broker fetched it (missing ones are skipped)."""
    tree = LexborHTMLParser(text)
    document = Document(url)
    base = tree.css_first("base[href]")
    if base is not None:
        document.base_url = resolve(url, base.attributes.get("href") or "")
    head = tree.head
    title = head.css_first("title") if head is not None else None
    if title is None:
        title = tree.css_first("title")
    if title is not None:
        document.title = collapse(clean(title.text(deep=True)))
    builder = _Builder(document)
    builder.styles = _styles(tree, document, width, linked_sheets or {})
    root = tree.body if tree.body is not None else tree.root
    if root is not None:
        inherited = builder.styles.get(root.mem_id) if builder.styles else None
        builder.children(root, document.body, 0, inherited)
    builder.associate_forms()
    return document


def _styles(tree, document: Document, width: int, linked: dict[str, str]) -> dict[int, Computed]:
    """The author style of every element it touches (see renderer/style.py)."""
    sheets = StyleSheets(width)
    for kind, value in _sheet_sources(tree, document.base_url, sheets.viewport_px):
        if kind == "style":
            sheets.add(value, document.base_url, linked)
        else:
            document.stylesheet_urls.append(value)
            if value in linked:
                sheets.add(linked[value], value, linked)
    has_inline = tree.css_first("[style]") is not None
    if not sheets and not has_inline:
        return {}
    root = tree.root
    if root is None:
        return {}
    return compute_styles(root, sheets, has_inline, MAX_DEPTH + 8)


def _sheet_sources(tree, base_url: str, viewport_px: int):
    """The document's sheets in order: ``("style", text)`` for a ``<style>``,
    ``("link", url)`` for a ``<link rel=stylesheet>`` (at most
    ``MAX_SHEETS`` distinct ones, each URL within the protocol's bound)."""
    links: list[str] = []
    for node in tree.css("style, link"):
        attrs = node.attributes
        if not media_attribute_matches(attrs.get("media") or "", viewport_px):
            continue
        if node.tag == "style":
            if (attrs.get("type") or "text/css").strip().lower() in ("text/css", ""):
                yield "style", node.text(deep=True) or ""
            continue
        rel = (attrs.get("rel") or "").lower().split()
        href = attrs.get("href")
        if "stylesheet" not in rel or "alternate" in rel or not href:
            continue
        sheet_url = urllib.parse.urldefrag(resolve(base_url, href))[0]
        if sheet_url in links or len(links) >= MAX_SHEETS or len(sheet_url) > MAX_SHEET_URL_CHARS:
            continue
        links.append(sheet_url)
        yield "link", sheet_url


def stylesheet_links(text: str, url: str, *, width: int = 80) -> list[str]:
    """The linked style sheets ``text`` would use at ``width``: what the
    renderer asks the broker for before it lays the page out."""
    tree = LexborHTMLParser(text)
    base_url = url
    base = tree.css_first("base[href]")
    if base is not None:
        base_url = resolve(url, base.attributes.get("href") or "")
    return [value for kind, value in _sheet_sources(tree, base_url, width * PX_PER_CELL) if kind == "link"]


class _Builder:
    def __init__(self, document: Document):
        self.document = document
        self.form_stack: list[int] = []
        self.form_attr_fields: list[tuple[Field, str]] = []
        self.styles: dict[int, Computed] = {}

    def children(self, node, parent: Element, depth: int, css: Computed | None = None) -> None:
        """Add ``node``'s children to ``parent``; ``css`` is ``node``'s author style."""
        child = node.child
        blockify = css is not None and css.display in BLOCKIFYING
        if parent.tag == "details" and "open" not in parent.attrs:
            # A closed <details> shows its summary only, as browsers draw it.
            while child is not None and child.tag != "summary":
                child = child.next
            if child is not None:
                self.element(child, "summary", parent, depth + 1)
            return
        while child is not None:
            tag = child.tag
            if tag == "-text":
                text = child.text_content
                if text and (css is None or not css.hidden):
                    text = clean(text)
                    if css is None:
                        parent.children.append(text)
                    else:
                        self.styled_text(text, css, parent)
            elif tag not in SKIPPED:
                self.element(child, tag, parent, depth + 1, blockify=blockify)
            elif tag == "frameset":
                self.children(child, parent, depth)
            child = child.next

    def element(self, node, tag: str, parent: Element, depth: int, *, blockify: bool = False) -> None:
        attrs = node.attributes
        if "hidden" in attrs and tag != "input":
            return
        if tag == "dialog" and "open" not in attrs:
            return
        css = self.styles.get(node.mem_id) if self.styles else None
        if css is not None:
            if css.display == "none" or (css.collapse and _kind(tag, css) in ("row", "group")):
                return
            if css.hidden and tag in ("input", "select", "textarea", "button", "img", "hr"):
                return
            if blockify and _kind(tag, css) == "inline":
                css = _blockified(css)
        elif blockify and _kind(tag, None) == "inline":
            css = _blockified(Computed())
        if depth > MAX_DEPTH:
            self.flatten(node, parent)
            return
        attrs = {k: (v if v is not None else "") for k, v in attrs.items()}
        element = Element(tag, attrs)
        if css is not None:
            element.css = css
            if css.before is not None and not css.hidden:
                element.children.append(clean(css.before))
            self.contents(node, tag, attrs, element, parent, depth, css)
            if css.after is not None and not css.hidden:
                element.children.append(clean(css.after))
            return
        self.contents(node, tag, attrs, element, parent, depth, None)

    def styled_text(self, text: str, css: Computed, parent: Element) -> None:
        """A text run under an author style: text-transform, and the white
        space rules layout does not know by tag (``nowrap``, ``pre-line``)."""
        if css.transform is not None:
            text = transform_text(text, css.transform)
        white_space = css.white_space
        if white_space == "nowrap":
            parent.children.append(collapse(text).replace(" ", "\u00a0") if text.strip() else text)
        elif white_space == "pre-line" and "\n" in text:
            for index, line in enumerate(text.replace("\r\n", "\n").split("\n")):
                if index:
                    parent.children.append(Element("br", {}))
                parent.children.append(line)
        else:
            parent.children.append(text)

    def contents(self, node, tag, attrs, element: Element, parent: Element, depth: int,
                 css: Computed | None) -> None:
        """What :meth:`element` adds for an element: a form field, a frame's
        slot, or the element with its children (a link numbered), under its
        author style or none."""
        if tag in ("input", "select", "textarea", "button"):
            field = self.field(node, tag, attrs)
            if field is None:
                return
            element.field = field.id
            parent.children.append(element)
            if tag == "button":
                self.children(node, element, depth, css)
                field.label = element.text()
            return
        if tag in ("frame", "iframe"):
            self.frame(attrs, parent)
            return
        parent.children.append(element)
        if tag == "form":
            self.document.forms.append(Form(attrs))
            self.form_stack.append(len(self.document.forms) - 1)
            self.children(node, element, depth, css)
            self.form_stack.pop()
            return
        self.children(node, element, depth, css)
        if tag == "a" and "href" in attrs and (css is None or not css.hidden):
            href = attrs["href"]
            if href.strip(_ASCII_WHITESPACE).lower().startswith("javascript:"):
                return
            number = len(self.document.links) + 1
            element.link = number
            self.document.links.append(LinkInfo(number, self.document.resolve(href), element.text(),
                                                link_target(attrs.get("target"))))

    def flatten(self, node, parent: Element) -> None:
        for descendant in node.traverse(include_text=True):
            if descendant.tag == "-text":
                ancestor = descendant.parent
                if ancestor is not None and (ancestor.tag in SKIPPED or ancestor.tag == "iframe"):
                    continue
                text = descendant.text_content
                if text:
                    parent.children.append(clean(text))

    def frame(self, attrs: dict[str, str], parent: Element) -> None:
        """An ``<iframe>`` or ``<frame>``: a slot the broker fills with the
        frame's own document (``srcdoc`` wins over ``src``, as in HTML; no
        ``src`` is about:blank).  Past MAX_FRAME_SLOTS, a link to it."""
        src = attrs.get("src", "").strip(_ASCII_WHITESPACE)
        if "srcdoc" in attrs:
            url = "about:srcdoc"
        elif src:
            url = self.document.resolve(src)
        else:
            url = "about:blank"
        label = attrs.get("name") or attrs.get("title") or src or url
        if len(self.document.frames) >= MAX_FRAME_SLOTS or len(url) > MAX_URL_CHARS:
            if not src:
                return
            link = Element("a", {"href": src})
            link.children.append("frame: " + label)
            number = len(self.document.links) + 1
            link.link = number
            self.document.links.append(LinkInfo(number, url, link.text()))
            block = Element("div", {})
            block.children.append(link)
            parent.children.append(block)
            return
        info = FrameInfo(len(self.document.frames) + 1, url, attrs.get("srcdoc", ""), attrs.get("width"),
                         attrs.get("height"), "sandbox" in attrs, collapse(clean(label))[:MAX_ANCHOR_NAME_CHARS])
        self.document.frames.append(info)
        slot = Element("iframe", {})
        slot.slot = info.index
        parent.children.append(slot)

    def field(self, node, tag: str, attrs: dict[str, str]) -> Field | None:
        fields = self.document.fields
        field_id = len(fields) + 1
        if tag == "input":
            type_ = (attrs.get("type") or "text").strip().lower()
            if type_ in TEXT_INPUT_TYPES or type_ not in (
                "password", "checkbox", "radio", "submit", "image", "reset", "button", "hidden", "file"
            ):
                kind = "text"
            elif type_ == "image":
                kind = "submit"
            else:
                kind = type_
            field = Field(field_id, kind, type_, attrs)
            if kind == "hidden" or "hidden" in attrs:
                field.kind = "hidden"
            if type_ in ("checkbox", "radio"):
                field.value = attrs.get("value", "on")
                field.checked = "checked" in attrs
            else:
                field.value = clean(attrs.get("value", "")).replace("\n", "").replace("\r", "")
            if kind == "submit":
                default = "Submit" if type_ != "image" else (attrs.get("alt") or "Submit")
                field.label = collapse(attrs.get("value") or default)
            elif kind in ("reset", "button"):
                field.label = collapse(attrs.get("value") or ("Reset" if kind == "reset" else ""))
        elif tag == "button":
            type_ = (attrs.get("type") or "submit").strip().lower()
            kind = type_ if type_ in ("reset", "button") else "submit"
            field = Field(field_id, kind, "button", attrs)
            field.value = attrs.get("value", "")
        elif tag == "select":
            field = Field(field_id, "select", "select", attrs)
            for option in node.css("option"):
                option_attrs = option.attributes
                label = collapse(clean(option_attrs.get("label") or option.text(deep=True) or ""))
                value = option_attrs.get("value")
                value = collapse(clean(option.text(deep=True) or "")) if value is None else value
                field.options.append(Option(value, label, "selected" in option_attrs))
            index = field.default_index()
            field.value = field.options[index].value if index >= 0 else ""
        else:  # textarea
            field = Field(field_id, "textarea", "textarea", attrs)
            field.value = clean(node.text(deep=True) or "").replace("\r\n", "\n")
        if self.form_stack:
            field.form = self.form_stack[-1]
        if attrs.get("form"):
            self.form_attr_fields.append((field, attrs["form"]))
        fields.append(field)
        return field

    def associate_forms(self) -> None:
        by_id = {form.id: index for index, form in enumerate(self.document.forms) if form.id}
        for field, form_id in self.form_attr_fields:
            if form_id in by_id:
                field.form = by_id[form_id]


#: How layout treats each element by its tag, when no author style says otherwise.
UA_KINDS: dict[str, str] = {
    **{tag: "block" for tag in (
        "address", "article", "aside", "body", "center", "details", "dialog", "div", "fieldset",
        "figcaption", "footer", "form", "header", "hgroup", "html", "legend", "main", "menu", "nav",
        "section", "summary", "frame", "p", "figure", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5",
        "h6", "pre", "listing", "xmp", "plaintext", "blockquote", "hr", "ul", "ol", "dir", "search")},
    "li": "list-item",
    "table": "table",
    "caption": "block",
    "tr": "row",
    "thead": "group", "tbody": "group", "tfoot": "group",
    "td": "cell", "th": "cell",
}


def _kind(tag: str, css: Computed | None) -> str:
    if css is not None and css.display is not None:
        return DISPLAY_KINDS[css.display]
    return UA_KINDS.get(tag, "inline")


def kind(element: Element) -> str:
    """What layout makes of ``element``: block, inline, list-item, table, row, group, cell."""
    return _kind(element.tag, element.css)


def _blockified(css: Computed) -> Computed:
    """A flex or grid item: laid out as a block."""
    copy = Computed()
    for name in Computed.__slots__:
        setattr(copy, name, getattr(css, name))
    copy.display = "block"
    return copy
