"""A C2SP tlog-witness over HTTP (`POST <url>/add-checkpoint`, `GET <url>/<origin hash>/
checkpoint`), as the tree-head use cases see it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import httpx

from mpa_audit.app.ports import WitnessAnswer
from mpa_audit_verify.cosignature import parse_cosigner_key
from mpa_audit_verify.note import CheckpointError, VerifierKey
from mpa_audit_verify.witness import AddCheckpointRequest, origin_hash
from mpa_common.failures import DependencyUnavailable
from mpa_common.paths import resolve_home_path

TIMEOUT_SECONDS = 10.0
MAX_ANSWER_BYTES = 1 << 16


class WitnessKeyError(ValueError):
    """The witness's configured key cannot be used."""


def read_cosigner_key(value: str) -> VerifierKey:
    """A witness's cosigner key: the verifier key string, or a file holding it (a relative
    path is under the platform's home, like the development keys)."""
    text = value.strip()
    if "+" not in text:
        path = resolve_home_path(Path(text))
        if not path.is_file():
            raise WitnessKeyError(f"witness key file {path} does not exist")
        text = path.read_text(encoding="utf-8").strip()
    try:
        return parse_cosigner_key(text)
    except CheckpointError as error:
        raise WitnessKeyError(f"witness key: {error}") from None


class HttpWitness:
    def __init__(self, url: str, key: VerifierKey, client: httpx.AsyncClient | None = None) -> None:
        self._url = url.rstrip("/")
        self._key = key
        self._client = client or httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False)

    @property
    def key(self) -> VerifierKey:
        return self._key

    async def aclose(self) -> None:
        await self._client.aclose()

    async def add_checkpoint(
        self, old_size: int, proof: Sequence[bytes], checkpoint: str
    ) -> WitnessAnswer:
        body = AddCheckpointRequest(old_size, tuple(proof), checkpoint).encode()
        try:
            response = await self._client.post(
                f"{self._url}/add-checkpoint", content=body, headers={"content-type": "text/plain"}
            )
        except httpx.HTTPError as error:
            raise DependencyUnavailable(
                f"witness {self._key.name}", type(error).__name__
            ) from error
        text = response.text[:MAX_ANSWER_BYTES]
        if response.status_code == 409:
            size = text.strip()
            return WitnessAnswer(
                409, latest_size=int(size) if size.isdigit() else None, reason=text
            )
        if response.status_code >= 500:
            raise DependencyUnavailable(
                f"witness {self._key.name}", f"answered {response.status_code}"
            )
        if response.status_code == 200:
            return WitnessAnswer(200, cosignatures=text)
        return WitnessAnswer(response.status_code, reason=text.strip())

    async def latest_checkpoint(self, origin: str) -> str | None:
        try:
            response = await self._client.get(f"{self._url}/{origin_hash(origin)}/checkpoint")
        except httpx.HTTPError as error:
            raise DependencyUnavailable(
                f"witness {self._key.name}", type(error).__name__
            ) from error
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise DependencyUnavailable(
                f"witness {self._key.name}", f"answered {response.status_code}"
            )
        return response.text[:MAX_ANSWER_BYTES]
