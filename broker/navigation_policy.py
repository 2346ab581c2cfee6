"""Which URL may be opened, and by whom: the broker's navigation policy.

Like Chromium's ``ChildProcessSecurityPolicy``, this is kept apart from the
code that fetches: the loader asks it before every load and every redirect
hop, and it answers from the URLs the broker itself holds (the target it
normalised, the initiator it committed), never from what a renderer claims.

Each check returns None when the navigation is allowed, or the one line to
show the user when it is refused (the caller raises ``NavigationRefused``
with it).
"""

from __future__ import annotations

from broker.urls import about_name, scheme_of, shown

#: about: URLs that act on the browser (crash or hang a tab...).  Only the
#: person at the keyboard may open them, never a page, not even about:welcome.
DEBUG_PAGES = frozenset(
    {"about:crash", "about:hang", "about:kill", "about:memory-exhaust"}
)

#: The only schemes a server may redirect to.
REDIRECT_SCHEMES = frozenset({"http", "https"})


def navigation_refusal(target: str, initiator: str | None) -> str | None:
    """Why a page at ``initiator`` may not open ``target`` (both normalised), or None.

    The user (``initiator`` None: a typed URL, the command line) may open anything.
    """
    if initiator is None:
        return None
    page = shown(initiator)
    scheme, from_scheme = scheme_of(target), scheme_of(initiator)
    if scheme == "file" and from_scheme != "file":
        return (
            f"the page at {page} tried to open a local file ({shown(target)}): "
            "only a URL you type can open local files"
        )
    if scheme == "about":
        name = about_name(target)
        if name == "about:blank":
            return None
        if name in DEBUG_PAGES or from_scheme != "about":
            return (
                f"the page at {page} tried to open {shown(target)}: "
                "about: pages open only when you type them"
            )
    return None


def redirect_refusal(current: str, target: str) -> str | None:
    """Why the server at ``current`` may not redirect to ``target`` (normalised), or None.

    The target is never quoted back: only its scheme, which normalisation has
    reduced to URL-scheme characters.
    """
    scheme = scheme_of(target)
    if scheme in REDIRECT_SCHEMES:
        return None
    article = "an" if scheme[:1] in ("a", "e", "i", "o", "u") else "a"
    return (
        f"the server at {shown(current)} redirected to {article} {scheme}: address, "
        "which a web page may not open: the redirect was refused"
    )
