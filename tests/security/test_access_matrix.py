"""The access matrix (issue 12, Proof): every route of every service x every kind of caller,
against the four real service processes (real Kafka and PostgreSQL).

The table below is the expected status of each cell. Its rows are checked against the
services' own OpenAPI documents both ways: a new route without a row fails, and so does a
row for a route that no longer exists. Columns: no token, an expired token, a token of
another issuer, one signed by another key, one whose header names another algorithm
(`RS256` with the platform's Ed25519 key), then the roles (operator, caseworker, supervisor,
partner A, partner B, auditor, admin, PSEA focal point — whose cell a row may leave out when
the focal point is granted nothing there).

Changes are made on ids nothing else depends on (a random id answers 404 to a caller the
route lets through, and 403 to one it does not), so the cells do not depend on their order.
Partner A holds the fixture's referral (accepted) and owns its webhook endpoint and contact;
partner B is another partner of the same country.

Who reads free text (notes, routing explanations) is `test_free_text_*` below.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from mpa_common.auth import AuthSettings, Role, ensure_dev_key, mint_dev_token
from tests.security.conftest import Platform
from tests.security.openapi_walk import operations

pytestmark = pytest.mark.e2e

CALLERS = (
    "none", "expired", "issuer", "key", "alg", "op", "cw", "sv", "pa", "pb", "au", "ad", "pf",
)  # fmt: skip
# The PSEA focal point's column ("pf") may be left out of a row: it then expects what a
# role that is granted nothing gets (200 on public routes, 403 elsewhere).
OPTIONAL_CALLERS = ("pf",)
ROLE_OF = {
    "op": Role.OPERATOR,
    "cw": Role.CASEWORKER,
    "sv": Role.SUPERVISOR,
    "pa": Role.PARTNER,
    "pb": Role.PARTNER,
    "au": Role.AUDITOR,
    "ad": Role.ADMIN,
    "pf": Role.PSEA_FOCAL_POINT,
}
COUNTRY = "XB"  # user-assigned ISO 3166 code: no real directory entry matches it

MATRIX = """
service       method route                                            none exp  iss  key  alg  op   cw   sv   pa   pb   au   ad   pf
audit         GET    /healthz                                         200  200  200  200  200  200  200  200  200  200  200  200
audit         GET    /readyz                                          200  200  200  200  200  200  200  200  200  200  200  200
audit         GET    /v1/audit/cases/{case_id}/timeline               401  401  401  401  401  403  403  403  403  403  200  200
audit         GET    /v1/audit/coverage                               401  401  401  401  401  403  403  403  403  403  200  200
audit         GET    /v1/audit/events                                 401  401  401  401  401  403  403  403  403  403  200  200
audit         GET    /v1/audit/events/{seq}                           401  401  401  401  401  403  403  403  403  403  200  200
audit         GET    /v1/audit/export                                 401  401  401  401  401  403  403  403  403  403  200  200
audit         GET    /v1/audit/health/integrity                       401  401  401  401  401  403  403  403  403  403  200  200
audit         GET    /v1/audit/proofs/consistency                     401  401  401  401  401  403  403  403  403  403  200  200
audit         GET    /v1/audit/proofs/inclusion                       401  401  401  401  401  403  403  403  403  403  200  200
audit         GET    /v1/audit/public-key                             200  200  200  200  200  200  200  200  200  200  200  200
audit         GET    /v1/audit/tree-head                              401  401  401  401  401  403  403  403  403  403  200  200
intake        DELETE /v1/cases/{case_id}/personal-data                401  401  401  401  401  403  403  403  403  403  403  404
intake        GET    /healthz                                         200  200  200  200  200  200  200  200  200  200  200  200
intake        GET    /readyz                                          200  200  200  200  200  200  200  200  200  200  200  200
intake        GET    /v1/cases                                        401  401  401  401  401  200  200  200  403  403  200  403
intake        GET    /v1/cases/{case_id}                              401  401  401  401  401  200  200  403  200  403  403  403
intake        PATCH  /v1/cases/{case_id}                              401  401  401  401  401  200  200  403  403  403  403  403
intake        POST   /v1/cases                                        401  401  401  401  401  201  201  403  403  403  403  403
intake        POST   /v1/duplicate-checks                             401  401  401  401  401  200  200  403  403  403  403  403
intake        POST   /v1/cases/{case_id}/close                        401  401  401  401  401  404  404  403  403  403  403  403
intake        POST   /v1/cases/{case_id}/consent                      401  401  401  401  401  404  404  403  403  403  403  403
intake        POST   /v1/cases/{case_id}/needs                        401  401  401  401  401  404  404  403  403  403  403  403
intake        GET    /v1/cases/{case_id}/casework                     401  401  401  401  401  200  200  200  403  403  403  403
intake        POST   /v1/cases/{case_id}/transfers                    401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/transfers/{transfer_id}/accept 401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/transfers/{transfer_id}/reject 401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/transfers/{transfer_id}/revoke 401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/assessments                  401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/interventions                401  401  401  401  401  404  404  404  403  403  403  403
intake        PATCH  /v1/cases/{case_id}/interventions/{intervention_id} 401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/follow-ups                   401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/follow-ups/{follow_up_id}/done 401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/approvals                    401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/approvals/{approval_id}/decision 401  401  401  401  401  403  403  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/reopen                       401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/contact-checks               401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/feedback                     401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/feedback-invitations         401  401  401  401  401  404  404  404  403  403  403  403
intake        GET    /v1/feedback-invitations/{token}                 404  404  404  404  404  404  404  404  404  404  404  404  404
intake        POST   /v1/feedback-invitations/{token}                 404  404  404  404  404  404  404  404  404  404  404  404  404
intake        GET    /v1/approvals                                    401  401  401  401  401  200  200  200  403  403  403  403
intake        GET    /v1/transfers                                    401  401  401  401  401  200  200  200  403  403  403  403
intake        GET    /v1/reports/casework                             401  401  401  401  401  200  200  200  403  403  200  200
intake        GET    /v1/cases/{case_id}/protection                   401  401  401  401  401  403  200  200  403  403  403  403
intake        GET    /v1/cases/{case_id}/cross-border                 401  401  401  401  401  200  200  200  403  403  403  403
intake        POST   /v1/cases/{case_id}/transfer-consents            401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/transfer-consents/{transfer_consent_id}/withdraw 401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/handoffs                     401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/handoffs/{handoff_id}/accept 401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/handoffs/{handoff_id}/decline 401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/handoffs/{handoff_id}/cancel 401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/handoffs/{handoff_id}/departure 401  401  401  401  401  404  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/handoffs/{handoff_id}/arrival 401  401  401  401  401  404  404  404  403  403  403  403
intake        GET    /v1/handoffs                                     401  401  401  401  401  200  200  200  403  403  403  403
intake        POST   /v1/cases/{case_id}/identification/indicators    401  401  401  401  401  403  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/identification/reasonable-grounds 401  401  401  401  401  403  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/identification/conclusive-grounds 401  401  401  401  401  403  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/identification/appeal        401  401  401  401  401  403  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/identification/appeal/decision 401  401  401  401  401  403  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/reflection-period/extension  401  401  401  401  401  403  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/child/assent                 401  401  401  401  401  403  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/child/guardian               401  401  401  401  401  403  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/child/best-interests/assessments 401  401  401  401  401  403  404  404  403  403  403  403
intake        POST   /v1/cases/{case_id}/child/best-interests/determination 401  401  401  401  401  403  404  404  403  403  403  403
intake        GET    /v1/reports/ctdc                                 401  401  401  401  401  403  403  200  403  403  200  403
intake        POST   /v1/psea/complaints                              401  401  401  401  401  201  201  201  201  201  403  403  201
intake        GET    /v1/psea/complaints                              401  401  401  401  401  403  403  403  403  403  403  403  200
intake        GET    /v1/psea/complaints/{complaint_id}               401  401  401  401  401  403  403  403  403  403  403  403  200
intake        POST   /v1/psea/complaints/{complaint_id}/assistance    401  401  401  401  401  403  403  403  403  403  403  403  404
intake        POST   /v1/psea/complaints/{complaint_id}/allegation-referral 401  401  401  401  401  403  403  403  403  403  403  403  404
intake        POST   /v1/psea/complaints/{complaint_id}/outcome       401  401  401  401  401  403  403  403  403  403  403  403  404
notification  DELETE /v1/contacts/{contact_id}                        401  401  401  401  401  404  404  404  404  404  404  404  404
notification  DELETE /v1/endpoints/{endpoint_id}                      401  401  401  401  401  403  403  403  404  404  403  404
notification  GET    /healthz                                         200  200  200  200  200  200  200  200  200  200  200  200
notification  GET    /readyz                                          200  200  200  200  200  200  200  200  200  200  200  200
notification  GET    /v1/contacts                                     401  401  401  401  401  200  200  200  200  200  200  200  200
notification  GET    /v1/deliveries                                   401  401  401  401  401  403  403  403  200  200  403  200
notification  GET    /v1/deliveries/{delivery_id}                     401  401  401  401  401  403  403  403  404  404  403  404
notification  GET    /v1/endpoints                                    401  401  401  401  401  403  403  403  200  200  403  200
notification  GET    /v1/endpoints/{endpoint_id}                      401  401  401  401  401  403  403  403  200  404  403  200
notification  GET    /v1/event-types                                  401  401  401  401  401  200  200  200  200  200  200  200  200
notification  PATCH  /v1/contacts/{contact_id}                        401  401  401  401  401  404  404  404  200  404  404  200  404
notification  PATCH  /v1/endpoints/{endpoint_id}                      401  401  401  401  401  403  403  403  200  404  403  200
notification  POST   /v1/contacts                                     401  401  401  401  401  201  201  201  403  403  403  201
notification  POST   /v1/deliveries/{delivery_id}/retry               401  401  401  401  401  403  403  403  404  404  403  404
notification  POST   /v1/endpoints                                    401  401  401  401  401  403  403  403  201  403  403  201
notification  POST   /v1/endpoints/{endpoint_id}/recover              401  401  401  401  401  403  403  403  202  404  403  202
notification  POST   /v1/endpoints/{endpoint_id}/rotate-secret        401  401  401  401  401  403  403  403  200  404  403  200
notification  POST   /v1/endpoints/{endpoint_id}/test                 401  401  401  401  401  403  403  403  202  404  403  202
referral      GET    /healthz                                         200  200  200  200  200  200  200  200  200  200  200  200
referral      GET    /readyz                                          200  200  200  200  200  200  200  200  200  200  200  200
referral      GET    /v1/cases/{case_id}/candidates                   401  401  401  401  401  200  200  200  403  403  403  200
referral      GET    /v1/directory/hsds                               401  401  401  401  401  200  200  200  200  200  200  200  200
referral      GET    /v1/partners                                     401  401  401  401  401  200  200  200  200  200  200  200  200
referral      GET    /v1/partners/{partner_id}                        401  401  401  401  401  200  200  200  200  200  200  200  200
referral      GET    /v1/partners/{partner_id}/services               401  401  401  401  401  200  200  200  200  200  200  200  200
referral      GET    /v1/partners/{partner_id}/feedback               401  401  401  401  401  200  200  200  200  404  200  200
referral      GET    /v1/referrals                                    401  401  401  401  401  200  200  200  200  200  200  200
referral      GET    /v1/referrals/{referral_id}                      401  401  401  401  401  200  200  200  200  404  200  200
referral      GET    /v1/referrals/{referral_id}/fhir                 401  401  401  401  401  200  200  200  200  404  200  200
referral      GET    /v1/reports/referrals                            401  401  401  401  401  403  403  200  403  403  200  200
referral      GET    /v1/services                                     401  401  401  401  401  200  200  200  200  200  200  200  200
referral      PATCH  /v1/partners/{partner_id}                        401  401  401  401  401  403  403  403  403  403  403  200
referral      PATCH  /v1/partners/{partner_id}/services/{service_id}  401  401  401  401  401  403  403  403  200  404  403  200
referral      POST   /v1/directory/hsds                               401  401  401  401  401  403  403  403  403  403  403  200
referral      POST   /v1/partners                                     401  401  401  401  401  403  403  403  403  403  403  201
referral      POST   /v1/partners/{partner_id}/services               401  401  401  401  401  403  403  403  403  403  403  201
referral      POST   /v1/referrals                                    401  401  401  401  401  404  404  404  403  403  403  404
referral      POST   /v1/referrals/{referral_id}/accept               401  401  401  401  401  403  403  403  404  404  403  403
referral      POST   /v1/referrals/{referral_id}/cancel               401  401  401  401  401  404  404  404  403  403  403  404
referral      POST   /v1/referrals/{referral_id}/complete             401  401  401  401  401  403  403  403  404  404  403  403
referral      POST   /v1/referrals/{referral_id}/decline              401  401  401  401  401  403  403  403  404  404  403  403
referral      POST   /v1/referrals/{referral_id}/fail                 401  401  401  401  401  403  403  403  404  404  403  403
referral      POST   /v1/referrals/{referral_id}/hold                 401  401  401  401  401  403  403  403  404  404  403  403
referral      POST   /v1/referrals/{referral_id}/resume               401  401  401  401  401  403  403  403  404  404  403  403
referral      POST   /v1/referrals/{referral_id}/start                401  401  401  401  401  403  403  403  404  404  403  403
"""


# ---- callers ----------------------------------------------------------------------------


def _bad_tokens(tmp: Path) -> dict[str, str]:
    now = int(time.time())
    settings = AuthSettings()
    claims = {"sub": "bad", "roles": ["admin"], "iss": settings.auth_issuer,
              "aud": settings.auth_audience, "iat": now - 7200, "exp": now - 3600}  # fmt: skip
    key = ensure_dev_key(settings.dev_key_path)
    other_key = ensure_dev_key(tmp / "other-key.pem")
    fresh = {**claims, "iat": now, "exp": now + 3600}
    header = jwt.utils.base64url_encode(b'{"alg":"RS256","typ":"JWT"}').decode()
    return {
        "expired": jwt.encode(claims, key, algorithm="EdDSA"),
        "issuer": jwt.encode({**fresh, "iss": "urn:someone-else"}, key, algorithm="EdDSA"),
        "key": jwt.encode(fresh, other_key, algorithm="EdDSA"),
        "alg": f"{header}.{jwt.encode(fresh, key, algorithm='EdDSA').split('.', 1)[1]}",
    }


@dataclass
class World:
    """What the fixture made, through the public APIs."""

    platform: Platform
    tokens: dict[str, str]
    partner_a: str = ""
    partner_b: str = ""
    service_a: str = ""
    case_x: str = ""
    need_x: str = ""
    referral_a: str = ""
    endpoint_a: str = ""
    contact_a: str = ""
    complaint: str = ""
    free_text: dict[str, Any] = field(default_factory=dict)

    def headers(self, caller: str) -> dict[str, str]:
        token = self.tokens.get(caller)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def call(self, service: str, method: str, path: str, caller: str, **kwargs: Any
             ) -> httpx.Response:  # fmt: skip
        return httpx.request(
            method, self.platform.urls[service] + path, headers=self.headers(caller),
            timeout=30, **kwargs,
        )  # fmt: skip

    def ok(self, service: str, method: str, path: str, caller: str, **kwargs: Any) -> Any:
        response = self.call(service, method, path, caller, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json() if response.content else None


def eventually(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def a_case(need: str = "shelter") -> dict[str, Any]:
    return {
        "person": {
            "given_name": "Fictional",
            "family_name": "Person",
            "estimated_age": 30,
            "sex": "female",
            "languages": ["fr"],
        },
        "location": {"country": COUNTRY},
        "needs": [{"category": need, "urgency": "high", "note": "NEED-NOTE-do-not-leak"}],
        "consent": {
            "given": True,
            "details": {
                "scopes": ["referral", "data_sharing"],
                "given_by": "self",
                "method": "verbal",
                "obtained_at": "2026-03-02T09:15:00Z",
            },
        },
        "safety": {"do_not_contact": False, "safe_contact_method": "through_caseworker"},
    }


def _referrals_of(world: World, case_id: str) -> list[dict[str, Any]]:
    page = world.ok("referral", "GET", "/v1/referrals", "op", params={"case_id": case_id})
    return [r for r in page["items"] if r["state"] == "routed"]


@pytest.fixture(scope="session")
def world(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> World:
    tokens = _bad_tokens(tmp_path_factory.mktemp("keys"))
    partners = []
    world = World(platform, tokens)
    for name in ("op", "cw", "sv", "au", "ad", "pf"):
        # One country office and one team: every case here is within their scopes (the
        # scopes themselves are proven by tests/integration/test_intake_scopes.py).
        tokens[name] = mint_dev_token(
            [ROLE_OF[name]], subject=f"matrix-{name}", country=COUNTRY, team="matrix-team"
        )
    for _ in range(2):
        partner = world.ok("referral", "POST", "/v1/partners", "ad", json={
            "code": f"M-{uuid.uuid4().hex[:8].upper()}", "name": "Matrix partner",
            "partner_type": "civil_society_organisation", "countries": [COUNTRY],
            "contacts": [{"label": "Desk", "email": "desk@partner.example"}]})  # fmt: skip
        service = world.ok("referral", "POST", f"/v1/partners/{partner['id']}/services", "ad",
                           json={"name": "Shelter", "category": "shelter",
                                 "coverage": [{"country": COUNTRY}], "languages": ["fr"]})  # fmt: skip
        partners.append((partner["id"], service["id"]))
    case = world.ok("intake", "POST", "/v1/cases", "cw", json=a_case())
    world.case_x, world.need_x = case["case_id"], case["need_ids"][0]
    referral = eventually(lambda: _referrals_of(world, world.case_x), "case X routed")[0]
    world.referral_a = referral["id"]
    # Partner A is whoever routing chose; partner B the other.
    world.partner_a = referral["partner_id"]
    world.partner_b, world.service_a = (
        next((p for p, _ in partners if p != world.partner_a), ""),
        next(s for p, s in partners if p == world.partner_a),
    )
    for name, partner in (("pa", world.partner_a), ("pb", world.partner_b)):
        tokens[name] = mint_dev_token(
            [Role.PARTNER], subject=f"matrix-{name}", partner_id=uuid.UUID(partner)
        )
    world.ok("referral", "POST", f"/v1/referrals/{world.referral_a}/accept", "pa")
    eventually(
        lambda: world.call("intake", "GET", f"/v1/cases/{world.case_x}", "pa").status_code == 200,
        "partner A's access to case X",
    )
    world.endpoint_a = world.ok("notification", "POST", "/v1/endpoints", "pa", json={
        "url": platform.receiver_url, "event_types": ["org.mpa.referral.routed.v1"]})["id"]  # fmt: skip
    world.contact_a = world.ok("notification", "POST", "/v1/contacts", "pa", json={
        "kind": "partner", "partner_id": world.partner_a, "email": "a@partner.example",
        "language": "en"})["id"]  # fmt: skip
    # A PSEA complaint (filed by a caseworker, the focal point's alone from then on).
    world.complaint = world.ok("intake", "POST", "/v1/psea/complaints", "cw", json={
        "allegation_type": "sexual_abuse", "account": "MATRIX-ACCOUNT-do-not-leak",
        "implicated_partner_id": world.partner_b, "assistance_consent": False,
        "identity_consent": False})["complaint_id"]  # fmt: skip
    # Free text: a second case, declined with a note by its first partner, re-routed.
    case_y = world.ok("intake", "POST", "/v1/cases", "cw", json=a_case())["case_id"]
    first = eventually(lambda: _referrals_of(world, case_y), "case Y routed")[0]
    decliner = "pa" if first["partner_id"] == world.partner_a else "pb"
    note = f"DECLINE-NOTE-{uuid.uuid4().hex[:8]}"
    world.ok("referral", "POST", f"/v1/referrals/{first['id']}/decline", decliner,
             json={"reason": "lack_of_capacity", "note": note})  # fmt: skip

    def rerouted() -> dict[str, Any] | None:
        detail = world.ok("referral", "GET", f"/v1/referrals/{first['id']}", "ad")
        holder = detail["partner_id"]
        return detail if detail["state"] == "routed" and holder != first["partner_id"] else None

    eventually(rerouted, "case Y re-routed to the other partner")
    world.free_text = {"referral": first["id"], "note": note, "decliner": decliner,
                       "holder": "pb" if decliner == "pa" else "pa"}  # fmt: skip
    eventually(
        lambda: world.call("audit", "GET", "/v1/audit/tree-head", "au").status_code == 200,
        "a signed tree head",
    )
    return world


# ---- one request per route --------------------------------------------------------------

Request = tuple[str, dict[str, Any]]  # (path, httpx keyword arguments)
RANDOM = "00000000-0000-4000-8000-000000000001"  # an id that names nothing
SINCE = {"since": "2026-01-01T00:00:00Z"}


def _requests(w: World, caller: str) -> dict[tuple[str, str, str], Request]:
    """The request each row sends: real ids for reads, harmless or random targets for
    changes. Keyed by (service, method, OpenAPI path)."""
    x, r, e, c = w.case_x, w.referral_a, w.endpoint_a, w.contact_a
    # Partner B is sent at partner A's things (404); everyone else at a random id.
    theirs_or_random_referral = r if caller == "pb" else RANDOM
    theirs_or_random_endpoint = e if caller == "pb" else RANDOM
    note = {"note": "matrix"}
    return {
        **{(s, "GET", "/healthz"): ("/healthz", {}) for s in w.platform.urls},
        **{(s, "GET", "/readyz"): ("/readyz", {}) for s in w.platform.urls},
        # intake
        ("intake", "POST", "/v1/cases"): ("/v1/cases", {"json": a_case()}),
        ("intake", "GET", "/v1/cases"): ("/v1/cases", {}),
        ("intake", "POST", "/v1/duplicate-checks"): (
            "/v1/duplicate-checks", {"json": {"given_name": "Nobody", "family_name": "Matrix",
                                              "date_of_birth": "1990-01-01"}}),
        ("intake", "GET", "/v1/cases/{case_id}"): (f"/v1/cases/{x}", {}),
        ("intake", "PATCH", "/v1/cases/{case_id}"): (
            f"/v1/cases/{x}", {"json": {"vulnerabilities": ["trafficking_victim"]}}),
        ("intake", "POST", "/v1/cases/{case_id}/needs"): (
            f"/v1/cases/{RANDOM}/needs", {"json": {"needs": [{"category": "legal_aid",
                                                                "urgency": "low"}]}}),
        ("intake", "POST", "/v1/cases/{case_id}/consent"): (
            f"/v1/cases/{RANDOM}/consent", {"json": {"action": "withdraw",
                                                      "scopes": ["referral"]}}),
        ("intake", "POST", "/v1/cases/{case_id}/close"): (
            f"/v1/cases/{RANDOM}/close", {"json": {"reason": "needs_met"}}),
        ("intake", "DELETE", "/v1/cases/{case_id}/personal-data"): (
            f"/v1/cases/{RANDOM}/personal-data", {}),
        # intake: casework (random targets: the route answers 404 to whom it lets through)
        ("intake", "GET", "/v1/cases/{case_id}/casework"): (f"/v1/cases/{x}/casework", {}),
        ("intake", "POST", "/v1/cases/{case_id}/transfers"): (
            f"/v1/cases/{RANDOM}/transfers", {"json": {"to_team": "matrix-other"}}),
        **{
            ("intake", "POST", f"/v1/cases/{{case_id}}/transfers/{{transfer_id}}/{step}"): (
                f"/v1/cases/{RANDOM}/transfers/{RANDOM}/{step}", {"json": note})
            for step in ("accept", "reject", "revoke")
        },
        ("intake", "POST", "/v1/cases/{case_id}/assessments"): (
            f"/v1/cases/{RANDOM}/assessments", {"json": {
                "assessed_at": "2026-03-01T00:00:00Z", "risk_level": "low"}}),
        ("intake", "POST", "/v1/cases/{case_id}/interventions"): (
            f"/v1/cases/{RANDOM}/interventions", {"json": {"target_at": "2026-04-01T00:00:00Z"}}),
        ("intake", "PATCH", "/v1/cases/{case_id}/interventions/{intervention_id}"): (
            f"/v1/cases/{RANDOM}/interventions/{RANDOM}", {"json": {"status": "done"}}),
        ("intake", "POST", "/v1/cases/{case_id}/follow-ups"): (
            f"/v1/cases/{RANDOM}/follow-ups", {"json": {
                "follow_up_type": "phone_call", "due_at": "2099-01-01T00:00:00Z"}}),
        ("intake", "POST", "/v1/cases/{case_id}/follow-ups/{follow_up_id}/done"): (
            f"/v1/cases/{RANDOM}/follow-ups/{RANDOM}/done", {"json": {"outcome": "reached"}}),
        ("intake", "POST", "/v1/cases/{case_id}/approvals"): (
            f"/v1/cases/{RANDOM}/approvals", {"json": {"subject": "case_plan"}}),
        ("intake", "POST", "/v1/cases/{case_id}/approvals/{approval_id}/decision"): (
            f"/v1/cases/{RANDOM}/approvals/{RANDOM}/decision", {"json": {"decision": "approved"}}),
        ("intake", "POST", "/v1/cases/{case_id}/reopen"): (
            f"/v1/cases/{RANDOM}/reopen", {"json": {"reason": "new_need"}}),
        ("intake", "POST", "/v1/cases/{case_id}/contact-checks"): (
            f"/v1/cases/{RANDOM}/contact-checks", {"json": {"channel": "sms"}}),
        ("intake", "POST", "/v1/cases/{case_id}/feedback"): (
            f"/v1/cases/{RANDOM}/feedback", {"json": {"referral_id": RANDOM,
                                                     "received": "received"}}),
        ("intake", "POST", "/v1/cases/{case_id}/feedback-invitations"): (
            f"/v1/cases/{RANDOM}/feedback-invitations", {"json": {"referral_id": RANDOM,
                                                                 "channel": "sms"}}),
        # the person's own link: no sign-in, so an unknown token is 404 for everyone
        ("intake", "GET", "/v1/feedback-invitations/{token}"): (
            "/v1/feedback-invitations/unknown-token", {}),
        ("intake", "POST", "/v1/feedback-invitations/{token}"): (
            "/v1/feedback-invitations/unknown-token", {"json": {"received": "received"}}),
        ("intake", "GET", "/v1/transfers"): ("/v1/transfers", {}),
        ("intake", "GET", "/v1/approvals"): ("/v1/approvals", {}),
        ("intake", "GET", "/v1/reports/casework"): ("/v1/reports/casework", {}),
        # intake: cross-border work (issue 17)
        ("intake", "GET", "/v1/cases/{case_id}/cross-border"): (f"/v1/cases/{x}/cross-border", {}),
        ("intake", "POST", "/v1/cases/{case_id}/transfer-consents"): (
            f"/v1/cases/{RANDOM}/transfer-consents", {"json": {
                "destination_countries": ["ML"], "given_by": "self", "method": "written",
                "obtained_at": "2026-03-01T00:00:00Z"}}),
        ("intake", "POST", "/v1/cases/{case_id}/transfer-consents/{transfer_consent_id}/withdraw"): (
            f"/v1/cases/{RANDOM}/transfer-consents/{RANDOM}/withdraw", {"json": {}}),
        ("intake", "POST", "/v1/cases/{case_id}/handoffs"): (
            f"/v1/cases/{RANDOM}/handoffs", {"json": {
                "to_country": "ML", "planned_travel_at": "2099-01-01T00:00:00Z"}}),
        **{
            ("intake", "POST", f"/v1/cases/{{case_id}}/handoffs/{{handoff_id}}/{step}"): (
                f"/v1/cases/{RANDOM}/handoffs/{RANDOM}/{step}", {"json": body})
            for step, body in {
                "accept": None,
                "decline": {"reason": "no_capacity"},
                "cancel": {"reason": "travel_cancelled"},
                "departure": {"departed_at": "2026-03-01T00:00:00Z"},
                "arrival": {"arrived_at": "2026-03-01T00:00:00Z"},
            }.items()
        },
        ("intake", "GET", "/v1/handoffs"): ("/v1/handoffs", {}),
        # intake: protection (issue 17)
        ("intake", "GET", "/v1/cases/{case_id}/protection"): (f"/v1/cases/{x}/protection", {}),
        **{
            ("intake", "POST", f"/v1/cases/{{case_id}}/{step}"): (
                f"/v1/cases/{RANDOM}/{step}", {"json": body})
            for step, body in {
                "identification/indicators": {},
                "identification/reasonable-grounds": {
                    "decided_at": "2026-03-01T00:00:00Z", "deciding_organisation_type": "competent_authority",
                    "basis": "indicators_assessment"},
                "identification/conclusive-grounds": {
                    "outcome": "identified", "decided_at": "2026-03-01T00:00:00Z",
                    "deciding_organisation_type": "competent_authority"},
                "identification/appeal": {"lodged_at": "2026-03-01T00:00:00Z"},
                "identification/appeal/decision": {"outcome": "upheld", "decided_at": "2026-03-01T00:00:00Z"},
                "reflection-period/extension": {"extension_days": 10, "reason": "safety"},
                "child/assent": {"consent_given_by": "parent", "assent": "given"},
                "child/guardian": {"appointed_at": "2026-03-01T00:00:00Z", "appointing_authority": "court"},
                "child/best-interests/assessments": {
                    "assessed_at": "2026-03-01T00:00:00Z", "recommendation": "alternative_care"},
                "child/best-interests/determination": {
                    "determined_at": "2026-03-01T00:00:00Z", "panel_size": 3, "decision": "alternative_care",
                    "assessment_id": RANDOM, "approval_id": RANDOM},
            }.items()
        },
        ("intake", "GET", "/v1/reports/ctdc"): ("/v1/reports/ctdc", {}),
        # intake: PSEA (steps on a random complaint; the record itself for reads)
        # The receiving country office named: partner staff's tokens name none.
        ("intake", "POST", "/v1/psea/complaints"): ("/v1/psea/complaints", {"json": {
            "allegation_type": "sexual_exploitation", "account": "matrix",
            "assistance_consent": False, "identity_consent": False, "country": COUNTRY}}),
        ("intake", "GET", "/v1/psea/complaints"): ("/v1/psea/complaints", {}),
        ("intake", "GET", "/v1/psea/complaints/{complaint_id}"): (
            f"/v1/psea/complaints/{w.complaint}", {}),
        ("intake", "POST", "/v1/psea/complaints/{complaint_id}/assistance"): (
            f"/v1/psea/complaints/{RANDOM}/assistance", {"json": {"decision": "declined"}}),
        ("intake", "POST", "/v1/psea/complaints/{complaint_id}/allegation-referral"): (
            f"/v1/psea/complaints/{RANDOM}/allegation-referral", {"json": {}}),
        ("intake", "POST", "/v1/psea/complaints/{complaint_id}/outcome"): (
            f"/v1/psea/complaints/{RANDOM}/outcome", {"json": {"outcome": "unsubstantiated"}}),
        # referral: directory
        ("referral", "POST", "/v1/partners"): ("/v1/partners", {"json": {
            "code": f"M-{uuid.uuid4().hex[:8].upper()}", "name": "New partner",
            "partner_type": "civil_society_organisation", "countries": [COUNTRY]}}),
        ("referral", "GET", "/v1/partners"): ("/v1/partners", {"params": {"country": COUNTRY}}),
        ("referral", "GET", "/v1/partners/{partner_id}"): (f"/v1/partners/{w.partner_b}", {}),
        ("referral", "PATCH", "/v1/partners/{partner_id}"): (
            f"/v1/partners/{w.partner_b}", {"json": {"name": "Matrix partner B"}}),
        ("referral", "POST", "/v1/partners/{partner_id}/services"): (
            f"/v1/partners/{w.partner_b}/services", {"json": {
                "name": "Legal aid", "category": "legal_aid", "coverage": [{"country": COUNTRY}],
                "languages": ["fr"]}}),
        ("referral", "GET", "/v1/partners/{partner_id}/feedback"): (
            f"/v1/partners/{w.partner_a}/feedback", {}),
        ("referral", "GET", "/v1/partners/{partner_id}/services"): (
            f"/v1/partners/{w.partner_a}/services", {}),
        ("referral", "PATCH", "/v1/partners/{partner_id}/services/{service_id}"): (
            f"/v1/partners/{w.partner_a}/services/{w.service_a}",
            {"json": {"capacity_available": 7}}),
        ("referral", "GET", "/v1/services"): ("/v1/services", {"params": {"country": COUNTRY}}),
        ("referral", "GET", "/v1/directory/hsds"): ("/v1/directory/hsds", {}),
        ("referral", "POST", "/v1/directory/hsds"): (
            "/v1/directory/hsds", {"json": {"organizations": [], "services": []}}),
        # referral: referrals
        ("referral", "POST", "/v1/referrals"): (
            "/v1/referrals", {"json": {"case_id": RANDOM, "need_id": RANDOM}}),
        ("referral", "GET", "/v1/referrals"): ("/v1/referrals", {}),
        ("referral", "GET", "/v1/referrals/{referral_id}"): (f"/v1/referrals/{r}", {}),
        ("referral", "GET", "/v1/referrals/{referral_id}/fhir"): (f"/v1/referrals/{r}/fhir", {}),
        **{
            ("referral", "POST", f"/v1/referrals/{{referral_id}}/{action}"): (
                f"/v1/referrals/{theirs_or_random_referral}/{action}", {"json": body})
            for action, body in {
                "accept": note, "start": note, "resume": note,
                "decline": {"reason": "lack_of_capacity"}, "hold": {"reason": "other"},
                "complete": {"outcome": "service_provided"}, "fail": {"reason": "not_eligible"},
                "cancel": {"reason": "duplicate"},
            }.items()
        },
        ("referral", "GET", "/v1/cases/{case_id}/candidates"): (
            f"/v1/cases/{x}/candidates", {"params": {"need": w.need_x}}),
        ("referral", "GET", "/v1/reports/referrals"): ("/v1/reports/referrals", {"params": {
            "from": "2026-01-01T00:00:00Z", "to": "2099-01-01T00:00:00Z"}}),
        # notification
        ("notification", "GET", "/v1/event-types"): ("/v1/event-types", {}),
        ("notification", "POST", "/v1/endpoints"): ("/v1/endpoints", {"json": {
            "url": w.platform.receiver_url, "event_types": ["org.mpa.referral.routed.v1"],
            "partner_id": w.partner_a}}),
        ("notification", "GET", "/v1/endpoints"): ("/v1/endpoints", {}),
        ("notification", "GET", "/v1/endpoints/{endpoint_id}"): (f"/v1/endpoints/{e}", {}),
        ("notification", "PATCH", "/v1/endpoints/{endpoint_id}"): (
            f"/v1/endpoints/{e}", {"json": {"description": "matrix"}}),
        ("notification", "DELETE", "/v1/endpoints/{endpoint_id}"): (
            f"/v1/endpoints/{theirs_or_random_endpoint}", {}),
        ("notification", "POST", "/v1/endpoints/{endpoint_id}/rotate-secret"): (
            f"/v1/endpoints/{e}/rotate-secret", {}),
        ("notification", "POST", "/v1/endpoints/{endpoint_id}/test"): (
            f"/v1/endpoints/{e}/test", {}),
        ("notification", "POST", "/v1/endpoints/{endpoint_id}/recover"): (
            f"/v1/endpoints/{e}/recover", {"params": SINCE}),
        ("notification", "GET", "/v1/deliveries"): ("/v1/deliveries", {}),
        ("notification", "GET", "/v1/deliveries/{delivery_id}"): (
            f"/v1/deliveries/{RANDOM}", {}),
        ("notification", "POST", "/v1/deliveries/{delivery_id}/retry"): (
            f"/v1/deliveries/{RANDOM}/retry", {}),
        ("notification", "POST", "/v1/contacts"): ("/v1/contacts", {"json": {
            "kind": "referrer", "email": f"{caller}@matrix.example", "language": "en"}}),
        ("notification", "GET", "/v1/contacts"): ("/v1/contacts", {}),
        ("notification", "PATCH", "/v1/contacts/{contact_id}"): (
            f"/v1/contacts/{c}", {"json": {"language": "fr"}}),
        ("notification", "DELETE", "/v1/contacts/{contact_id}"): (
            f"/v1/contacts/{c if caller == 'pb' else RANDOM}", {}),
        # audit
        ("audit", "GET", "/v1/audit/events"): ("/v1/audit/events", {"params": {"limit": 5}}),
        ("audit", "GET", "/v1/audit/events/{seq}"): ("/v1/audit/events/0", {}),
        ("audit", "GET", "/v1/audit/cases/{case_id}/timeline"): (
            f"/v1/audit/cases/{x}/timeline", {}),
        ("audit", "GET", "/v1/audit/tree-head"): ("/v1/audit/tree-head", {}),
        ("audit", "GET", "/v1/audit/public-key"): ("/v1/audit/public-key", {}),
        ("audit", "GET", "/v1/audit/proofs/inclusion"): (
            "/v1/audit/proofs/inclusion", {"params": {"seq": 0}}),
        ("audit", "GET", "/v1/audit/proofs/consistency"): (
            "/v1/audit/proofs/consistency", {"params": {"first": 1}}),
        ("audit", "GET", "/v1/audit/export"): ("/v1/audit/export", {"params": {"start": 0}}),
        ("audit", "GET", "/v1/audit/coverage"): ("/v1/audit/coverage", {}),
        ("audit", "GET", "/v1/audit/health/integrity"): ("/v1/audit/health/integrity", {}),
    }  # fmt: skip


def parse_matrix(text: str) -> dict[tuple[str, str, str], dict[str, int]]:
    rows: dict[tuple[str, str, str], dict[str, int]] = {}
    lines = [line.split() for line in text.strip().splitlines()]
    for cells in lines[1:]:
        service, method, route, *statuses = cells
        given = len(statuses)
        assert len(CALLERS) - len(OPTIONAL_CALLERS) <= given <= len(CALLERS), (
            f"{method} {route}: {given} cells"
        )
        row = dict(zip(CALLERS, map(int, statuses), strict=False))
        for caller in CALLERS[given:]:
            row[caller] = 200 if row["none"] == 200 else 403
        rows[(service, method, route)] = row
    return rows


def documented_routes(platform: Platform) -> set[tuple[str, str, str]]:
    routes = set()
    for service, url in platform.urls.items():
        document = httpx.get(f"{url}/openapi.json", timeout=10).json()
        routes |= {(service, method, path) for method, path, _ in operations(document)}
    return routes


def test_every_route_of_every_service_has_a_row(platform: Platform) -> None:
    expected = set(parse_matrix(MATRIX))
    documented = documented_routes(platform)
    assert documented - expected == set(), "routes without a matrix row"
    assert expected - documented == set(), "matrix rows for routes that do not exist"


def test_the_access_matrix_holds(world: World) -> None:
    expected = parse_matrix(MATRIX)
    wrong = []
    for caller in CALLERS:
        requests = _requests(world, caller)
        for key, statuses in expected.items():
            service, method, _ = key
            path, kwargs = requests[key]
            response = world.call(service, method, path, caller, **kwargs)
            if response.status_code != statuses[caller]:
                wrong.append(f"{method} {path} as {caller}: {response.status_code} "
                             f"(expected {statuses[caller]}) {response.text[:160]}")  # fmt: skip
            if response.status_code >= 400:
                assert response.headers["content-type"] == "application/problem+json"
    cells = len(expected) * len(CALLERS)
    print(f"\naccess matrix: {len(expected)} routes x {len(CALLERS)} callers = {cells} cells")
    assert not wrong, "\n".join(wrong)


# ---- who reads free text ----------------------------------------------------------------


def _detail(world: World, caller: str) -> httpx.Response:
    return world.call("referral", "GET", f"/v1/referrals/{world.free_text['referral']}", caller)


@pytest.mark.parametrize("caller", ["op", "cw", "sv", "ad"])
def test_free_text_referrers_read_the_decline_note(world: World, caller: str) -> None:
    response = _detail(world, caller)
    assert response.status_code == 200
    assert world.free_text["note"] in response.text


def test_free_text_the_decliner_no_longer_sees_the_referral(world: World) -> None:
    assert _detail(world, world.free_text["decliner"]).status_code == 404


# Finding 3 of issue 12: the next partner reads neither the decliner's note nor any other
# candidate's line of the explanation; the auditor reads actions, not notes.
def test_free_text_the_next_partner_reads_neither_the_note_nor_others_lines(world: World) -> None:
    holder = world.free_text["holder"]
    response = _detail(world, holder)
    assert response.status_code == 200
    assert world.free_text["note"] not in response.text
    own = world.partner_a if holder == "pa" else world.partner_b
    for attempt in response.json()["explanation"]:
        assert {c["partner_id"] for c in attempt["candidates"]} <= {own}


def test_free_text_the_auditor_reads_actions_not_notes(world: World) -> None:
    response = _detail(world, "au")
    assert response.status_code == 200
    assert world.free_text["note"] not in response.text


def test_free_text_a_partner_reads_only_the_case_fields_its_referral_needs(world: World) -> None:
    """Intake's disclosure: partner A reads case X (its accepted referral) and partner B
    does not; the read is for service delivery."""
    assert world.call("intake", "GET", f"/v1/cases/{world.case_x}", "pa").status_code == 200
    assert world.call("intake", "GET", f"/v1/cases/{world.case_x}", "pb").status_code == 403
