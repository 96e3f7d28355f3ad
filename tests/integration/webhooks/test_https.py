"""https: the sender connects to the address it checked, yet names the URL's host for
TLS (SNI and certificate check) and in the Host header."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from standardwebhooks import Webhook

from sitescim.domain.webhooks import generate_secret
from sitescim.services.webhook_delivery import Batch, Claimed
from sitescim.services.webhook_sender import Sender
from sitescim.services.webhook_targets import resolve


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[str, Path, list[dict[str, Any]]]]:
    cert, key = _certificate(tmp_path)
    address = resolve("https://localhost/", allow_private=True).address
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            seen.append({"headers": dict(self.headers.items()), "body": body})
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    class Server(ThreadingHTTPServer):
        address_family = (
            socket.AF_INET6
            if isinstance(ipaddress.ip_address(address), ipaddress.IPv6Address)
            else socket.AF_INET
        )

    server = Server((address, 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{server.server_address[1]}/hooks", cert, seen
    finally:
        server.shutdown()
        server.server_close()


def _batch(url: str, secret: str) -> Batch:
    payload = {"type": "user.created", "timestamp": "t", "data": {"id": "evt_1"}}
    return Batch(
        url=url,
        secret=secret,
        deliveries=[
            Claimed(id=1, endpoint_id="e", webhook_id="evt_1", payload=payload, attempts=0)
        ],
    )


def test_https_goes_to_the_checked_address_under_the_urls_name(
    tls_receiver: tuple[str, Path, list[dict[str, Any]]],
) -> None:
    url, cert, seen = tls_receiver
    secret = generate_secret()
    sender = Sender(allow_private=True, verify=ssl.create_default_context(cafile=str(cert)))
    try:
        (outcome,) = sender.send(_batch(url, secret))
    finally:
        sender.close()
    assert outcome.error is None, outcome.error
    assert outcome.status_code == 204
    (request,) = seen
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["host"] == url.split("/")[2]
    Webhook(secret).verify(request["body"], headers)


def test_an_untrusted_certificate_is_a_failed_attempt(
    tls_receiver: tuple[str, Path, list[dict[str, Any]]],
) -> None:
    url, _cert, seen = tls_receiver
    sender = Sender(allow_private=True)
    try:
        (outcome,) = sender.send(_batch(url, generate_secret()))
    finally:
        sender.close()
    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("SSLCertVerificationError")
    assert seen == []
