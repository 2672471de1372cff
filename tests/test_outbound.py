"""payhub.outbound: which URLs the hub may fetch, and that it fetches them at the address it
checked. No test contacts anything outside 127.0.0.0/8: refused URLs are refused before any
connection, the only name resolved is `localhost`, and the fetching tests talk to loopback
servers they start themselves."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from payhub.errors import InvalidRequest, OutboundRefused
from payhub.outbound import (
    OutboundClient,
    OutboundPolicy,
    address_rule,
    check_url,
    check_url_blocking,
    parse_url,
)
from payhub.settings import Settings
from tests.support.listeners import counting_listener, make_test_ca, tls_server
from tests.support.servers import serve_app

OPEN = OutboundPolicy.build([])
LOOPBACK = OutboundPolicy.build(["127.0.0.0/8", "::1"])


def rule_of(url: str, policy: OutboundPolicy = OPEN) -> str:
    with pytest.raises(OutboundRefused) as refused:
        check_url_blocking(url, policy)
    return refused.value.rule


# --------------------------------------------------------------------------- the matrix

# The probe's URLs: each reached the hub itself or a sandbox before the policy existed.
MATRIX = [
    ("http://127.0.0.1/hook", "loopback"),
    ("http://127.0.0.2/hook", "loopback"),
    ("http://[::1]/hook", "loopback"),
    ("http://localhost/hook", "loopback"),
    ("http://2130706433/hook", "loopback"),
    ("http://0x7f000001/hook", "loopback"),
    ("http://017700000001/hook", "loopback"),
    ("http://127.1/hook", "loopback"),
    ("http://0177.0.0.1/x", "loopback"),
    ("http://0x7f.1/hook", "loopback"),
    ("http://0x7f.0.0.0x1/hook", "loopback"),
    ("http://127.0.0.1./hook", "loopback"),
    ("http://LOCALHOST./hook", "loopback"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://0/hook", "unspecified"),
    ("http://[::]/hook", "unspecified"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://[::ffff:7f00:1]/hook", "loopback"),
    ("http://user:pw@127.0.0.1/hook", "userinfo"),
    ("http://user@example.com/hook", "userinfo"),
    ("http://@example.com/hook", "userinfo"),
]


@pytest.mark.parametrize(("url", "rule"), MATRIX)
def test_the_probe_matrix_is_refused(url: str, rule: str) -> None:
    assert rule_of(url) == rule


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://10.0.0.1/", "private"),
        ("http://10.255.255.255/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://172.31.255.254/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://169.254.0.1/", "link-local"),
        ("http://100.64.0.1/", "shared"),
        ("http://100.127.255.254/", "shared"),
        ("http://224.0.0.1/", "multicast"),
        ("http://239.255.255.250/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://255.255.255.255/", "reserved"),
        ("http://192.0.2.1/", "private"),  # documentation ranges are in is_private
        ("http://198.18.0.1/", "private"),  # benchmarking
        ("http://[fd00::1]/", "unique-local"),
        ("http://[fc00::1]/", "unique-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[febf::1]/", "link-local"),
        ("http://[fec0::1]/", "site-local"),
        ("http://[ff02::1]/", "multicast"),
        ("http://[2001:db8::1]/", "private"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://[::ffff:192.168.0.1]/", "private"),
        ("http://[::127.0.0.1]/", "ipv4-compatible"),
        ("http://[64:ff9b::7f00:1]/", "nat64"),
        ("http://[64:ff9b::a00:1]/", "nat64"),
        ("http://[64:ff9b:1::1]/", "nat64"),
        ("http://[2002:7f00:1::1]/", "6to4"),
        ("http://[2002:808:808::1]/", "6to4"),
        ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "teredo"),
        ("http://167772161/", "private"),  # 10.0.0.1 as one number
        ("http://0xa9fea9fe/", "link-local"),  # 169.254.169.254 in hex
        ("http://0251.0376.0251.0376/", "link-local"),  # and in octal
        ("http://192.168.1/", "private"),  # a.b.c: 192.168.0.1
    ],
)
def test_internal_ranges_are_refused(url: str, rule: str) -> None:
    assert rule_of(url) == rule


@pytest.mark.parametrize(
    "host",
    [
        "metadata.google.internal",
        "METADATA.Google.Internal.",
        "metadata",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "anything.metadata",
    ],
)
def test_metadata_names_are_refused_before_any_resolution(host: str) -> None:
    # Refused even with an allow-list covering every address: the name decides, no lookup.
    everything = OutboundPolicy.build(["0.0.0.0/0", "::/0"])
    assert rule_of(f"http://{host}/computeMetadata/v1/", everything) == "metadata-host"


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("ftp://example.com/x", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://127.0.0.1:6379/_x", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("not a url", "host"),
        ("/relative", "scheme"),
        ("http://", "host"),
        ("http:///path", "host"),
        ("http:/127.0.0.1/x", "host"),
        ("http://8.8.8.8:0/", "port"),
        ("http://8.8.8.8:65536/", "port"),
        ("http://8.8.8.8:99999/", "port"),
        ("http://8.8.8.8:+80/", "port"),
        ("http://8.8.8.8:8_0/", "port"),
        ("http://8.8.8.8:/", "port"),
        ("http://8.8.8.8:http/", "port"),
        ("http://[::1]x/", "host"),
        ("http://[::1/", "host"),
        ("http://[1.2.3.4]/", "host"),
        ("http://8.8.8.8:80:80/", "host"),
        ("http://127.0.0.1 x/", "host"),
        ("http://127.0.0.1\t/", "host"),
        ("http://127.0.0.1\\@example.com/", "host"),
        ("http://%31%32%37.0.0.1/", "host"),
        ("http://[fe80::1%25eth0]/", "host"),
        ("http://exa mple.com/", "host"),
        ("http://-bad-.example/", "host"),
        ("http://1.2.3.4.5/", "ipv4"),
        ("http://256.0.0.1/", "ipv4"),
        ("http://08.0.0.1/", "ipv4"),
        ("http://example.0x/", "ipv4"),
        ("http://4294967296/", "ipv4"),
    ],
)
def test_strict_parsing(url: str, rule: str) -> None:
    assert rule_of(url) == rule


def test_a_refusal_is_an_invalid_request_naming_the_rule_but_no_address() -> None:
    with pytest.raises(OutboundRefused) as refused:
        check_url_blocking("http://localhost:8000/hook", OPEN)
    error = refused.value
    assert isinstance(error, InvalidRequest)
    assert error.code == "outbound-refused"
    assert error.extra == {"rule": "loopback"}
    assert "loopback" in error.detail
    assert "127.0.0.1" not in error.detail and "::1" not in error.detail


# --------------------------------------------------------------------------- normalising


@pytest.mark.parametrize(
    "host",
    ["2130706433", "0x7f000001", "0X7F000001", "017700000001", "127.1", "127.0.1", "0x7f.1"],
)
def test_every_ipv4_form_is_normalised(host: str) -> None:
    target = parse_url(f"http://{host}:8080/a?b=1", OPEN)
    assert target.literal == ipaddress.IPv4Address("127.0.0.1")
    assert (target.host, target.port, target.target) == ("127.0.0.1", 8080, "/a?b=1")


@settings(deadline=None)  # a shared machine: no timing in tests
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_decimal_hex_and_octal_forms_name_the_same_address(number: int) -> None:
    address = ipaddress.IPv4Address(number)
    dotted = address_rule(address)
    for form in (str(number), hex(number), "0" + oct(number)[2:]):
        assert parse_url(f"http://{form}/", OPEN).literal == address
        if dotted is None:
            check_url_blocking(f"http://{form}/", OPEN)
        else:
            assert rule_of(f"http://{form}/") == dotted


def test_public_addresses_and_names_pass() -> None:
    checked = check_url_blocking("https://8.8.8.8/hooks?x=1", OPEN)
    assert checked.connect_url == "https://8.8.8.8:443/hooks?x=1"
    assert checked.sni_hostname is None  # an address: no server name to send
    checked = check_url_blocking("http://[2606:4700:4700::1111]:8080/", OPEN)
    assert checked.connect_url == "http://[2606:4700:4700::1111]:8080/"
    assert checked.target.host_header == "[2606:4700:4700::1111]:8080"
    assert address_rule(ipaddress.ip_address("::ffff:8.8.8.8")) is None
    assert address_rule(ipaddress.ip_address("64:ff9b::808:808")) is None


# --------------------------------------------------------------------------- https, allow-list


def test_production_requires_https() -> None:
    production = OutboundPolicy.build(["127.0.0.0/8"], require_https=True)
    assert rule_of("http://8.8.8.8/hook", production) == "https-required"
    assert rule_of("http://127.0.0.1/hook", production) == "https-required"  # allowed or not
    check_url_blocking("https://8.8.8.8/hook", production)
    policy = OutboundPolicy.from_settings(Settings(production=True, outbound_allow=[]))
    assert policy.require_https


def test_the_allow_list_opens_exactly_what_it_names() -> None:
    checked = check_url_blocking("http://localhost:9000/hook", LOOPBACK)
    assert checked.address.is_loopback
    assert checked.connect_url.startswith(("http://127.0.0.1:9000/", "http://[::1]:9000/"))
    assert checked.target.host_header == "localhost:9000"
    check_url_blocking("http://0x7f000001:81/", LOOPBACK)
    check_url_blocking("http://[::ffff:127.0.0.1]/", LOOPBACK)  # mapped: checked as IPv4
    assert rule_of("http://10.0.0.1/", LOOPBACK) == "private"
    assert rule_of("http://0.0.0.0/", LOOPBACK) == "unspecified"

    one_port_host = OutboundPolicy.build(["127.0.0.2"])
    check_url_blocking("http://127.0.0.2:8080/", one_port_host)
    assert rule_of("http://127.0.0.1/", one_port_host) == "loopback"
    # localhost resolves to 127.0.0.1 (and perhaps ::1), neither allowed
    assert rule_of("http://localhost/", one_port_host) == "loopback"

    by_name = OutboundPolicy.build(["LOCALHOST."])
    assert by_name.hosts == {"localhost"}
    check_url_blocking("http://localhost:1/", by_name)  # the name passes every rule
    assert rule_of("http://127.0.0.1/", by_name) == "loopback"  # its addresses do not


def test_the_allow_list_setting_is_comma_separated_and_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYHUB_OUTBOUND_ALLOW", " 127.0.0.0/8, ::1 ,hooks.internal,")
    settings = Settings()
    assert settings.outbound_allow == ["127.0.0.0/8", "::1", "hooks.internal"]
    policy = OutboundPolicy.from_settings(settings)
    assert policy.networks == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    assert policy.hosts == {"hooks.internal"}
    monkeypatch.delenv("PAYHUB_OUTBOUND_ALLOW")
    assert Settings().outbound_allow == []
    for bad in ("not a host!", "10.0.0.0/33", "http://x/"):
        with pytest.raises(ValueError):
            OutboundPolicy.build([bad])


@pytest.mark.anyio
async def test_the_async_check_resolves_names_too() -> None:
    with pytest.raises(OutboundRefused) as refused:
        await check_url("http://localhost:8000/", OPEN)
    assert refused.value.rule == "loopback"
    checked = await check_url("http://localhost:8000/", LOOPBACK)
    assert checked.address.is_loopback


# --------------------------------------------------------------------------- fetching


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    async def host(request: Request) -> Response:
        return PlainTextResponse(request.headers.get("host", ""))

    async def big(_: Request) -> Response:
        return PlainTextResponse("x" * 100_000)

    async def elsewhere(request: Request) -> Response:
        return RedirectResponse(request.query_params["to"], status_code=302)

    app = Starlette(
        routes=[
            Route("/host", host, methods=["GET", "POST"]),
            Route("/big", big),
            Route("/redirect", elsewhere),
        ]
    )
    with serve_app(app) as url:
        yield url


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_the_request_goes_to_the_checked_address_with_the_name_as_host(echo: str) -> None:
    port = echo.rsplit(":", 1)[1]
    async with OutboundClient(OutboundPolicy.build(["127.0.0.1"])) as client:
        reply = await client.request("GET", f"http://localhost:{port}/host", max_body=1000)
        assert (reply.status, reply.body) == (200, f"localhost:{port}".encode())
        reply = await client.request("GET", f"http://0x7f000001:{port}/host", max_body=1000)
        assert reply.body == f"127.0.0.1:{port}".encode()
    async with OutboundClient(OPEN) as client:
        with pytest.raises(OutboundRefused):
            await client.request("GET", f"{echo}/host")


@pytest.mark.anyio
async def test_replies_are_capped_and_redirects_never_followed(echo: str) -> None:
    with counting_listener("127.0.0.1") as target:
        async with OutboundClient(LOOPBACK) as client:
            reply = await client.request("GET", f"{echo}/big", max_body=256)
            assert (reply.status, len(reply.body)) == (200, 256)
            to = f"http://127.0.0.1:{target.port}/"
            reply = await client.request("GET", f"{echo}/redirect?to={to}")
            assert reply.status == 302
    assert target.accepted == 0


@pytest.mark.anyio
async def test_https_sends_the_name_as_sni_and_checks_the_certificate_against_it(
    tmp_path: Path,
) -> None:
    """Connected to 127.0.0.1, the TLS handshake names `localhost` (SNI) and the
    certificate is verified for `localhost`: a certificate for another name fails."""
    ca = make_test_ca()
    policy = OutboundPolicy.build(["127.0.0.0/8", "::1"])
    with tls_server(ca.server_context("localhost", tmp_path)) as good:
        async with OutboundClient(policy, verify=ca.client_context()) as client:
            reply = await client.request("POST", f"https://localhost:{good.port}/hook")
        assert reply.status == 200
        assert good.server_names == ["localhost"]
        assert good.requests[0].startswith(b"POST /hook HTTP/1.1")
        assert f"host: localhost:{good.port}".encode() in good.requests[0].lower()
    with tls_server(ca.server_context("other.example", tmp_path)) as wrong:
        async with OutboundClient(policy, verify=ca.client_context()) as client:
            with pytest.raises(httpx.ConnectError) as failed:
                await client.request("POST", f"https://localhost:{wrong.port}/hook")
        assert isinstance(failed.value.__context__, ssl.SSLCertVerificationError) or (
            "CERTIFICATE_VERIFY_FAILED" in str(failed.value)
        )
        assert wrong.server_names == ["localhost"]
        assert wrong.requests == []  # nothing was sent to the wrong certificate


@settings(deadline=None)
@given(
    st.one_of(
        st.text(max_size=80),
        st.text(alphabet="[]:@.%0123456789abcdefx-_/\\?# ", max_size=40),
    )
)
def test_any_text_after_the_scheme_parses_or_is_refused_never_crashes(rest: str) -> None:
    # parse_url only: nothing is resolved, so no generated name reaches a DNS server.
    for scheme in ("http://", "https://", ""):
        try:
            target = parse_url(scheme + rest, OPEN)
        except OutboundRefused:
            continue
        assert target.scheme in ("http", "https") and 0 < target.port <= 65535
        assert target.host and target.host.isascii() and "@" not in target.host


def test_the_demo_allows_loopback_by_a_comma_separated_value() -> None:
    # The value payhub.demo passes when PAYHUB_OUTBOUND_ALLOW is unset.
    settings = Settings(outbound_allow="127.0.0.0/8,::1")  # type: ignore[arg-type]
    check_url_blocking("http://127.0.0.1:8000/hook", OutboundPolicy.from_settings(settings))
