"""Raw loopback listeners for the outbound-policy tests: TCP listeners that count the
connections they accept (the SSRF proof: a refused URL must make none), and a small TLS
server that records the server name (SNI) each client asked for, with certificates made
on the spot by a throwaway test CA."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

OK_REPLY = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"


@dataclass
class CountingListener:
    """Accepts connections on `host:port` and counts them; each gets a 200 and is closed."""

    host: str
    port: int
    accepted: int = 0
    received: list[bytes] = field(default_factory=list)  # the first read of each
    _sock: socket.socket | None = field(default=None, repr=False)

    def serve(self, sock: socket.socket) -> None:
        self._sock = sock
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                conn.settimeout(1)
                try:
                    self.received.append(conn.recv(65536))
                    conn.sendall(OK_REPLY)
                except OSError:
                    pass
            finally:
                conn.close()


@contextmanager
def counting_listener(host: str, port: int = 0) -> Iterator[CountingListener]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    listener = CountingListener(host, int(sock.getsockname()[1]))
    thread = threading.Thread(target=listener.serve, args=(sock,), daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        _stop(sock)
        thread.join(timeout=5)


def _stop(sock: socket.socket) -> None:
    # shutdown() wakes the thread blocked in accept() (close() alone does not, on Linux).
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class TestCA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting only this CA (hostname checks on)."""
        context = ssl.create_default_context()
        context.load_verify_locations(
            cadata=self.cert.public_bytes(serialization.Encoding.PEM).decode()
        )
        return context

    def server_context(self, name: str, directory: Path) -> ssl.SSLContext:
        """A server context with a certificate for the DNS name `name`."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        return context


def make_test_ca() -> TestCA:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "payhub test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return TestCA(key, cert)


@dataclass
class TlsServer:
    """Answers 200 over TLS on 127.0.0.1; `server_names` lists the SNI of each handshake
    and `requests` the raw request heads it read."""

    port: int = 0
    server_names: list[str | None] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)


@contextmanager
def tls_server(context: ssl.SSLContext) -> Iterator[TlsServer]:
    server = TlsServer()

    def remember(_: ssl.SSLObject | ssl.SSLSocket, name: str | None, __: object) -> None:
        server.server_names.append(name)

    context.sni_callback = remember  # type: ignore[assignment]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server.port = int(sock.getsockname()[1])

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.settimeout(2)
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    server.requests.append(tls.recv(65536))
                    tls.sendall(OK_REPLY)
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        _stop(sock)
        thread.join(timeout=5)
