"""The page shell every sandbox page shares: it says plainly that this is payhub's sandbox."""

from __future__ import annotations

import html

SANDBOX_BANNER = "payhub local sandbox — this is not the real {gateway}; no money moves."


def page(gateway: str, title: str, body_html: str) -> str:
    """The common page shell of every simulator page (body_html must already be escaped)."""
    banner = html.escape(SANDBOX_BANNER.format(gateway=gateway))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · {html.escape(gateway)} sandbox</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;
color:#1c2430}}
.banner{{background:#fff3cd;border:1px solid #e0c36a;padding:.6rem .8rem;border-radius:.4rem;
font-size:.9rem}}
.card{{border:1px solid #d5dbe3;border-radius:.6rem;padding:1rem 1.2rem;margin-top:1rem}}
.amount{{font-size:1.8rem;font-weight:700}}
button{{font-size:1rem;padding:.6rem 1rem;margin:.3rem .3rem 0 0;border-radius:.4rem;
border:1px solid #8894a4;cursor:pointer}}
button.primary{{background:#1f6feb;color:#fff;border-color:#1f6feb}}
dl{{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}} dt{{color:#5b6675}}
code{{word-break:break-all}}
</style></head>
<body><div class="banner" role="note">{banner}</div>
<h1>{html.escape(title)}</h1>
{body_html}
</body></html>"""
