"""Name -> gateway. The only module that lists the gateways payhub knows.

Adding a gateway is one new package, one line here, and its tests.
"""

from __future__ import annotations

from functools import cache

from payhub.gateways.base import GatewayEntry


@cache
def registry() -> dict[str, GatewayEntry]:
    # Imported on first use, so importing the registry stays cheap.
    from payhub.gateways import momo, payos, toyyibpay, vnpay

    return {
        "payos": payos.ENTRY,
        "vnpay": vnpay.ENTRY,
        "momo": momo.ENTRY,
        "toyyibpay": toyyibpay.ENTRY,
    }


def gateway_names() -> list[str]:
    return list(registry())


def display_list() -> str:
    """The gateways' display names as prose: "A, B and C"."""
    names = [gw.adapter.display_name for gw in registry().values()]
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def entry(name: str) -> GatewayEntry:
    try:
        return registry()[name]
    except KeyError:
        raise KeyError(f"unknown gateway {name!r}; known: {', '.join(registry())}") from None
