"""The interactive API docs at `/docs`, served entirely by the hub.

Swagger UI's bundle, stylesheet and icon are vendored under `web/static/swagger/` (the
`swagger-ui-dist` npm package, see its README there), so `/docs` renders on a host with no
internet. FastAPI's page starts Swagger UI with one inline script; rather than allowing
inline scripts, the page's CSP names that script by its SHA-256 hash, computed from the
page as rendered. ReDoc (which loads from a CDN) is not served.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

SWAGGER_STATIC = "/static/swagger"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def script_hashes(html: str) -> list[str]:
    """CSP source expressions for every inline script of `html`."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


def docs_csp(html: str) -> str:
    return (
        f"default-src 'self'; script-src 'self' {' '.join(script_hashes(html))}; "
        "style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; "
        "base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
    )


def install_api_docs(app: FastAPI) -> None:
    """`/docs` for an app created with `docs_url=None, redoc_url=None`."""
    rendered: list[tuple[str, str]] = []  # (page, its CSP), made at the first request

    def render() -> tuple[str, str]:
        if not rendered:
            html = get_swagger_ui_html(
                openapi_url=app.openapi_url or "/openapi.json",
                title=f"{app.title} API",
                swagger_js_url=f"{SWAGGER_STATIC}/swagger-ui-bundle.js",
                swagger_css_url=f"{SWAGGER_STATIC}/swagger-ui.css",
                swagger_favicon_url=f"{SWAGGER_STATIC}/favicon-32x32.png",
                oauth2_redirect_url=None,
                # No badge from validator.swagger.io: the page reaches nothing but the hub.
                swagger_ui_parameters={"validatorUrl": None},
            ).body
            page = bytes(html).decode()
            rendered.append((page, docs_csp(page)))
        return rendered[0]

    @app.get("/docs", include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        page, csp = render()
        return HTMLResponse(page, headers={"content-security-policy": csp})
