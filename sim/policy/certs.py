"""X.509 certificates for tests, scenarios and labs: a small CA, leaves, self-signed hosts.

Nothing here reads a clock: every certificate takes its validity window as two
``datetime`` arguments, so a scenario is reproducible.  Keys are fresh EC P-256 keys
(generated from the operating system's entropy by ``cryptography``, not from
:mod:`random`), so callers must never depend on key bytes — compare a certificate with
a TLSA record computed from the same certificate instead (:func:`tlsa_for`).

Also here: reading a PEM bundle (:func:`load_pem_chain`), the names a certificate
presents for host-name checks (RFC 6125 §6.4.4: DNS-ID SubjectAltNames, the CommonName
only when there is none) and Postfix-style certificate/public-key fingerprints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sim.errors import InputError

__all__ = [
    "Issued",
    "cert_names",
    "fingerprint",
    "is_expired",
    "load_pem_chain",
    "make_ca",
    "make_leaf",
    "make_self_signed",
    "name_matches",
    "spki_der",
    "tlsa_for",
]


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate with its private key (so it can sign further certificates)."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _check_window(not_before: datetime, not_after: datetime) -> None:
    if not_before.tzinfo is None or not_after.tzinfo is None:
        raise ValueError("validity dates must be timezone-aware (use datetime.UTC)")
    if not_after <= not_before:
        raise ValueError("not_after must be later than not_before")


def _build(
    subject_cn: str,
    names: Sequence[str],
    key: ec.EllipticCurvePrivateKey,
    issuer: Issued | None,
    *,
    not_before: datetime,
    not_after: datetime,
    ca: bool,
    serial: int,
) -> Issued:
    _check_window(not_before, not_after)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    issuer_name = subject if issuer is None else issuer.certificate.subject
    signing_key = key if issuer is None else issuer.key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    if ca:
        builder = builder.add_extension(
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
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
    return Issued(builder.sign(signing_key, hashes.SHA256()), key)


def make_ca(
    name: str = "relaysim test CA",
    *,
    not_before: datetime,
    not_after: datetime,
    serial: int = 1,
) -> Issued:
    """A self-signed CA certificate (a trust anchor for PKIX and DANE-TA tests)."""
    return _build(
        name,
        (),
        ec.generate_private_key(ec.SECP256R1()),
        None,
        not_before=not_before,
        not_after=not_after,
        ca=True,
        serial=serial,
    )


def make_leaf(
    ca: Issued,
    names: Sequence[str],
    *,
    not_before: datetime,
    not_after: datetime,
    serial: int = 2,
) -> Issued:
    """A server certificate for ``names`` (DNS SubjectAltNames) signed by ``ca``."""
    if not names:
        raise ValueError("a leaf certificate needs at least one DNS name")
    return _build(
        names[0],
        names,
        ec.generate_private_key(ec.SECP256R1()),
        ca,
        not_before=not_before,
        not_after=not_after,
        ca=False,
        serial=serial,
    )


def make_self_signed(
    names: Sequence[str],
    *,
    not_before: datetime,
    not_after: datetime,
    serial: int = 1,
) -> Issued:
    """A self-signed server certificate, the usual DANE-EE(3) deployment."""
    if not names:
        raise ValueError("a certificate needs at least one DNS name")
    return _build(
        names[0],
        names,
        ec.generate_private_key(ec.SECP256R1()),
        None,
        not_before=not_before,
        not_after=not_after,
        ca=False,
        serial=serial,
    )


def spki_der(cert: x509.Certificate) -> bytes:
    """The DER SubjectPublicKeyInfo (TLSA selector 1, RFC 6698 §2.1.2)."""
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def tlsa_for(cert: x509.Certificate, usage: int = 3, selector: int = 1, mtype: int = 1) -> str:
    """TLSA presentation text (``"3 1 1 <hex>"``) for ``cert``, RFC 6698 §2.1."""
    if selector not in (0, 1):
        raise ValueError(f"TLSA selector must be 0 or 1, got {selector}")
    data = cert.public_bytes(serialization.Encoding.DER) if selector == 0 else spki_der(cert)
    if mtype == 1:
        data = hashlib.sha256(data).digest()
    elif mtype == 2:
        data = hashlib.sha512(data).digest()
    elif mtype != 0:
        raise ValueError(f"TLSA matching type must be 0, 1 or 2, got {mtype}")
    return f"{usage} {selector} {mtype} {data.hex().upper()}"


def fingerprint(cert: x509.Certificate, *, public_key: bool = False) -> str:
    """SHA-256 fingerprint as Postfix prints it (``AB:CD:...``), of the cert or its key."""
    der = spki_der(cert) if public_key else cert.public_bytes(serialization.Encoding.DER)
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def cert_names(cert: x509.Certificate) -> tuple[str, ...]:
    """DNS names for host-name checks: SubjectAltName DNS-IDs, else the CommonName."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        dns_names = tuple(
            n.lower().rstrip(".") for n in san.value.get_values_for_type(x509.DNSName)
        )
    except x509.ExtensionNotFound:
        dns_names = ()
    if dns_names:
        return dns_names
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return tuple(str(a.value).lower().rstrip(".") for a in cns)


def name_matches(presented: str, reference: str) -> bool:
    """RFC 6125 §6.4: exact DNS-ID, or a ``*`` that is the whole left-most label.

    ``*.example.com`` matches ``mx.example.com`` but neither ``example.com`` nor
    ``a.b.example.com`` (one label only, RFC 7672 §3.2.3 / RFC 8461 §4.2).
    """
    presented = presented.lower().rstrip(".")
    reference = reference.lower().rstrip(".")
    if presented == reference:
        return True
    if presented.startswith("*.") and "." in reference:
        return reference.split(".", 1)[1] == presented[2:] and bool(presented[2:])
    return False


def is_expired(cert: x509.Certificate, now: datetime) -> bool:
    """True when ``now`` is outside the certificate's validity window."""
    return not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def load_pem_chain(data: bytes, *, source: str = "certificate") -> tuple[x509.Certificate, ...]:
    """Certificates of a PEM bundle, leaf first; a bad bundle is an :class:`InputError`."""
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise InputError(
            f"{source}: no PEM certificate found (expected -----BEGIN CERTIFICATE-----)"
        )
    try:
        return tuple(x509.load_pem_x509_certificates(data))
    except ValueError as exc:
        raise InputError(f"{source}: bad PEM certificate ({exc})") from None
