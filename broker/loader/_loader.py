"""The loader: one entry point, ``Loader.load``, that asks the navigation
policy and hands the URL to the module for its scheme."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

from broker.loader._content import classify
from broker.loader._cookies import CookieStore
from broker.loader._data import load_data
from broker.loader._errors import InvalidURL, NavigationRefused, UnsupportedScheme
from broker.loader._file import load_file
from broker.loader._http import HttpFetcher
from broker.loader._models import Response
from broker.loader._urls import normalize_url
from broker.navigation_policy import navigation_refusal
from broker.network_host import NetworkHost
from broker.urls import about_name, scheme_of, shown
from renderer.protocol import MAX_DOCUMENT_BYTES


class Loader:
    """Fetch documents for the broker, after asking the navigation policy.

    Each scheme has its own module: ``_http`` (every exchange through the
    network process, redirects checked hop by hop, cookies from the profile),
    ``_file``, ``_data``; about: pages come from ``about_pages``.
    """

    def __init__(
        self,
        *,
        timeout: float = 15.0,
        max_bytes: int = MAX_DOCUMENT_BYTES,
        max_redirects: int = 10,
        about_pages: Callable[[str], str | None] | None = None,
        deadline: float | None = None,
        network: NetworkHost | None = None,
        cookies: CookieStore | None = None,
    ) -> None:
        """``timeout`` bounds each network step (connect, each read);
        ``deadline`` (default twice ``timeout``) bounds a whole http load.
        ``network`` carries every http(s) exchange (default: a sandboxed
        network process of this loader's own, started by the first one);
        ``cookies`` is the profile's cookie store (default: in memory)."""
        self.timeout = timeout
        self.deadline = deadline if deadline is not None else 2 * timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.about_pages = about_pages
        self._owns_network = network is None
        self.network = network if network is not None else NetworkHost()
        self.cookies = cookies if cookies is not None else CookieStore(None)
        self._http = HttpFetcher(timeout=timeout, deadline=self.deadline, max_bytes=max_bytes,
                                 max_redirects=max_redirects, network=self.network, cookies=self.cookies)

    async def aclose(self) -> None:
        """Stop the network process, if this loader started its own."""
        if self._owns_network:
            await self.network.stop()

    async def __aenter__(self) -> Loader:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def load(
        self,
        url: str,
        *,
        initiator: str | None = None,
        method: str = "GET",
        form_body: str = "",
    ) -> Response:
        """Fetch ``url``.

        ``initiator`` is None when the user typed the URL (or passed it on the
        command line), else the URL of the page that asked (a followed link, a
        submitted form).  ``form_body`` is sent, url-encoded, with a POST.
        """
        method = method.upper()
        if method not in ("GET", "POST"):
            raise ValueError(f"unsupported method {method!r}")
        started = time.perf_counter()
        target = normalize_url(url)
        scheme = scheme_of(target)
        if (refusal := navigation_refusal(target, initiator)) is not None:
            raise NavigationRefused(refusal, url=target)

        if scheme in ("http", "https"):
            final_url, status, content_type, charset, body = await self._http.fetch(
                target, initiator=initiator, method=method, form_body=form_body
            )
        elif scheme == "file":
            final_url, content_type, charset, body = await asyncio.to_thread(load_file, target, self.max_bytes)
            status = 200
        elif scheme == "data":
            final_url, status = target, 200
            content_type, charset, body = load_data(target, self.max_bytes)
        elif scheme == "about":
            final_url, status, charset = target, 200, "utf-8"
            content_type, body = "text/html", self._load_about(target)
        else:
            raise UnsupportedScheme(
                f"cannot open {shown(target)} ({scheme}: URLs are not supported): "
                "open an http, https, file, data or about URL instead",
                url=target,
            )
        content_type, kind = classify(content_type, body)
        return Response(
            url=target,
            final_url=final_url,
            status=status,
            content_type=content_type,
            charset=charset,
            body=body,
            kind=kind,
            fetch_ms=(time.perf_counter() - started) * 1000,
        )

    def _load_about(self, url: str) -> bytes:
        name = about_name(url)
        page = self.about_pages(name) if self.about_pages is not None else None
        if page is None and name == "about:blank":
            page = ""
        if page is None:
            raise InvalidURL(f"there is no page {shown(name)} in this browser: try about:welcome", url=url)
        return page.encode("utf-8")
