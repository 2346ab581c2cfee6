"""Author style sheets: parse (tinycss2), match, cascade, compute.

:func:`compute_styles` takes the document's sheets (``<style>`` elements,
linked sheets the broker fetched, ``style=""`` attributes) and Lexbor's
tree, and gives each element that author CSS touches a :class:`Computed`
style, keyed by the Lexbor node's ``mem_id``.  The document builder reads
it (``renderer/document.py``) and layout follows it.

Parsing is tinycss2's (tokens, rules, declarations, ``an+b``, colours).
Matching is ours, on a light copy of the tree (:class:`_Node`), and is the
reason this module exists: Lexbor's engine (selectolax ``css()``) and
cssselect2 both match descendant combinators by backtracking over the
ancestors, which is exponential in the number of combinators (Lexbor: one
``x div div div div span`` over 80 nested divs takes 0.26 s, with one more
``div`` it does not finish in a minute).  Here a descendant or sibling
combinator's answer is remembered per (selector part, node), so one
selector costs at most (its parts) x (the nodes), and rules are indexed by
their rightmost id, class or tag, as browsers do, so an element is only
tried against rules that can match it.

Bounds (a sheet is page content, hence hostile): the size of each sheet
and of all together, the number of selectors, each selector's length and
nesting, declarations per rule, and a budget of match steps for the whole
document (:data:`MAX_MATCH_STEPS`); past a bound the rest is ignored, never
an error.  Style work is therefore linear in the document's size.

Media queries are evaluated at one cell = :data:`PX_PER_CELL` px wide, for
``screen`` (``print`` never matches), at the width the document is first
laid out at.
"""

from __future__ import annotations

import urllib.parse

import tinycss2
import tinycss2.color3
import tinycss2.nth

#: One terminal cell, in CSS px, for media queries (a cell is about 8 px wide).
PX_PER_CELL = 8
#: The font size ``em`` and ``rem`` stand for in media queries.
PX_PER_EM = 16

#: Characters of one sheet looked at; the rest is ignored.
MAX_SHEET_CHARS = 512 << 10
#: Characters of all the sheets of one document together.
MAX_TOTAL_SHEET_CHARS = 1 << 20
#: Selectors (after splitting selector lists) kept for one document.
MAX_SELECTORS = 20_000
#: Tokens in one selector, compounds in one selector, and the depth of
#: ``:not()``/``:is()`` inside one another.
MAX_SELECTOR_TOKENS = 256
MAX_COMPOUNDS = 16
MAX_SELECTOR_NESTING = 3
#: Declarations kept from one rule or one ``style`` attribute.
MAX_DECLARATIONS = 256
#: Compound-selector tests for the whole document: past this many, no
#: further rule is matched (the page is styled by the rules matched so far).
#: About a second of work at worst; real documentation pages use under 1%.
MAX_MATCH_STEPS = 1_500_000
#: How deep ``@import``s are followed (a sheet importing one importing one...).
MAX_IMPORT_DEPTH = 3
#: Characters of generated ``content`` per pseudo-element.
MAX_CONTENT_CHARS = 256

NO_COLOR = -1

#: What layout makes of each ``display`` value.
DISPLAY_KINDS = {
    "block": "block", "flex": "block", "grid": "block", "flow-root": "block", "table-caption": "block",
    "-webkit-box": "block", "ruby-base": "block",
    "inline": "inline", "inline-block": "inline", "inline-flex": "inline", "inline-grid": "inline",
    "inline-table": "inline", "contents": "inline", "ruby": "inline", "ruby-text": "inline",
    "-webkit-inline-box": "inline",
    "list-item": "list-item",
    "table": "table",
    "table-row": "row", "table-row-group": "group", "table-header-group": "group",
    "table-footer-group": "group",
    "table-cell": "cell",
    "table-column": "none", "table-column-group": "none", "none": "none",
}
#: Containers whose children are laid out as blocks (flex and grid items).
BLOCKIFYING = frozenset({"flex", "grid", "inline-flex", "inline-grid", "-webkit-box"})

_WHITE_SPACE = frozenset({"normal", "pre", "nowrap", "pre-wrap", "pre-line", "break-spaces"})
_TEXT_TRANSFORM = frozenset({"none", "uppercase", "lowercase", "capitalize"})
LIST_STYLE_TYPES = frozenset({
    "disc", "circle", "square", "decimal", "decimal-leading-zero", "lower-alpha", "upper-alpha",
    "lower-latin", "upper-latin", "lower-roman", "upper-roman", "lower-greek", "none",
})
_DYNAMIC = frozenset({
    "hover", "focus", "active", "visited", "target", "focus-within", "focus-visible",
    "indeterminate", "placeholder-shown", "autofill", "fullscreen", "modal", "popover-open",
    "invalid", "user-invalid", "current", "past", "future", "playing", "paused", "defined", "host",
})


class Computed:
    """The author style of one element: what layout and the builder use.

    ``None`` in a field means "not set by the author" (the element keeps
    what its tag gives).  Inherited fields are copied to children."""

    __slots__ = (
        "display", "hidden", "collapse", "white_space", "transform", "list_style", "color",
        "background", "bold", "italic", "underline", "strike", "before", "after",
    )

    def __init__(self) -> None:
        self.display: str | None = None
        self.hidden = False  # visibility: hidden or collapse (inherited)
        self.collapse = False  # visibility: collapse on this element
        self.white_space: str | None = None
        self.transform: str | None = None
        self.list_style: str | None = None
        self.color = NO_COLOR
        self.background = NO_COLOR
        self.bold: bool | None = None
        self.italic: bool | None = None
        self.underline: bool | None = None
        self.strike: bool | None = None
        self.before: str | None = None
        self.after: str | None = None

    def inherit(self) -> "Computed":
        """A child's starting point: the inherited fields only."""
        child = Computed()
        child.hidden = self.hidden
        child.white_space = self.white_space
        child.transform = self.transform
        child.list_style = self.list_style
        child.color = self.color
        child.bold = self.bold
        child.italic = self.italic
        child.underline = self.underline
        child.strike = self.strike
        return child

    def is_plain(self) -> bool:
        return (
            self.display is None and not self.hidden and self.white_space is None and self.transform is None
            and self.list_style is None and self.color == NO_COLOR and self.background == NO_COLOR
            and self.bold is None and self.italic is None and self.underline is None and self.strike is None
            and self.before is None and self.after is None
        )


# ---------------------------------------------------------------------------
# Sheets.
# ---------------------------------------------------------------------------


class Rule:
    """One selector (of a selector list) with its declarations."""

    __slots__ = ("selector", "specificity", "order", "declarations", "pseudo")

    def __init__(self, selector, specificity, order, declarations, pseudo):
        self.selector = selector
        self.specificity = specificity
        self.order = order
        self.declarations = declarations
        self.pseudo = pseudo  # "", "before" or "after"


class StyleSheets:
    """The rules of a document's sheets that apply at its width, indexed."""

    def __init__(self, width_cells: int) -> None:
        self.viewport_px = width_cells * PX_PER_CELL
        self.by_id: dict[str, list[Rule]] = {}
        self.by_class: dict[str, list[Rule]] = {}
        self.by_tag: dict[str, list[Rule]] = {}
        self.universal: list[Rule] = []
        self.count = 0
        self.chars = 0

    def add(self, css: str, base_url: str = "", imported: dict[str, str] | None = None, *, depth: int = 0) -> None:
        """Add one sheet's text (cut at the bounds); its ``@import``s come
        from ``imported`` (sheet URL -> text), in their place."""
        room = min(MAX_SHEET_CHARS, MAX_TOTAL_SHEET_CHARS - self.chars)
        if room <= 0:
            return
        css = css[:room]
        self.chars += len(css)
        rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
        self._rules(rules, 0, base_url, imported or {}, depth)

    def _rules(self, rules, depth: int, base_url: str = "", imported: dict | None = None, import_depth: int = 0) -> None:
        for rule in rules:
            if self.count >= MAX_SELECTORS:
                return
            if rule.type == "qualified-rule":
                self._qualified(rule)
            elif rule.type == "at-rule" and rule.lower_at_keyword == "import" and imported:
                url = import_url(rule.prelude, base_url, self.viewport_px)
                if url is not None and url in imported and import_depth < MAX_IMPORT_DEPTH:
                    self.add(imported[url], url, imported, depth=import_depth + 1)
            elif rule.type == "at-rule" and rule.content is not None and depth < 4:
                keyword = rule.lower_at_keyword
                if keyword == "media" and not media_matches(rule.prelude, self.viewport_px):
                    continue
                if keyword in ("media", "supports", "layer", "document", "-moz-document", "container", "scope"):
                    inner = tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True)
                    self._rules(inner, depth + 1)

    def _qualified(self, rule) -> None:
        declarations = parse_declarations(rule.content)
        if not declarations:
            return
        for tokens in _split_commas(rule.prelude):
            if self.count >= MAX_SELECTORS:
                return
            parsed = parse_selector(tokens)
            if parsed is None:
                continue
            selector, specificity, pseudo = parsed
            self.count += 1
            entry = Rule(selector, specificity, self.count, declarations, pseudo)
            key = selector.compounds[0]
            if key.id is not None:
                self.by_id.setdefault(key.id, []).append(entry)
            elif key.classes:
                self.by_class.setdefault(next(iter(key.classes)), []).append(entry)
            elif key.tag is not None:
                self.by_tag.setdefault(key.tag, []).append(entry)
            else:
                self.universal.append(entry)

    def __bool__(self) -> bool:
        return self.count > 0


def import_url(prelude, base_url: str, viewport_px: int) -> str | None:
    """The absolute URL of an ``@import`` that applies at this width (None:
    not one, or its media query does not match)."""
    tokens = [t for t in prelude if t.type not in ("whitespace", "comment")]
    if not tokens:
        return None
    first = tokens[0]
    if first.type in ("string", "url"):
        href = first.value
    elif first.type == "function" and first.lower_name == "url":
        strings = [t for t in first.arguments if t.type == "string"]
        if not strings:
            return None
        href = strings[0].value
    else:
        return None
    rest = [t for t in prelude[prelude.index(first) + 1:]]
    rest = [t for t in rest if not (t.type == "ident" and t.lower_value == "layer")
            and not (t.type == "function" and t.lower_name in ("layer", "supports"))]
    if any(t.type not in ("whitespace", "comment") for t in rest) and not media_matches(rest, viewport_px):
        return None
    try:
        return urllib.parse.urldefrag(urllib.parse.urljoin(base_url, href.strip()))[0]
    except ValueError:
        return None


def sheet_imports(css: str, base_url: str, viewport_px: int) -> list[str]:
    """The sheets ``css`` imports (its leading ``@import`` rules), as absolute URLs."""
    urls = []
    for rule in tinycss2.parse_stylesheet(css[:MAX_SHEET_CHARS], skip_comments=True, skip_whitespace=True):
        if rule.type == "at-rule" and rule.lower_at_keyword == "import":
            url = import_url(rule.prelude, base_url, viewport_px)
            if url is not None:
                urls.append(url)
        elif rule.type == "at-rule" and rule.lower_at_keyword in ("charset", "layer"):
            continue
        else:
            break  # @import is only valid before every other rule
    return urls


def _split_commas(tokens) -> list[list]:
    groups: list[list] = [[]]
    for token in tokens:
        if token.type == "literal" and token.value == ",":
            groups.append([])
        else:
            groups[-1].append(token)
    return [group for group in groups if group]


# -- media queries -----------------------------------------------------------


def media_matches(prelude, viewport_px: int) -> bool:
    """A media query list (tokens) at this viewport width, on a screen."""
    queries = _split_commas([t for t in prelude if t.type != "comment"])
    if not queries:
        return True
    return any(_query_matches(query, viewport_px) for query in queries)


def media_attribute_matches(text: str, viewport_px: int) -> bool:
    """The ``media`` attribute of ``<style>`` or ``<link>``."""
    if not text.strip():
        return True
    return media_matches(tinycss2.parse_component_value_list(text), viewport_px)


def _query_matches(tokens, viewport_px: int) -> bool:
    words = [t for t in tokens if t.type != "whitespace"]
    negate = False
    if words and words[0].type == "ident" and words[0].lower_value in ("not", "only"):
        negate = words[0].lower_value == "not"
        words = words[1:]
    result = True
    expect_type = True
    for token in words:
        if token.type == "ident":
            value = token.lower_value
            if value == "and":
                continue
            if expect_type:
                result = result and value in ("all", "screen")
            else:
                return False  # "or" and the like: not understood, not applied
        elif token.type == "() block":
            result = result and _feature_matches(token.content, viewport_px)
        else:
            return False
        expect_type = False
    return result != negate


def _feature_matches(tokens, viewport_px: int) -> bool:
    parts = [t for t in tokens if t.type not in ("whitespace", "comment")]
    if len(parts) == 3 and parts[0].type == "ident" and parts[1].type == "literal" and parts[1].value == ":":
        name = parts[0].lower_value
        length = _length_px(parts[2])
        if name in ("width", "min-width", "max-width", "device-width", "min-device-width", "max-device-width"):
            if length is None:
                return False
            if name.startswith("min"):
                return viewport_px >= length
            if name.startswith("max"):
                return viewport_px <= length
            return viewport_px == length
        if name == "prefers-color-scheme":
            return parts[2].type == "ident" and parts[2].lower_value == "light"
        if name == "orientation":
            return parts[2].type == "ident" and parts[2].lower_value == "landscape"
        return False
    # Range syntax: (width >= 600px), (400px < width <= 700px).
    if any(t.type == "ident" and t.lower_value == "width" for t in parts):
        return _range_matches(parts, viewport_px)
    return False


def _range_matches(parts, viewport_px: int) -> bool:
    values: list = []
    for token in parts:
        if token.type == "ident" and token.lower_value == "width":
            values.append(viewport_px)
        elif token.type == "literal":
            if values and isinstance(values[-1], str) and token.value == "=":
                values[-1] += "="
            else:
                values.append(token.value)
        else:
            length = _length_px(token)
            if length is None:
                return False
            values.append(length)
    if len(values) not in (3, 5):
        return False
    for index in range(0, len(values) - 2, 2):
        left, op, right = values[index], values[index + 1], values[index + 2]
        if not isinstance(op, str) or isinstance(left, str) or isinstance(right, str):
            return False
        ok = {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right, "=": left == right}
        if not ok.get(op, False):
            return False
    return True


def _length_px(token) -> float | None:
    if token.type == "dimension":
        unit = token.lower_unit
        if unit == "px":
            return token.value
        if unit in ("em", "rem"):
            return token.value * PX_PER_EM
        if unit == "ch":
            return token.value * PX_PER_CELL
        return None
    if token.type == "number" and token.value == 0:
        return 0
    return None


# -- declarations ------------------------------------------------------------


def parse_declarations(tokens_or_text) -> tuple:
    """The declarations this engine understands, as ``(name, value, important)``."""
    out: list = []
    for declaration in tinycss2.parse_blocks_contents(tokens_or_text, skip_comments=True, skip_whitespace=True):
        if declaration.type != "declaration":
            continue
        if len(out) >= MAX_DECLARATIONS:
            break
        value = _declaration_value(declaration.lower_name, [t for t in declaration.value if t.type != "comment"])
        if value is not None:
            name, parsed = value
            out.append((name, parsed, declaration.important))
    return tuple(out)


_GLOBAL = frozenset({"inherit", "initial", "unset", "revert", "revert-layer"})


def _declaration_value(name: str, tokens):  # noqa: C901 - one branch per property
    words = [t for t in tokens if t.type != "whitespace"]
    if not words:
        return None
    first = words[0]
    keyword = first.lower_value if first.type == "ident" else None
    if keyword in _GLOBAL and len(words) == 1:
        return name, keyword
    if name == "display":
        if keyword is None:
            return None
        if len(words) == 2 and words[1].type == "ident":  # two-value syntax: "block flow", "inline flex"
            outer, inner = keyword, words[1].lower_value
            keyword = {("block", "flex"): "flex", ("inline", "flex"): "inline-flex", ("block", "grid"): "grid",
                       ("inline", "grid"): "inline-grid", ("block", "flow"): "block", ("inline", "flow"): "inline",
                       ("block", "flow-root"): "flow-root", ("inline", "flow-root"): "inline-block",
                       ("block", "table"): "table", ("inline", "table"): "inline-table"}.get((outer, inner))
            if keyword is None:
                return None
        return ("display", keyword) if keyword in DISPLAY_KINDS else None
    if name == "visibility":
        return ("visibility", keyword) if keyword in ("visible", "hidden", "collapse") else None
    if name == "white-space":
        return ("white-space", keyword) if keyword in _WHITE_SPACE else None
    if name == "text-transform":
        return ("text-transform", keyword) if keyword in _TEXT_TRANSFORM else None
    if name in ("list-style-type", "list-style"):
        for token in words:
            if token.type == "ident" and token.lower_value in LIST_STYLE_TYPES:
                return "list-style-type", token.lower_value
            if token.type == "string" and name == "list-style-type":
                return "list-style-type", "string:" + token.value[:16]
        if name == "list-style" and keyword == "none":
            return "list-style-type", "none"
        return None
    if name == "color":
        color = _color(first) if len(words) == 1 else None
        return None if color is None else ("color", color)
    if name in ("background-color", "background"):
        for token in words if name == "background" else words[:1]:
            color = _color(token)
            if color is not None:
                return "background-color", color
        if name == "background" and keyword in ("none", "transparent"):
            return "background-color", NO_COLOR
        return None
    if name == "font-weight":
        if keyword in ("bold", "bolder"):
            return "font-weight", True
        if keyword in ("normal", "lighter"):
            return "font-weight", False
        if first.type == "number":
            return "font-weight", first.value >= 600
        return None
    if name == "font-style":
        if keyword in ("italic", "oblique"):
            return "font-style", True
        if keyword == "normal":
            return "font-style", False
        return None
    if name in ("text-decoration", "text-decoration-line"):
        lines = {t.lower_value for t in words if t.type == "ident"}
        if "none" in lines:
            return "text-decoration", (False, False)
        if lines & {"underline", "line-through"}:
            return "text-decoration", ("underline" in lines, "line-through" in lines)
        return None
    if name == "font":
        lines = {t.lower_value for t in words if t.type == "ident"}
        return ("font-weight", True) if "bold" in lines else None
    if name == "content":
        return "content", _content(words)
    return None


def _color(token) -> int | None:
    """An sRGB colour as 0xRRGGBB; NO_COLOR for transparent; None when not a colour."""
    try:
        color = tinycss2.color3.parse_color(token)
    except (ValueError, TypeError, AttributeError):
        return None
    if color is None or color == "currentColor":
        return None
    if color.alpha < 0.5:
        return NO_COLOR
    red, green, blue = (max(0, min(255, round(c * 255))) for c in (color.red, color.green, color.blue))
    return (red << 16) | (green << 8) | blue


def _content(words) -> tuple | None:
    """``content``: strings and ``attr(name)``; None for none/normal or anything else."""
    parts: list = []
    for token in words:
        if token.type == "string":
            parts.append(token.value)
        elif token.type == "function" and token.lower_name == "attr":
            names = [t for t in token.arguments if t.type == "ident"]
            if names:
                parts.append(("attr", names[0].lower_value))
        elif token.type == "ident" and token.lower_value in ("open-quote", "close-quote"):
            parts.append("\u201c" if token.lower_value == "open-quote" else "\u201d")
        elif token.type == "literal" and token.value == "/":
            break  # alternative text follows
        elif token.type == "function" and token.lower_name in ("counter", "counters", "url", "image-set",
                                                               "linear-gradient"):
            continue
        else:
            return None
    return tuple(parts) if parts else None


# ---------------------------------------------------------------------------
# Selectors.
# ---------------------------------------------------------------------------


class Compound:
    __slots__ = ("tag", "id", "classes", "tests")

    def __init__(self) -> None:
        self.tag: str | None = None
        self.id: str | None = None
        self.classes: frozenset[str] = frozenset()
        self.tests: list = []  # callables node -> bool


class Selector:
    """Compounds right to left, and the combinator left of each but the last."""

    __slots__ = ("compounds", "combinators")

    def __init__(self, compounds: list[Compound], combinators: list[str]) -> None:
        self.compounds = compounds
        self.combinators = combinators


class _Invalid(Exception):
    pass


def parse_selector(tokens, depth: int = 0):
    """``(Selector, specificity, pseudo)``, or None when it is not understood
    (or never matches here: ``:hover``, unknown pseudo-elements...)."""
    if len(tokens) > MAX_SELECTOR_TOKENS:
        return None
    try:
        return _parse_selector(list(tokens), depth)
    except _Invalid:
        return None


def _parse_selector(tokens, depth):  # noqa: C901 - a small recursive-descent parser
    while tokens and tokens[-1].type == "whitespace":
        tokens.pop()
    compounds: list[Compound] = []
    combinators: list[str] = []
    specificity = [0, 0, 0]
    pseudo = ""
    current: Compound | None = None
    pending = None  # combinator seen, waiting for the next compound
    index = 0
    count = len(tokens)
    while index < count:
        token = tokens[index]
        kind = token.type
        if pseudo:
            raise _Invalid  # nothing may follow a pseudo-element
        if kind == "whitespace":
            if current is not None and pending is None:
                pending = " "
            index += 1
            continue
        if kind == "literal" and token.value in (">", "+", "~"):
            if current is None:
                raise _Invalid
            pending = token.value
            index += 1
            continue
        if pending is not None or current is None:
            if pending is not None:
                combinators.append(pending)
                pending = None
            current = Compound()
            compounds.append(current)
            if len(compounds) > MAX_COMPOUNDS:
                raise _Invalid
        if kind == "ident":
            if current.tag is not None or current.id is not None or current.classes or current.tests:
                raise _Invalid
            current.tag = token.lower_value
            specificity[2] += 1
        elif kind == "literal" and token.value == "*":
            pass
        elif kind == "hash":
            if not token.is_identifier:
                raise _Invalid
            if current.id is not None and current.id != token.value:
                current.tests.append(_never)
            current.id = token.value
            specificity[0] += 1
        elif kind == "literal" and token.value == ".":
            index += 1
            if index >= count or tokens[index].type != "ident":
                raise _Invalid
            current.classes = current.classes | {tokens[index].value}
            specificity[1] += 1
        elif kind == "[] block":
            current.tests.append(_attribute_test(token.content))
            specificity[1] += 1
        elif kind == "literal" and token.value == ":":
            index += 1
            if index >= count:
                raise _Invalid
            nxt = tokens[index]
            if nxt.type == "literal" and nxt.value == ":":  # ::pseudo-element
                index += 1
                if index >= count or tokens[index].type != "ident":
                    raise _Invalid
                name = tokens[index].lower_value
                if name not in ("before", "after") or depth:
                    raise _Invalid
                pseudo = name
                specificity[2] += 1
            elif nxt.type == "ident":
                name = nxt.lower_value
                if name in ("before", "after") and not depth:  # the CSS 2 spelling
                    pseudo = name
                    specificity[2] += 1
                else:
                    current.tests.append(_pseudo_class(name))
                    specificity[1] += 1
            elif nxt.type == "function":
                test, added = _functional_pseudo(nxt, depth)
                current.tests.append(test)
                for i in range(3):
                    specificity[i] += added[i]
            else:
                raise _Invalid
        else:
            raise _Invalid
        index += 1
    if current is None or pending is not None:
        raise _Invalid
    compounds.reverse()
    combinators.reverse()
    return Selector(compounds, combinators), tuple(specificity), pseudo


def _never(node) -> bool:
    return False


_OPERATOR_PARTS = frozenset({"~", "|", "^", "$", "*", "=", "~=", "|=", "^=", "$=", "*="})


def _attribute_test(tokens):
    parts = [t for t in tokens if t.type != "whitespace"]
    if not parts or parts[0].type != "ident":
        raise _Invalid
    name = parts[0].lower_value
    if len(parts) == 1:
        return lambda node: name in node.attrs
    operator = ""
    index = 1
    while index < len(parts) and parts[index].type == "literal" and parts[index].value in _OPERATOR_PARTS:
        operator += parts[index].value
        index += 1
    if operator not in ("=", "~=", "|=", "^=", "$=", "*=") or index >= len(parts):
        raise _Invalid
    value_token = parts[index]
    if value_token.type not in ("ident", "string"):
        raise _Invalid
    value = value_token.value
    insensitive = index + 1 < len(parts) and parts[index + 1].type == "ident" and parts[index + 1].lower_value == "i"
    if insensitive:
        value = value.lower()

    def test(node) -> bool:
        actual = node.attr(name)
        if actual is None:
            return False
        if insensitive:
            actual = actual.lower()
        if operator == "=":
            return actual == value
        if operator == "~=":
            return value in actual.split()
        if operator == "|=":
            return actual == value or actual.startswith(value + "-")
        if not value:
            return False
        if operator == "^=":
            return actual.startswith(value)
        if operator == "$=":
            return actual.endswith(value)
        return value in actual

    return test


def _pseudo_class(name: str):
    if name in _DYNAMIC:
        raise _Invalid  # a static page is never hovered, focused or visited
    if name == "first-child":
        return lambda node: node.index == 1
    if name == "last-child":
        return lambda node: node.index == len(node.siblings)
    if name == "only-child":
        return lambda node: len(node.siblings) == 1
    if name == "first-of-type":
        return lambda node: _of_type_index(node) == 1
    if name == "last-of-type":
        return lambda node: _of_type_index(node, last=True) == 1
    if name == "only-of-type":
        return lambda node: _of_type_index(node) == 1 and _of_type_index(node, last=True) == 1
    if name == "root":
        return lambda node: node.parent is None
    if name == "empty":
        return lambda node: node.empty
    if name in ("link", "any-link"):
        return lambda node: node.tag in ("a", "area") and "href" in node.attrs
    if name == "checked":  # as the page is loaded: the user's later input does not restyle it
        return lambda node: (node.tag == "input" and "checked" in node.attrs) or (
            node.tag == "option" and "selected" in node.attrs)
    if name in ("enabled",):
        return lambda node: "disabled" not in node.attrs
    if name in ("disabled",):
        return lambda node: "disabled" in node.attrs
    raise _Invalid


def _of_type_index(node, last: bool = False) -> int:
    siblings = node.siblings
    if last:
        return sum(1 for other in siblings[node.index - 1:] if other.tag == node.tag)
    return sum(1 for other in siblings[: node.index] if other.tag == node.tag)


def _functional_pseudo(token, depth: int):
    name = token.lower_name
    if name in ("nth-child", "nth-last-child", "nth-of-type", "nth-last-of-type"):
        arguments = list(token.arguments)
        parsed = tinycss2.nth.parse_nth(arguments)
        if parsed is None:
            raise _Invalid
        a, b = parsed

        def position(node) -> int:
            if name == "nth-child":
                return node.index
            if name == "nth-last-child":
                return len(node.siblings) - node.index + 1
            return _of_type_index(node, last=name == "nth-last-of-type")

        def test(node) -> bool:
            n = position(node) - b
            if a == 0:
                return n == 0
            return n % a == 0 and n // a >= 0

        return test, (0, 1, 0)
    if name in ("not", "is", "where", "matches", "-webkit-any", "-moz-any"):
        if depth + 1 > MAX_SELECTOR_NESTING:
            raise _Invalid
        selectors = []
        best = (0, 0, 0)
        for group in _split_commas(token.arguments):
            parsed = parse_selector(group, depth + 1)
            if parsed is None:
                if name == "not":
                    raise _Invalid
                continue  # :is() is forgiving
            selectors.append(parsed[0])
            best = max(best, parsed[1])
        if not selectors and name != "not":
            raise _Invalid
        added = (0, 0, 0) if name == "where" else best
        negate = name == "not"

        def test(node) -> bool:
            matched = any(_matches_nested(selector, node) for selector in selectors)
            return matched != negate

        return test, added
    if name == "lang":
        langs = [t.value.lower() for t in token.arguments if t.type in ("ident", "string")]

        def lang_test(node) -> bool:
            lang = node.lang()
            return any(lang == want or lang.startswith(want + "-") for want in langs)

        return lang_test, (0, 1, 0)
    raise _Invalid


def _matches_nested(selector: Selector, node) -> bool:
    """A selector inside :not()/:is(): matched without memo (they are small
    and shallow: MAX_SELECTOR_NESTING, MAX_COMPOUNDS), counted in steps."""
    return _Matcher.current.matches(selector, node, memo=None)


# ---------------------------------------------------------------------------
# Matching.
# ---------------------------------------------------------------------------


class _Node:
    """An element as the matcher sees it (a light copy of Lexbor's)."""

    __slots__ = ("tag", "id", "classes", "attrs", "parent", "index", "siblings", "children", "depth", "key",
                 "source")

    def __init__(self, tag, attrs, parent, siblings, key, depth, source):
        self.tag = tag
        self.attrs = attrs  # values are None for attributes without one
        self.id = attrs.get("id") if attrs else None
        cls = attrs.get("class") if attrs else None
        self.classes = frozenset(cls.split()) if cls else frozenset()
        self.parent = parent
        self.siblings = siblings
        siblings.append(self)
        self.index = len(siblings)
        self.children: list = []
        self.depth = depth
        self.key = key
        self.source = source  # Lexbor's node

    @property
    def empty(self) -> bool:
        child = self.source.child
        while child is not None:
            if child.tag != "-text" or child.text_content:
                if child.tag not in ("-comment", "#comment"):
                    return False
            child = child.next
        return True

    def attr(self, name: str) -> str | None:
        value = self.attrs.get(name, _MISSING)
        if value is _MISSING:
            return None
        return value or ""

    def lang(self) -> str:
        node = self
        while node is not None:
            lang = node.attrs.get("lang")
            if lang is not None:
                return lang.lower()
            node = node.parent
        return ""


_MISSING = object()


class _Budget(Exception):
    pass


class _Matcher:
    current: "_Matcher"

    def __init__(self) -> None:
        self.steps = 0

    def compound(self, compound: Compound, node) -> bool:
        self.steps += 1
        if self.steps > MAX_MATCH_STEPS:
            raise _Budget
        if compound.tag is not None and compound.tag != node.tag:
            return False
        if compound.id is not None and compound.id != node.id:
            return False
        if compound.classes and not compound.classes <= node.classes:
            return False
        for test in compound.tests:
            if not test(node):
                return False
        return True

    def matches(self, selector: Selector, node, memo: dict | None) -> bool:
        return self._from(selector, 0, node, memo)

    def _from(self, selector: Selector, part: int, node, memo) -> bool:
        if not self.compound(selector.compounds[part], node):
            return False
        if part + 1 == len(selector.compounds):
            return True
        combinator = selector.combinators[part]
        nxt = part + 1
        if combinator == ">":
            return node.parent is not None and self._cached(selector, nxt, node.parent, memo)
        if combinator == "+":
            return node.index > 1 and self._cached(selector, nxt, node.siblings[node.index - 2], memo)
        if combinator == " ":
            return self._any(selector, nxt, node.parent, memo, up=True)
        return self._any(selector, nxt, node.siblings[node.index - 2] if node.index > 1 else None, memo, up=False)

    def _cached(self, selector, part, node, memo) -> bool:
        if memo is None:
            return self._from(selector, part, node, memo)
        key = (part, node.key)
        found = memo.get(key)
        if found is None:
            found = memo[key] = self._from(selector, part, node, memo)
        return found

    def _any(self, selector, part, node, memo, *, up: bool) -> bool:
        """Whether ``node`` or one of its ancestors (or earlier siblings)
        matches from ``part``: remembered for every node on the way."""
        path = []
        found = False
        while node is not None:
            if memo is not None:
                key = (-part if up else -part - 1000, node.key)
                known = memo.get(key)
                if known is not None:
                    found = known
                    break
                path.append(key)
            if self._cached(selector, part, node, memo):
                found = True
                break
            node = node.parent if up else (node.siblings[node.index - 2] if node.index > 1 else None)
        if memo is not None:
            for key in path:
                memo[key] = found
        return found


def compute_styles(root, sheets: StyleSheets, inline_styles: bool, max_depth: int) -> dict[int, Computed]:
    """Each styled element's :class:`Computed`, by Lexbor ``mem_id``.

    ``root`` is Lexbor's root element node; ``inline_styles``: whether any
    element has a ``style`` attribute worth reading."""
    nodes: list[_Node] = []
    lexbor: list = []
    _copy_tree(root, nodes, lexbor, max_depth)
    try:
        return _styles_of(nodes, lexbor, sheets, inline_styles)
    finally:
        for node in nodes:  # parent and sibling links are cycles: undone here, freed at once
            node.parent = node.siblings = node.children = node.source = None


def _styles_of(nodes: list["_Node"], lexbor: list, sheets: StyleSheets, inline_styles: bool) -> dict[int, Computed]:
    sheets = _present_only(sheets, nodes)
    if not (sheets.by_id or sheets.by_class or sheets.by_tag or sheets.universal) and not inline_styles:
        return {}
    matched: dict[int, list] = {}
    matcher = _Matcher()
    _Matcher.current = matcher
    memos: dict[int, dict] = {}
    try:
        if sheets:
            for index, node in enumerate(nodes):
                candidates: list[Rule] = []
                if node.id is not None:
                    candidates += sheets.by_id.get(node.id, ())
                for name in node.classes:
                    candidates += sheets.by_class.get(name, ())
                candidates += sheets.by_tag.get(node.tag, ())
                candidates += sheets.universal
                for rule in candidates:
                    memo = memos.get(id(rule.selector))
                    if memo is None:
                        memo = memos[id(rule.selector)] = {}
                    if matcher.matches(rule.selector, node, memo):
                        matched.setdefault(index, []).append(rule)
    except _Budget:
        pass
    finally:
        memos.clear()
    inline_cache: dict[str, tuple] = {}
    computed_by_id: dict[int, Computed] = {}
    computed_of: dict[int, Computed] = {}  # by node index
    plain = Computed()
    for index, node in enumerate(nodes):
        parent_style = computed_of.get(node.parent.key, plain) if node.parent is not None else plain
        rules = matched.get(index)
        inline = node.attrs.get("style") if inline_styles else None
        if rules is None and not inline:
            style = parent_style if parent_style is plain or _only_inherited(parent_style) else parent_style.inherit()
            if style is not parent_style and style.is_plain():
                style = plain
        else:
            style = parent_style.inherit()
            element_rules = []
            before_rules = []
            after_rules = []
            for rule in rules or ():
                (before_rules if rule.pseudo == "before" else after_rules if rule.pseudo == "after"
                 else element_rules).append(rule)
            inline_declarations = ()
            if inline:
                inline_declarations = inline_cache.get(inline)
                if inline_declarations is None:
                    inline_declarations = inline_cache[inline] = parse_declarations(inline[:65536])
            _cascade(style, parent_style, element_rules, inline_declarations)
            if before_rules:
                style.before = _generated(before_rules, node)
            if after_rules:
                style.after = _generated(after_rules, node)
        computed_of[node.key] = style
        if style is not plain:
            computed_by_id[lexbor[index].mem_id] = style
    return computed_by_id


def _present_only(sheets: StyleSheets, nodes: list[_Node]) -> StyleSheets:
    """The rules that can match in this document: every id, class and tag
    they require (outside ``:not()``) occurs in it.  A site's sheet styles
    many pages; most of its rules name classes a given page does not have."""
    tags = {node.tag for node in nodes}
    ids = {node.id for node in nodes if node.id is not None}
    classes: set[str] = set()
    for node in nodes:
        if node.classes:
            classes |= node.classes
    kept = StyleSheets(0)
    kept.count = sheets.count

    def possible(rule: Rule) -> bool:
        for compound in rule.selector.compounds:
            if compound.tag is not None and compound.tag not in tags:
                return False
            if compound.id is not None and compound.id not in ids:
                return False
            if compound.classes and not compound.classes <= classes:
                return False
        return True

    for source, target in ((sheets.by_id, kept.by_id), (sheets.by_class, kept.by_class),
                           (sheets.by_tag, kept.by_tag)):
        for key, rules in source.items():
            rules = [rule for rule in rules if possible(rule)]
            if rules:
                target[key] = rules
    kept.universal = [rule for rule in sheets.universal if possible(rule)]
    return kept


def _only_inherited(style: Computed) -> bool:
    return style.display is None and style.before is None and style.after is None and not style.collapse


def _copy_tree(root, nodes: list, lexbor: list, max_depth: int) -> None:
    """A :class:`_Node` per element, in document order, from Lexbor's own
    (C) traversal; elements deeper than ``max_depth`` are left out (the
    builder flattens them to text)."""
    by_id: dict[int, _Node] = {}
    top: list = []
    for node in root.traverse(include_text=False):
        tag = node.tag
        if not tag or tag[0] in "-#!":
            continue
        key = node.mem_id
        if not nodes:
            parent, siblings, depth = None, top, 0
        else:
            parent = by_id.get(node.parent.mem_id)
            if parent is None or parent.depth >= max_depth:
                continue
            siblings, depth = parent.children, parent.depth + 1
        copy = _Node(tag, node.attributes, parent, siblings, len(nodes), depth, node)
        by_id[key] = copy
        nodes.append(copy)
        lexbor.append(node)


def _cascade(style: Computed, parent: Computed, rules: list[Rule], inline: tuple) -> None:
    rules.sort(key=lambda rule: (rule.specificity, rule.order))
    normal: list = []
    important: list = []
    for rule in rules:
        for declaration in rule.declarations:
            (important if declaration[2] else normal).append(declaration)
    for declaration in inline:
        (important if declaration[2] else normal).append(declaration)
    for name, value, _ in normal + important:
        _apply(style, parent, name, value)


_INHERITED_FIELDS = {
    "visibility": "hidden", "white-space": "white_space", "text-transform": "transform",
    "list-style-type": "list_style", "color": "color", "font-weight": "bold", "font-style": "italic",
}


def _apply(style: Computed, parent: Computed, name: str, value) -> None:  # noqa: C901
    if value in _GLOBAL:
        field = _INHERITED_FIELDS.get(name)
        if name == "text-decoration":
            if value == "inherit":
                style.underline, style.strike = parent.underline, parent.strike
            return
        if field is not None:
            inherit = value in ("inherit", "unset", "revert", "revert-layer")
            setattr(style, field, getattr(parent, field) if inherit else getattr(Computed(), field))
        elif name == "display":
            style.display = None
        elif name == "background-color":
            style.background = parent.background if value == "inherit" else NO_COLOR
        return
    if name == "display":
        style.display = value
    elif name == "visibility":
        style.hidden = value != "visible"
        style.collapse = value == "collapse"
    elif name == "white-space":
        style.white_space = value
    elif name == "text-transform":
        style.transform = value
    elif name == "list-style-type":
        style.list_style = value
    elif name == "color":
        style.color = value
    elif name == "background-color":
        style.background = value
    elif name == "font-weight":
        style.bold = value
    elif name == "font-style":
        style.italic = value
    elif name == "text-decoration":
        style.underline, style.strike = value
    # "content" is read for pseudo-elements only (_generated)


def _generated(rules: list[Rule], node: _Node) -> str | None:
    rules.sort(key=lambda rule: (rule.specificity, rule.order))
    content = None
    display_none = False
    for important in (False, True):
        for rule in rules:
            for name, value, flag in rule.declarations:
                if flag != important:
                    continue
                if name == "content":
                    content = value
                elif name == "display":
                    display_none = value == "none"
    if content is None or content in _GLOBAL or display_none:
        return None
    text = "".join(part if isinstance(part, str) else (node.attr(part[1]) or "") for part in content)
    return text[:MAX_CONTENT_CHARS] or None


def transform_text(text: str, transform: str) -> str:
    """``text-transform`` applied to a text run."""
    if transform == "uppercase":
        return text.upper()
    if transform == "lowercase":
        return text.lower()
    if transform == "capitalize":
        out = []
        previous = " "
        for char in text:
            out.append(char.upper() if not previous.isalnum() and previous not in "'\u2019" else char)
            previous = char
        return "".join(out)
    return text


_WARM_SHEET = """
@media screen and (max-width: 600px) { .narrow { display: none } }
@media print { p { display: none } }
@media (min-width: 40em) and (orientation: landscape) { .wide { color: #123 } }
@media (400px <= width <= 900px) { .mid { color: rgb(1 2 3 / 50%) } }
@supports (display: grid) { .g { display: grid } }
body > div.a#b[title], ul li + li ~ li, p:not(.x):is(.y, .z):where(p) { color: hsl(120, 50%, 50%) !important }
a[href^="http"]::after, a:before { content: " (" attr(href) ")" }
li:nth-child(2n+1):first-child:last-child:only-child:nth-last-of-type(odd) { list-style: square inside }
h1:first-of-type:last-of-type:only-of-type:root:empty:link:lang(en) { text-transform: capitalize }
.t { display: table } .r { display: table-row } .c { display: table-cell } .n { display: inline flex }
.v { visibility: collapse; white-space: pre-line; font: bold 1em serif; font-style: italic;
     text-decoration: underline line-through; background: url(x.png) #fff; font-weight: 700 }
.i { color: inherit; display: initial; visibility: unset; text-decoration: none }
"""


def preload() -> None:
    """Warm every path the zygote must have imported before lockdown."""
    sheets = StyleSheets(80)
    sheets.add('@import url("a.css") screen; @import "b.css" layer(x) (min-width: 1px);' + _WARM_SHEET,
               "https://example.test/s.css", {"https://example.test/a.css": "p { color: red }"})
    sheet_imports('@charset "utf-8"; @import url(x.css) print; @import "y.css"; p {}', "file:///a/s.css", 640)
    media_attribute_matches("screen and (min-width: 10px)", 640)
    parse_declarations("color: red; display: none")
    for transform in ("uppercase", "lowercase", "capitalize"):
        transform_text("héllo wörld", transform)
