"""A local certificate authority and server certificate for a LAN trial over HTTPS.

A phone's camera and service worker only work in a secure context, so a trial on the office Wi-Fi
needs HTTPS without a public domain: ``xunjian cert`` makes a CA (installed once on each phone from
the ``/ca`` page) and a server certificate it signs for the host name, localhost and every LAN
address. Both live in ``<data dir>/tls/`` (directory 0700, keys 0600).

Running it again keeps what is there while it still fits: the CA is only replaced with
``new_ca=True`` (every phone would have to install it again); the server certificate is re-issued
from the same CA when it is forced, close to expiry, or missing a name or address (the machine
moved to another network), so the phones need nothing new.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import ipaddress
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
# iOS and macOS refuse TLS server certificates valid for longer than 825 days.
SERVER_DAYS = 825
# Re-issue the server certificate when it has less than this left.
RENEW_BEFORE = dt.timedelta(days=30)
ORGANISATION = "巡检 Xunjian"


@dataclass(frozen=True)
class TlsFiles:
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def cert(self) -> Path:
        return self.directory / "server.crt"

    @property
    def key(self) -> Path:
        return self.directory / "server.key"


@dataclass(frozen=True)
class CertResult:
    files: TlsFiles
    ca_created: bool
    server_issued: bool
    names: list[str]


def tls_files(data_dir: Path) -> TlsFiles:
    return TlsFiles(Path(data_dir) / "tls")


# ---------------------------------------------------------------------------------------------
# Addresses and names


def host_name() -> str:
    return socket.gethostname() or "localhost"


def lan_addresses() -> list[str]:
    """Every non-loopback, non-link-local IPv4 and IPv6 address of this machine (best effort)."""
    found: set[str] = set()
    # The interfaces' own addresses (Linux: ioctl per interface for IPv4, /proc for IPv6).
    if sys.platform.startswith("linux"):
        found.update(_linux_ipv4())
        found.update(_linux_ipv6())
    # The outgoing interfaces (no packet is sent: connecting a UDP socket only picks a route).
    for family, probe in ((socket.AF_INET, "10.255.255.255"), (socket.AF_INET6, "2001:db8::1")):
        with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((probe, 1))
            found.add(sock.getsockname()[0])
    # What the host name resolves to.
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(host_name(), None):
            found.add(str(info[4][0]))
    usable = []
    for text in found:
        try:
            address = ipaddress.ip_address(text.split("%")[0])
        except ValueError:
            continue
        if address.is_loopback or address.is_link_local or address.is_unspecified:
            continue
        usable.append(str(address))
    return sorted(usable, key=lambda a: (ipaddress.ip_address(a).version, a))


def _linux_ipv4() -> list[str]:
    import fcntl
    import struct

    siocgifaddr = 0x8915
    addresses = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            with contextlib.suppress(OSError):
                packed = struct.pack("256s", name.encode()[:15])
                answer = fcntl.ioctl(sock.fileno(), siocgifaddr, packed)
                addresses.append(socket.inet_ntoa(answer[20:24]))
    return addresses


def _linux_ipv6() -> list[str]:
    try:
        lines = Path("/proc/net/if_inet6").read_text().splitlines()
    except OSError:
        return []
    addresses = []
    for line in lines:
        raw = line.split()[0]
        with contextlib.suppress(ValueError):
            addresses.append(str(ipaddress.IPv6Address(bytes.fromhex(raw))))
    return addresses


def default_names(extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The names and addresses the server certificate covers, host name first."""
    names = [host_name().lower(), "localhost", "127.0.0.1", "::1", *lan_addresses()]
    names += [n.strip().lower() for n in extra if n and n.strip()]
    return list(dict.fromkeys(names))


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


# ---------------------------------------------------------------------------------------------
# Files


def _ensure_directory(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write atomically with the permissions set before any byte lands."""
    temporary = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the certificate, as phones show it: AB:CD:…"""
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def spki_sha256_base64(certificate: x509.Certificate) -> str:
    """Base64 SHA-256 of the public key (Chromium's --ignore-certificate-errors-spki-list)."""
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def certificate_names(certificate: x509.Certificate) -> set[str]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    names = {n.lower() for n in san.get_values_for_type(x509.DNSName)}
    names |= {str(a) for a in san.get_values_for_type(x509.IPAddress)}
    return names


# ---------------------------------------------------------------------------------------------
# Making them


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _make_ca(host: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    # The common name is capped at 64 characters.
    common_name = f"巡检 Xunjian 本地根证书 {host}"[:64]
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
        ]
    )
    now = _now()
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def _make_server(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, names: list[str]
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    now = _now()
    not_after = min(now + dt.timedelta(days=SERVER_DAYS), ca.not_valid_after_utc)
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    certificate = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64]),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
                ]
            )
        )
        .issuer_name(ca.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, certificate


def _server_still_fits(files: TlsFiles, ca: x509.Certificate, names: list[str]) -> bool:
    if not (files.cert.exists() and files.key.exists()):
        return False
    try:
        certificate = load_certificate(files.cert)
    except ValueError:
        return False
    if certificate.issuer != ca.subject:
        return False
    if certificate.not_valid_after_utc - _now() < RENEW_BEFORE:
        return False
    return set(names) <= certificate_names(certificate)


def ensure_certificates(
    data_dir: Path,
    extra_names: list[str] | tuple[str, ...] = (),
    *,
    force: bool = False,
    new_ca: bool = False,
    names: list[str] | None = None,
) -> CertResult:
    """Make the CA and server certificate if missing (or forced); keep them while they fit."""
    files = tls_files(data_dir)
    _ensure_directory(files.directory)
    wanted = names if names is not None else default_names(extra_names)

    ca_created = False
    if new_ca or not (files.ca_cert.exists() and files.ca_key.exists()):
        ca_key, ca = _make_ca(wanted[0])
        _write(files.ca_key, _key_pem(ca_key), 0o600)
        _write(files.ca_cert, ca.public_bytes(serialization.Encoding.PEM), 0o644)
        ca_created = True
    else:
        ca = load_certificate(files.ca_cert)
        ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)

    issued = False
    if force or ca_created or not _server_still_fits(files, ca, wanted):
        if files.cert.exists() and not force and not ca_created:
            # Keep names already covered (an address of another network the phones still use).
            with contextlib.suppress(ValueError):
                covered = certificate_names(load_certificate(files.cert))
                wanted = list(dict.fromkeys([*wanted, *sorted(covered)]))
        key, certificate = _make_server(ca_key, ca, wanted)
        _write(files.key, _key_pem(key), 0o600)
        # The chain a TLS client needs: the server certificate, then the CA.
        chain = certificate.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(
            serialization.Encoding.PEM
        )
        _write(files.cert, chain, 0o644)
        issued = True
    names_now = sorted(certificate_names(load_certificate(files.cert)))
    return CertResult(files, ca_created, issued, names_now)


def ca_der(data_dir: Path) -> bytes | None:
    """The CA certificate in DER (what Android's installer and iOS take), or None if there is none."""
    path = tls_files(data_dir).ca_cert
    if not path.exists():
        return None
    return load_certificate(path).public_bytes(serialization.Encoding.DER)
