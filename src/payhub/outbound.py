"""The outbound URL policy: which URLs the hub itself may fetch, and how it fetches them.

Every URL payhub requests on its own initiative (merchants' webhook endpoints, the customer
JWKS URL, anything an operator or a merchant configures) goes through `check_url` and is
fetched with `OutboundClient`, never with a bare httpx client:

1. **Strict parsing.** Scheme `http` or `https` (only `https` when `production`), a host,
   no user info, a port of 1-65535 written in digits, no whitespace, control characters,
   backslashes or percent signs in the authority. A host whose last label is a number is an
   IPv4 address in any of the forms `inet_aton` accepts (`2130706433`, `0x7f000001`,
   `017700000001`, `127.1`, `0177.0.0.1`, `0x7f.1`): it is normalised by `inet_aton` and
   checked like any other address, or refused when it is not a valid one.
2. **Resolution.** A name is resolved (`getaddrinfo`); every address it resolves to is
   checked, and one refused address refuses the URL.
3. **Refused addresses**: unspecified, loopback, private (RFC 1918 and the rest of Python's
   `is_private` list), link-local (cloud metadata at 169.254.169.254 among them), shared
   CGNAT space 100.64/10, multicast, reserved, anything else not globally routable;
   unique-local and site-local IPv6; IPv4-mapped IPv6 is checked as the IPv4 address it
   carries, NAT64 (64:ff9b::/96) by the IPv4 address it embeds; 6to4, Teredo and
   IPv4-compatible IPv6 are refused outright. Refused names: the cloud metadata hosts.
4. **The connection goes to the checked address.** The request URL carries the address,
   the `Host` header keeps the name, and for https the TLS server name (SNI) and the
   certificate check use the name (httpcore's `sni_hostname` extension is the
   `server_hostname` of its TLS wrap, and the SSL context checks the certificate against
   it). No second resolution happens, so a name that answers differently the second time
   (DNS rebinding) reaches nothing new. Redirects are never followed, proxies from the
   environment are ignored, replies are read up to a cap.

The allow-list (`PAYHUB_OUTBOUND_ALLOW`: CIDRs and/or host names) lets the demo and tests
reach loopback receivers, or an operator a trusted internal host: an address inside an
allowed network passes the address rules; an allowed host name passes every name and
address rule (it may resolve to anything). https in production is required regardless.

Refusals raise `OutboundRefused` (a 422 problem at registration) with `rule`, the short
name of the rule, and a detail that never lists the addresses a name resolved to.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

import anyio
import httpx
import idna

from payhub.errors import OutboundRefused
from payhub.settings import Settings

__all__ = [
    "METADATA_HOSTS",
    "CheckedUrl",
    "OutboundClient",
    "OutboundPolicy",
    "OutboundReply",
    "OutboundTarget",
    "address_rule",
    "check_url",
    "check_url_blocking",
    "parse_url",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud and platform metadata services reached by name (their addresses are link-local
# and refused anyway; the names are refused before any resolution).
METADATA_HOSTS: Final = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.ec2.internal",
        "metadata.azure.internal",
        "metadata.azure.com",
        "metadata.packet.net",
        "metadata.platformequinix.com",
        "metadata.tencentyun.com",
        "100-100-100-200.metadata",
    }
)

_CGNAT: Final = ipaddress.IPv4Network("100.64.0.0/10")
_THIS_NETWORK: Final = ipaddress.IPv4Network("0.0.0.0/8")
_UNIQUE_LOCAL: Final = ipaddress.IPv6Network("fc00::/7")
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL: Final = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")

_LABEL: Final = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC_LABEL: Final = re.compile(r"[0-9]+|0x[0-9a-f]*")
_IPV4_CHARS: Final = re.compile(r"[0-9a-fx.]+")
_FORBIDDEN_CHARS: Final = re.compile(r"[\x00-\x20\x7f\\]")

_REASONS: Final[Mapping[str, str]] = {
    "scheme": "only http and https URLs may be fetched",
    "https-required": "https is required in production",
    "userinfo": "user names and passwords in URLs are not allowed",
    "host": "the URL has no valid host",
    "port": "the port is not valid",
    "ipv4": "the host is not a valid IPv4 address",
    "metadata-host": "the host is a cloud metadata service",
    "unresolvable": "the host name does not resolve",
    "unspecified": "an unspecified address (0.0.0.0, ::)",
    "loopback": "a loopback address",
    "private": "a private-network address",
    "link-local": "a link-local address (cloud metadata among them)",
    "shared": "shared address space (CGNAT, 100.64.0.0/10)",
    "multicast": "a multicast address",
    "reserved": "a reserved address",
    "unique-local": "a unique-local IPv6 address (fc00::/7)",
    "site-local": "a site-local IPv6 address",
    "ipv4-compatible": "a deprecated IPv4-compatible IPv6 address",
    "6to4": "a 6to4 address (it tunnels to an embedded IPv4 address)",
    "teredo": "a Teredo address (it tunnels to an embedded IPv4 address)",
    "nat64": "a NAT64 address of a refused IPv4 address",
    "not-global": "an address that is not globally routable",
}


def _refuse(rule: str, *, resolved: bool = False) -> OutboundRefused:
    reason = _REASONS[rule]
    if rule in _ADDRESS_RULES:
        reason = ("its host resolves to " if resolved else "it points to ") + reason
    return OutboundRefused(f"the URL is refused by the outbound policy: {reason}", rule=rule)


_ADDRESS_RULES: Final = frozenset(
    {
        "unspecified",
        "loopback",
        "private",
        "link-local",
        "shared",
        "multicast",
        "reserved",
        "unique-local",
        "site-local",
        "ipv4-compatible",
        "6to4",
        "teredo",
        "nat64",
        "not-global",
    }
)


# --------------------------------------------------------------------------- the policy


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """What may be fetched: the allow-list and whether https is required."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()
    require_https: bool = False

    @classmethod
    def build(cls, allow: Iterable[str], *, require_https: bool = False) -> OutboundPolicy:
        """From allow-list entries: a CIDR or a single address, or a host name."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for raw in allow:
            entry = raw.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = entry.rstrip(".")
            if not _is_host_name(name):
                raise ValueError(f"not a CIDR, address or host name: {raw!r}")
            hosts.add(name)
        return cls(tuple(networks), frozenset(hosts), require_https)

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        return cls.build(settings.outbound_allow, require_https=settings.production)

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def _is_host_name(name: str) -> bool:
    return 0 < len(name) <= 253 and all(_LABEL.fullmatch(label) for label in name.split("."))


def _plain(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address is the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
    return address


def address_rule(address: IPAddress) -> str | None:
    """The name of the rule refusing `address`, or None when it is globally routable."""
    address = _plain(address)
    if isinstance(address, ipaddress.IPv4Address):
        if address in _THIS_NETWORK:
            return "unspecified"
        if address.is_loopback:
            return "loopback"
        if address.is_link_local:
            return "link-local"
        if address in _CGNAT:
            return "shared"
        if address.is_multicast:
            return "multicast"
        if address.is_reserved or address == ipaddress.IPv4Address("255.255.255.255"):
            return "reserved"
        if address.is_private:
            return "private"
        return None if address.is_global else "not-global"
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address in _IPV4_COMPATIBLE:
        return "ipv4-compatible"
    if address.sixtofour is not None:
        return "6to4"
    if address.teredo is not None:
        return "teredo"
    if address in _NAT64:
        embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        return "nat64" if address_rule(embedded) else None
    if address in _NAT64_LOCAL:
        return "nat64"
    if address.is_link_local:
        return "link-local"
    if address.is_site_local:
        return "site-local"
    if address in _UNIQUE_LOCAL:
        return "unique-local"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    return None if address.is_global else "not-global"


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class OutboundTarget:
    """A URL that parsed strictly. `host` is the lower-case ASCII name (no trailing dot),
    or the canonical text of `literal` when the URL names an address."""

    scheme: str
    host: str
    port: int
    target: str  # path and query, as given ("/" when empty)
    literal: IPAddress | None

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if isinstance(self.literal, ipaddress.IPv6Address) else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _parse_ipv4(host: str) -> ipaddress.IPv4Address:
    # inet_aton accepts trailing garbage after a space; the character check comes first.
    if not _IPV4_CHARS.fullmatch(host):
        raise _refuse("ipv4")
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        raise _refuse("ipv4") from None


def parse_url(url: str, policy: OutboundPolicy) -> OutboundTarget:
    """Parse `url` strictly; raises `OutboundRefused` (no resolution happens here)."""
    if _FORBIDDEN_CHARS.search(url):
        raise _refuse("host")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise _refuse("host") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise _refuse("scheme")
    if policy.require_https and scheme != "https":
        raise _refuse("https-required")
    netloc = parts.netloc
    if "@" in netloc:
        raise _refuse("userinfo")
    if not netloc or "%" in netloc:
        raise _refuse("host")
    literal: IPAddress | None = None
    if netloc.startswith("["):
        inner, bracket, rest = netloc[1:].partition("]")
        if not bracket:
            raise _refuse("host")
        try:
            literal = ipaddress.IPv6Address(inner)
        except ValueError:
            raise _refuse("host") from None
        if rest and not rest.startswith(":"):
            raise _refuse("host")
        host, port_text = str(literal), rest[1:] if rest else None
    else:
        host, colon, port_text_or_empty = netloc.partition(":")
        port_text = port_text_or_empty if colon else None
        if ":" in port_text_or_empty:
            raise _refuse("host")
    if port_text is None:
        port = 443 if scheme == "https" else 80
    elif port_text.isascii() and port_text.isdigit() and 0 < int(port_text) <= 65535:
        port = int(port_text)
    else:
        raise _refuse("port")
    if literal is None:
        host = host.lower()
        if not host.isascii():
            try:
                host = idna.encode(host, uts46=True).decode("ascii")
            except idna.IDNAError:
                raise _refuse("host") from None
        host = host[:-1] if host.endswith(".") else host
        if not host:
            raise _refuse("host")
        if _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
            literal = _parse_ipv4(host)
            host = str(literal)
        elif not _is_host_name(host):
            raise _refuse("host")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return OutboundTarget(scheme, host, port, target, literal)


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    """A URL the policy let through, with the address the connection goes to."""

    target: OutboundTarget
    address: IPAddress

    @property
    def connect_url(self) -> str:
        host = str(self.address)
        if isinstance(self.address, ipaddress.IPv6Address):
            host = f"[{host}]"
        return f"{self.target.scheme}://{host}:{self.target.port}{self.target.target}"

    @property
    def sni_hostname(self) -> str | None:
        """The TLS server name: the URL's host name (None when it names an address)."""
        if self.target.scheme != "https" or self.target.literal is not None:
            return None
        return self.target.host


def _decide(target: OutboundTarget, policy: OutboundPolicy, found: list[IPAddress]) -> CheckedUrl:
    if target.literal is None and target.host in policy.hosts:
        return CheckedUrl(target, _plain(found[0]))
    addresses = [_plain(a) for a in found]
    for address in addresses:
        if policy.allows_address(address):
            continue
        rule = address_rule(address)
        if rule is not None:
            raise _refuse(rule, resolved=target.literal is None)
    return CheckedUrl(target, addresses[0])


def _precheck(url: str, policy: OutboundPolicy) -> OutboundTarget:
    target = parse_url(url, policy)
    if (
        target.literal is None
        and target.host not in policy.hosts
        and (target.host in METADATA_HOSTS or target.host.endswith(".metadata"))
    ):
        raise _refuse("metadata-host")
    return target


def _addresses(infos: Iterable[tuple[object, ...]]) -> list[IPAddress]:
    found: list[IPAddress] = []
    for info in infos:
        sockaddr = info[4]
        assert isinstance(sockaddr, tuple)
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise _refuse("unresolvable")
    return found


async def check_url(url: str, policy: OutboundPolicy) -> CheckedUrl:
    """Parse, resolve (without blocking the event loop) and check `url`."""
    target = _precheck(url, policy)
    if target.literal is not None:
        return _decide(target, policy, [target.literal])
    try:
        infos = await anyio.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise _refuse("unresolvable") from None
    return _decide(target, policy, _addresses(infos))


def check_url_blocking(url: str, policy: OutboundPolicy) -> CheckedUrl:
    """`check_url` for code already running in a worker thread (it resolves blocking)."""
    target = _precheck(url, policy)
    if target.literal is not None:
        return _decide(target, policy, [target.literal])
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise _refuse("unresolvable") from None
    return _decide(target, policy, _addresses(infos))


# --------------------------------------------------------------------------- fetching


@dataclass(frozen=True, slots=True)
class OutboundReply:
    status: int
    headers: httpx.Headers
    body: bytes  # at most the cap asked for; raw, never decompressed


@dataclass
class OutboundClient:
    """Fetches URLs the policy lets through, at the address it checked.

    Plain http shares one connection pool (keyed by address and port; `Host` is sent per
    request). Each https request gets its own connection: httpcore pools connections by
    address, not by TLS server name, and a pooled connection verified for one name must
    not carry a request for another name at the same address. `deadline` bounds a whole
    request, resolution to last byte read; `verify` is an SSL context to trust (tests) or
    True for the system's CAs.
    """

    policy: OutboundPolicy
    timeout: float = 15.0
    deadline: float = 30.0
    verify: ssl.SSLContext | bool = True
    _http: httpx.AsyncClient | None = field(default=None, init=False, repr=False)
    _ssl: ssl.SSLContext | None = field(default=None, init=False, repr=False)

    async def __aenter__(self) -> OutboundClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _client(self, verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self.timeout, follow_redirects=False, trust_env=False, verify=verify
        )

    def _ssl_context(self) -> ssl.SSLContext:
        if isinstance(self.verify, ssl.SSLContext):
            return self.verify
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context(verify=self.verify)
        return self._ssl

    async def request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        max_body: int = 256,
    ) -> OutboundReply:
        """Check `url`, then send. Raises `OutboundRefused`, `httpx.HTTPError`, or
        `TimeoutError` when the deadline passes."""
        with anyio.fail_after(self.deadline):
            checked = await check_url(url, self.policy)
            return await self._send(checked, method, content, headers or {}, max_body)

    async def _send(
        self,
        checked: CheckedUrl,
        method: str,
        content: bytes | None,
        headers: Mapping[str, str],
        max_body: int,
    ) -> OutboundReply:
        sent_headers = {
            **headers,
            "host": checked.target.host_header,
            "accept-encoding": "identity",
        }
        extensions = {"sni_hostname": checked.sni_hostname} if checked.sni_hostname else None
        if checked.target.scheme == "https":
            async with self._client(verify=self._ssl_context()) as client:
                return await self._exchange(
                    client, checked, method, content, sent_headers, extensions, max_body
                )
        if self._http is None:
            self._http = self._client()
        return await self._exchange(
            self._http, checked, method, content, sent_headers, extensions, max_body
        )

    @staticmethod
    async def _exchange(
        client: httpx.AsyncClient,
        checked: CheckedUrl,
        method: str,
        content: bytes | None,
        headers: Mapping[str, str],
        extensions: dict[str, str] | None,
        max_body: int,
    ) -> OutboundReply:
        request = client.build_request(
            method, checked.connect_url, content=content, headers=headers, extensions=extensions
        )
        response = await client.send(request, stream=True)
        try:
            body = bytearray()
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) >= max_body:
                    break
            return OutboundReply(response.status_code, response.headers, bytes(body[:max_body]))
        finally:
            await response.aclose()
