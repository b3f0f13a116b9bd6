"""The run's certificate authority: one CA per run, a certificate per site hostname.

    ca = make_authority(run_dir / "tls", scenario.name)
    cert, key = ca.issue(site.hostname, ip)      # PEM files the site's server loads

Clients trust only this CA (`curl --cacert <run_dir>/tls/ca.pem`): a site's certificate names
its hostname (and its address), so an HTTPS fetch of the hostname verifies end to end and a
forged answer cannot pass as the site. Keys are ECDSA P-256; the CA's key never leaves memory.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALID_DAYS = 7


@dataclass
class Authority:
    directory: Path
    key: object
    cert: x509.Certificate

    @property
    def ca_path(self) -> Path:
        return self.directory / "ca.pem"

    def issue(self, hostname: str, ip: str) -> tuple[Path, Path]:
        """(certificate, key) PEM files for `hostname`, signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(hostname), x509.IPAddress(ipaddress.ip_address(ip))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_path = self.directory / f"{hostname}.pem"
        key_path = self.directory / f"{hostname}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_path.chmod(0o600)
        return cert_path, key_path


def make_authority(directory: Path, scenario_name: str) -> Authority:
    """A fresh CA for one run, its certificate written to directory/ca.pem."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hermitnet"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"hermitnet CA {scenario_name}")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    authority = Authority(directory, key, cert)
    authority.ca_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return authority
