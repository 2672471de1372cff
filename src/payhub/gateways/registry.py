"""Name -> gateway. The only module that lists the gateways payhub knows.

Adding a gateway is one new package, one line here, and its tests.
"""

from __future__ import annotations

from payhub.gateways.base import GatewayEntry


def _entries() -> dict[str, GatewayEntry]:
    entries: dict[str, GatewayEntry] = {}
    from payhub.gateways import payos

    entries["payos"] = payos.ENTRY
    for optional in ("vnpay", "momo", "toyyibpay"):
        try:
            module = __import__(f"payhub.gateways.{optional}", fromlist=["ENTRY"])
        except ImportError:  # pragma: no cover - while a gateway package is being built
            continue
        entries[optional] = module.ENTRY
    return entries


_REGISTRY: dict[str, GatewayEntry] | None = None


def registry() -> dict[str, GatewayEntry]:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _entries()
    return _REGISTRY


def gateway_names() -> list[str]:
    return list(registry())


def entry(name: str) -> GatewayEntry:
    try:
        return registry()[name]
    except KeyError:
        raise KeyError(f"unknown gateway {name!r}; known: {', '.join(registry())}") from None
