"""QR codes the hub draws itself: segno renders the gateway's QR content (a VietQR transfer
string, a wallet's QR URL) as an inline SVG, so the page loads no image from anywhere."""

from __future__ import annotations

import io

import segno
from markupsafe import Markup

MAX_CONTENT = 2000  # longer than any gateway's QR content; a larger QR would not scan well


def qr_svg(content: str, *, title: str) -> Markup | None:
    """The QR of `content` as an `<svg>` element with an accessible title; `None` when the
    content is empty or too long to encode sensibly."""
    if not content or len(content) > MAX_CONTENT:
        return None
    code = segno.make(content, error="m", micro=False)
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        xmldecl=False,
        svgns=True,
        scale=6,
        border=4,
        dark="#000",
        light="#fff",
        title=title,
        svgclass="qr",
        lineclass=None,
        omitsize=True,  # a viewBox instead: the page's CSS sizes it
    )
    return Markup(out.getvalue().decode("utf-8"))  # noqa: S704 - segno's own SVG, escaped title
