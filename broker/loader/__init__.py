"""URL loading: the broker fetches every document; renderers never touch the network.

:func:`normalize_url` turns what a person typed into an absolute URL, and
:class:`Loader` fetches it (``http:``, ``https:``, ``file:``, ``data:``,
``about:``) after the navigation policy (``broker/navigation_policy.py``) has
said that whoever asked may go there.  The loader never parses page content:
it reports the charset from the ``Content-Type`` header and leaves
``<meta charset>`` and BOM sniffing to the renderer.  The one piece of HTML it
writes (never reads) is the listing of a local directory.

This module is the whole public surface; the work is done in private modules,
one job each: ``_urls`` (normalisation), ``_loader`` (dispatch by scheme),
``_http`` (http and https through the network process, ``network/``, which
speaks HTTP and decodes content codings under one budget; the broker only
decides), ``_cookies`` (the profile's cookie store), ``_file``, ``_data``,
``_content`` (MIME type and sniffing), ``_models`` (``Response``) and
``_errors``.

Every failure is a :class:`LoadError` whose ``str()`` is one line for a
person, and whose ``short`` is a stable code for the CLI and JSON output::

    LoadError                 load-error
     ├── InvalidURL            invalid-url          garbage address, unknown about: page
     ├── UnsupportedScheme     unsupported-scheme   ftp:, mailto:, javascript: ...
     ├── NavigationRefused     navigation-refused   a page asked for file:, about: ...
     ├── NetworkError          network-error        connection dropped or reset, TLS failure ...
     │    ├── HostUnreachable  host-unreachable     DNS failure, connection refused
     │    └── InvalidResponse  invalid-response     not HTTP, broken chunks, short body, bad redirect
     ├── LoadTimeout           timeout              a step or the whole load took too long
     ├── TooLarge              too-large            body (decoded, all layers) over ``max_bytes``
     ├── UndecodableContent    undecodable-content  unknown or corrupt Content-Encoding
     ├── TooManyRedirects      too-many-redirects
     ├── FileNotReadable       file-not-readable    missing, permission denied
     └── BadDataURL            bad-data-url

No ``OSError`` leaves the loader raw, and no text a
server chose (a reason phrase, a header, an encoding, a refused redirect
target) is quoted in a message beyond the percent-encoded address of a page it
redirected to: a hostile server must not be able to write the user's error line.
"""

from __future__ import annotations

from broker.loader._content import classify
from broker.loader._cookies import CookieStore
from broker.loader._http import failure_error
from broker.loader._errors import (
    BadDataURL,
    FileNotReadable,
    HostUnreachable,
    InvalidResponse,
    InvalidURL,
    LoadError,
    LoadTimeout,
    NavigationRefused,
    NetworkError,
    TooLarge,
    TooManyRedirects,
    UndecodableContent,
    UnsupportedScheme,
)
from broker.loader._loader import Loader
from broker.loader._models import Response
from broker.loader._urls import normalize_url

__all__ = [
    "BadDataURL",
    "CookieStore",
    "FileNotReadable",
    "HostUnreachable",
    "InvalidResponse",
    "InvalidURL",
    "LoadError",
    "LoadTimeout",
    "Loader",
    "NavigationRefused",
    "NetworkError",
    "Response",
    "TooLarge",
    "TooManyRedirects",
    "UndecodableContent",
    "UnsupportedScheme",
    "classify",
    "failure_error",
    "normalize_url",
]
