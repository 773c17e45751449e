"""A test-only stand-in for what sits in front of MSK Serverless brokers: TLS, MSK IAM authentication, and
a Kafka ≥ 2.4 protocol surface, in front of the test Kafka 2.3 broker's OAUTHBEARER listener.

The portal's production path (clusters.integrations.kafka_admin with `KafkaAuth.msk_iam()`) speaks SASL_SSL +
OAUTHBEARER with MSK IAM tokens (base64url SigV4-presigned URLs for `kafka-cluster:Connect`) and asks for
the broker's default replication factor (-1, KIP-464, Kafka 2.4+). The 2.3 broker can do neither on its
own, so this front, one thread per connection on 127.0.0.1, does three things and passes every other
byte through unchanged:

- terminates TLS with a throw-away CA-signed certificate for 127.0.0.1/localhost (`ca_file` is what the
  client trusts, through the portal's ordinary KAFKA_SSL_CA_LOCATION setting);
- validates the MSK IAM token in each SaslAuthenticate request like MSK does: the URL's host, action and
  algorithm, the credential scope, the signing time and 900 s lifetime, the session token, and the SigV4
  signature recomputed with the secret of the access key (looked up by `secrets`, e.g. in moto's STS).
  An accepted token is replaced by an unsigned JWT (`alg: none`) naming the caller, which the broker's
  built-in unsecured validator accepts; a refused one is answered here, as MSK does, with
  SASL_AUTHENTICATION_FAILED "Access denied" (plus the reason, for the test's eyes) and the connection
  is closed. `refuse` makes it refuse everything;
- emulates KIP-464: ApiVersions answers advertise CreateTopics v4, and CreateTopics v4 requests go to the
  broker as v3 (same layout) with replication factor -1 replaced by the broker's default, 1.

The broker advertises the front's address for that listener, so every connection the client opens, not
only the bootstrap one, goes through the front.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import select
import socket
import ssl
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

logger = logging.getLogger("tests.clusters.integrations.kafka.msk_front")

API_VERSIONS, CREATE_TOPICS, SASL_AUTHENTICATE = 18, 19, 36
SASL_AUTHENTICATION_FAILED = 58
DEFAULT_REPLICATION_FACTOR = 1  # the 2.3 broker's default.replication.factor
MAX_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Secret:
    secret_access_key: str
    session_token: str | None  # None: long-term keys, no X-Amz-Security-Token expected
    principal: str  # who the broker is told the caller is


SecretLookup = Callable[[str], Secret | None]


class Denied(Exception):
    pass


# --- MSK IAM token validation -------------------------------------------------------------------------


def _sign(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _quote(text: str) -> str:
    return quote(text, safe="-_.~")


def validate_token(token: str, secrets: SecretLookup, now: dt.datetime | None = None) -> str:
    """The principal of a valid MSK IAM token; raises Denied with the reason otherwise."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except ValueError as exc:
        raise Denied("the token is not a base64url URL") from exc
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    match = re.fullmatch(r"kafka\.([a-z0-9-]+)\.amazonaws\.com", parts.netloc)
    if parts.scheme != "https" or not match or parts.path not in ("", "/"):
        raise Denied(f"not an MSK IAM URL: {parts.scheme}://{parts.netloc}{parts.path}")
    region = match.group(1)
    if params.get("Action") != "kafka-cluster:Connect":
        raise Denied(f"the action is {params.get('Action')!r}, not kafka-cluster:Connect")
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        raise Denied("the algorithm is not AWS4-HMAC-SHA256")
    try:
        key_id, date, scope_region, service, terminal = params["X-Amz-Credential"].split("/")
        signed_at = dt.datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        lifetime = dt.timedelta(seconds=int(params["X-Amz-Expires"]))
        signature = params["X-Amz-Signature"]
    except (KeyError, ValueError) as exc:
        raise Denied(f"the signature parameters are incomplete: {exc}") from exc
    if (scope_region, service, terminal) != (region, "kafka-cluster", "aws4_request") or date != params[
        "X-Amz-Date"
    ][:8]:
        raise Denied(f"the credential scope {date}/{scope_region}/{service}/{terminal} does not match")
    if params.get("X-Amz-SignedHeaders") != "host":
        raise Denied("only the host header may be signed")
    if signed_at > now + MAX_SKEW:
        raise Denied("the token is signed in the future")
    if now > signed_at + lifetime:
        raise Denied(f"the token expired at {(signed_at + lifetime).isoformat()}")
    secret = secrets(key_id)
    if secret is None:
        raise Denied(f"the access key {key_id} is unknown")
    if secret.session_token is not None and params.get("X-Amz-Security-Token") != secret.session_token:
        raise Denied(f"the session token of {key_id} does not match")
    # SigV4 query signing as botocore's SigV4QueryAuth does it (the payload is the hash of the empty body);
    # the signer appends User-Agent after signing.
    signed = sorted((k, v) for k, v in params.items() if k not in ("X-Amz-Signature", "User-Agent"))
    canonical_query = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in signed)
    canonical = "\n".join(
        ["GET", "/", canonical_query, f"host:{parts.netloc}", "", "host", hashlib.sha256(b"").hexdigest()]
    )
    scope = f"{date}/{region}/kafka-cluster/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", params["X-Amz-Date"], scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret.secret_access_key).encode()
    for part in (date, region, "kafka-cluster", "aws4_request"):
        key = _sign(key, part)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Denied(f"the signature does not match the secret of {key_id}")
    return secret.principal


def moto_secrets(key_id: str) -> Secret | None:
    """Credentials moto's STS handed out (ThreadedMotoServer runs in this process)."""
    from moto.sts.models import sts_backends

    for regions in list(sts_backends.values()):
        for backend in list(regions.values()):
            role = backend.get_assumed_role_from_access_key(key_id)
            if role is not None:
                return Secret(role.secret_access_key, role.session_token, role.arn)
    return None


def _unsecured_jwt(principal: str) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    now = int(dt.datetime.now(dt.UTC).timestamp())
    return f"{part({'alg': 'none'})}.{part({'sub': principal, 'iat': now, 'exp': now + 900})}."


# --- TLS material -------------------------------------------------------------------------------------


def write_tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, server cert chain, server key): a CA and a certificate for 127.0.0.1 and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def build(subject, issuer, public_key, signer, *, ca: bool):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = build("msk-portal test CA", "msk-portal test CA", ca_key.public_key(), ca_key, ca=True)
    server = build("127.0.0.1", "msk-portal test CA", server_key.public_key(), ca_key, ca=False)
    pem = serialization.Encoding.PEM
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(server.public_bytes(pem) + ca.public_bytes(pem))
    paths[2].write_bytes(
        server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


# --- The front ----------------------------------------------------------------------------------------


def _frames(buffer: bytearray) -> list[bytes]:
    """The complete size-prefixed frames at the start of the buffer, taken out of it."""
    frames = []
    while len(buffer) >= 4:
        (size,) = struct.unpack_from(">i", buffer, 0)
        if len(buffer) < 4 + size:
            break
        frames.append(bytes(buffer[4 : 4 + size]))
        del buffer[: 4 + size]
    return frames


def _frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def _request_body_offset(payload: bytes) -> int:
    """Where a v1 request header (key, version, correlation id, client id) ends."""
    (client_id_len,) = struct.unpack_from(">h", payload, 8)
    return 10 + max(client_id_len, 0)


def downgrade_create_topics(payload: bytes) -> bytes:
    """A CreateTopics v4 request as v3 (the same layout), replication factor -1 set to the default."""
    data = bytearray(payload)
    struct.pack_into(">h", data, 2, 3)
    pos = _request_body_offset(data)
    (topics,) = struct.unpack_from(">i", data, pos)
    pos += 4
    for _ in range(max(topics, 0)):
        (name_len,) = struct.unpack_from(">h", data, pos)
        pos += 2 + name_len + 4  # name, num_partitions
        (replication,) = struct.unpack_from(">h", data, pos)
        if replication == -1:
            struct.pack_into(">h", data, pos, DEFAULT_REPLICATION_FACTOR)
        pos += 2
        (assignments,) = struct.unpack_from(">i", data, pos)
        pos += 4
        for _ in range(max(assignments, 0)):
            (brokers,) = struct.unpack_from(">i", data, pos + 4)
            pos += 8 + 4 * max(brokers, 0)
        (configs,) = struct.unpack_from(">i", data, pos)
        pos += 4
        for _ in range(max(configs, 0)):
            for _ in range(2):  # name, nullable value
                (length,) = struct.unpack_from(">h", data, pos)
                pos += 2 + max(length, 0)
    return bytes(data)


def advertise_create_topics_v4(payload: bytes) -> bytes:
    """An ApiVersions answer (v0-v2 layout) with CreateTopics' maximum raised to 4."""
    data = bytearray(payload)
    (count,) = struct.unpack_from(">i", data, 6)  # after correlation id and error code
    for index in range(max(count, 0)):
        offset = 10 + 6 * index
        key, _low, high = struct.unpack_from(">hhh", data, offset)
        if key == CREATE_TOPICS and high < 4:
            struct.pack_into(">h", data, offset + 4, 4)
    return bytes(data)


@dataclass
class MskIamFront:
    """TLS + MSK IAM + KIP-464 in front of one broker listener (see the module docstring)."""

    directory: Path
    secrets: SecretLookup = moto_secrets
    refuse: bool = False
    accepted: list[str] = field(default_factory=list)  # principals, in order
    refused: list[str] = field(default_factory=list)  # reasons, in order
    connections: int = 0

    def __post_init__(self):
        self.ca_file, cert, key = write_tls_files(self.directory)
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(cert, key)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._upstream: tuple[str, int] | None = None
        self._closing = False
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def reset(self, secrets: SecretLookup = moto_secrets) -> None:
        self.secrets, self.refuse = secrets, False
        self.accepted.clear()
        self.refused.clear()

    def start(self, upstream_port: int) -> None:
        self._upstream = ("127.0.0.1", upstream_port)
        threading.Thread(target=self._accept_loop, name="msk-front", daemon=True).start()

    def close(self) -> None:
        self._closing = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.close()

    def _accept_loop(self) -> None:
        while not self._closing:
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), name="msk-front-conn", daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        """One thread per connection: an SSL socket must not be read and written from two threads at once."""
        self.connections += 1
        client = upstream = None
        try:
            raw.settimeout(10)
            client = self._tls.wrap_socket(raw, server_side=True)
            upstream = socket.create_connection(self._upstream, timeout=10)
            with self._lock:
                self._open.update({client, upstream})
            self._relay(client, upstream)
        except (OSError, ssl.SSLError) as exc:
            logger.debug("front connection ended: %s", exc)
        finally:
            for sock in (client, upstream, raw):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()
            with self._lock:
                self._open.difference_update({client, upstream})

    def _relay(self, client, upstream) -> None:
        api_versions: set[bytes] = set()
        from_client, from_broker = bytearray(), bytearray()
        while not self._closing:
            ready = [client] if client.pending() else select.select([client, upstream], [], [], 1.0)[0]
            for sock, buffer in ((client, from_client), (upstream, from_broker)):
                if sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    buffer += data
            for payload in _frames(from_client):
                key, version = struct.unpack_from(">hh", payload, 0)
                if key == API_VERSIONS:
                    api_versions.add(payload[4:8])
                elif key == CREATE_TOPICS and version == 4:
                    payload = downgrade_create_topics(payload)
                elif key == SASL_AUTHENTICATE:
                    payload = self._authenticate(client, payload, version)
                    if payload is None:
                        return  # refused: answered, connection closed like MSK does
                upstream.sendall(_frame(payload))
            for payload in _frames(from_broker):
                if payload[:4] in api_versions:
                    api_versions.discard(payload[:4])
                    payload = advertise_create_topics_v4(payload)
                client.sendall(_frame(payload))

    def _authenticate(self, client, payload: bytes, version: int) -> bytes | None:
        body = _request_body_offset(payload)
        (length,) = struct.unpack_from(">i", payload, body)
        message = payload[body + 4 : body + 4 + length].decode(errors="replace")
        match = re.search(r"auth=Bearer ([^\x01]+)", message)
        try:
            if self.refuse:
                raise Denied("the validator was told to refuse every token")
            if not match:
                raise Denied("no bearer token")
            principal = validate_token(match.group(1), self.secrets)
        except Denied as exc:
            self.refused.append(str(exc))
            logger.info("MSK IAM front refused a login: %s", exc)
            error = f"Access denied ({exc})".encode()
            answer = payload[4:8] + struct.pack(">hh", SASL_AUTHENTICATION_FAILED, len(error)) + error
            answer += struct.pack(">i", 0)  # auth_bytes
            if version >= 1:
                answer += struct.pack(">q", 0)  # session_lifetime_ms
            client.sendall(_frame(answer))
            return None
        self.accepted.append(principal)
        first = f"n,,\x01auth=Bearer {_unsecured_jwt(principal)}\x01\x01".encode()
        return payload[:body] + struct.pack(">i", len(first)) + first + payload[body + 4 + length :]
