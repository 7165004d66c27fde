"""Tokens from an external issuer (distribution's `auth.token.rootcertbundle`).

When the token service is another program (docker_auth, a CI's auth server),
the registry only verifies: a JWT signed with RS256/384/512 or ES256/384/512
by a key of a certificate in the bundle, or by the leaf of the token's `x5c`
chain when that leaf is in the bundle or directly issued by a certificate in
it. The registry then does not answer the token endpoint itself.
"""

from __future__ import annotations

import base64
import json

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_bundle(path: str) -> list[x509.Certificate]:
    try:
        with open(path, "rb") as f:
            certs = x509.load_pem_x509_certificates(f.read())
    except OSError as exc:
        raise ValueError(f"cannot read token root certificate bundle {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ValueError(f"token root certificate bundle {path}: {exc}") from None
    if not certs:
        raise ValueError(f"token root certificate bundle {path} holds no certificate")
    return certs


def _trusted_leaf(header: dict, bundle: list[x509.Certificate]) -> x509.Certificate | None:
    chain = header.get("x5c")
    if not isinstance(chain, list) or not chain:
        return None
    leaf = x509.load_der_x509_certificate(base64.b64decode(chain[0]))
    for root in bundle:
        if leaf == root:
            return leaf
        try:
            leaf.verify_directly_issued_by(root)
            return leaf
        except (ValueError, TypeError, InvalidSignature):
            continue
    raise InvalidSignature("x5c chain does not lead to the bundle")


def verify_signature(token: str, bundle: list[x509.Certificate]) -> dict | None:
    """The claims of a token signed by a bundle key, None otherwise (expiry is checked by the caller)."""
    try:
        head, body, sig = token.split(".")
        header = json.loads(_unb64(head))
        alg = str(header.get("alg", ""))
        if alg[:2] not in ("RS", "ES") or alg[2:] not in _HASHES:
            return None
        digest = _HASHES[alg[2:]]()
        signed, signature = f"{head}.{body}".encode(), _unb64(sig)
        leaf = _trusted_leaf(header, bundle)
        keys = [leaf.public_key()] if leaf is not None else [c.public_key() for c in bundle]
        for key in keys:
            try:
                if alg.startswith("RS") and isinstance(key, rsa.RSAPublicKey):
                    key.verify(signature, signed, padding.PKCS1v15(), digest)
                elif alg.startswith("ES") and isinstance(key, ec.EllipticCurvePublicKey):
                    half = len(signature) // 2
                    der = utils.encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                                     int.from_bytes(signature[half:], "big"))
                    key.verify(der, signed, ec.ECDSA(digest))
                else:
                    continue
                return json.loads(_unb64(body))
            except InvalidSignature:
                continue
    except (ValueError, TypeError, InvalidSignature, UnicodeDecodeError):
        return None
    return None
