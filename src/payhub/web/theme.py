"""The merchant's brand colour on the customer pages, readable whatever it is.

The colour (validated `#RRGGBB` when the merchant set it) paints the header and the buttons;
their text is black or white, whichever contrasts more with it under WCAG 2's relative
luminance. For any colour one of the two reaches at least 4.58:1, above the 4.5:1 that
WCAG AA asks of normal text, so a light brand colour gets dark text and a dark one white.
The pages take the colours from a tiny stylesheet (`/theme/{rrggbb}.css`), since the CSP
allows no inline style.
"""

from __future__ import annotations

import re

DEFAULT_BRAND = "1f4fd1"
_HEX = re.compile(r"[0-9a-fA-F]{6}")
DARK_TEXT = "000000"
LIGHT_TEXT = "ffffff"


def brand_hex(color: str | None) -> str:
    """`#RRGGBB` (or None) -> six lower-case hex digits, the default when unset or bad."""
    value = (color or "").removeprefix("#")
    return value.lower() if _HEX.fullmatch(value) else DEFAULT_BRAND


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(hex6: str) -> float:
    r, g, b = (int(hex6[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two `rrggbb` colours, 1.0 to 21.0."""
    la, lb = relative_luminance(a), relative_luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def text_on(hex6: str) -> str:
    """Black-ish or white text on this background: whichever contrasts more."""
    dark, light = contrast_ratio(hex6, DARK_TEXT), contrast_ratio(hex6, LIGHT_TEXT)
    return DARK_TEXT if dark >= light else LIGHT_TEXT


def theme_css(hex6: str) -> str:
    """The stylesheet that sets the page's brand colours as CSS custom properties."""
    brand = brand_hex(hex6)
    return f":root{{--brand:#{brand};--brand-text:#{text_on(brand)}}}\n"
