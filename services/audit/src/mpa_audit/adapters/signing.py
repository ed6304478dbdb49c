"""The tree-head signing key: loaded from configuration, generated for development only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpa_audit.settings import DEV_SIGNING_KEY_FILE, AuditSettings
from mpa_audit_verify.checkpoint import TreeHead, sign_tree_head
from mpa_audit_verify.note import VerifierKey, encode_verifier_key, load_private_key_pem
from mpa_common.auth import load_or_create_dev_key
from mpa_common.paths import resolve_home_path
from mpa_common.settings import Environment


@dataclass(frozen=True)
class TreeHeadSigner:
    """Signs this log's tree heads; the key signs under the log's origin as its name."""

    origin: str
    private_key: Ed25519PrivateKey

    @property
    def key_name(self) -> str:
        return self.origin

    @property
    def verifier_key(self) -> str:
        """The public key as a signed-note verifier key string, what auditors are given."""
        return encode_verifier_key(self.private_key.public_key(), self.key_name)

    @property
    def public(self) -> VerifierKey:
        return VerifierKey(self.key_name, self.private_key.public_key())

    def sign(self, tree_size: int, root_hash: bytes, issued_at: datetime) -> str:
        """The signed checkpoint note of the tree head."""
        head = TreeHead(self.origin, tree_size, root_hash, issued_at)
        return sign_tree_head(head, self.private_key, self.key_name)


class SigningKeyError(RuntimeError):
    """The configured signing key is missing, unusable or not allowed here."""


def load_signer(settings: AuditSettings) -> TreeHeadSigner:
    """The signer of ``settings``. Development creates its key on first use (mode 600);
    production refuses the development key location and never generates a key."""
    # A relative path is under the platform's home (the checkout or MPA_HOME), not the cwd.
    path = resolve_home_path(settings.signing_key_file)
    password = settings.signing_key_password.get_secret_value().encode() or None
    if settings.environment == Environment.PRODUCTION:
        if path == resolve_home_path(DEV_SIGNING_KEY_FILE):
            raise SigningKeyError(
                "AUDIT_SIGNING_KEY_FILE must name the production tree-head key "
                "(the development key is refused in production)"
            )
        if not path.exists():
            raise SigningKeyError("AUDIT_SIGNING_KEY_FILE does not exist")
    elif password is None:
        return TreeHeadSigner(settings.log_origin, load_or_create_dev_key(path))
    try:
        key = load_private_key_pem(path.read_bytes(), password)
    except (OSError, ValueError) as error:
        raise SigningKeyError(f"cannot load AUDIT_SIGNING_KEY_FILE: {error}") from None
    return TreeHeadSigner(settings.log_origin, key)
