"""`mpa demo`: walks one fictional referral through the running platform, step by step.

It uses only the public HTTP APIs, with development tokens, and prints each request and the
part of the answer that matters, so a new user sees the platform at work and can repeat any
step with curl (docs/walkthrough.md has the same steps as curl commands). The person is
fictional; their data stays in the intake service, as for a real case.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import typer

from mpa_common.auth import Role, mint_dev_token

demo_app = typer.Typer(help="Walk one fictional referral through the running platform.")

FICTIONAL_CASE: dict[str, Any] = {
    "person": {
        "given_name": "Amina",
        "family_name": "Exemple",
        "estimated_age": 16,
        "sex": "female",
        "nationality": "NG",
        "languages": ["ha", "fr"],
    },
    "location": {"country": "NE", "admin_area": "NE-8"},
    "vulnerabilities": ["separated_child"],
    "needs": [{"category": "shelter", "urgency": "high"}],
    "consent": {
        "given": True,
        "details": {
            "scopes": ["referral", "data_sharing"],
            "given_by": "legal_guardian",
            "method": "verbal",
            "obtained_at": "2026-03-02T09:15:00Z",
        },
    },
    "safety": {"do_not_contact": False, "safe_contact_method": "through_caseworker"},
}


@dataclass
class Platform:
    intake: str
    referral: str
    audit: str
    client: httpx.Client

    def call(
        self,
        method: str,
        url: str,
        token: str,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        typer.secho(f"  {method} {url}", fg=typer.colors.BRIGHT_BLACK)
        response = self.client.request(
            method, url, headers={"Authorization": f"Bearer {token}", **(headers or {})}, **kwargs
        )
        if response.status_code >= 400:
            typer.secho(f"  -> {response.status_code} {response.text[:300]}", fg=typer.colors.RED)
            raise typer.Exit(1)
        return response.json() if response.content else None


def _step(number: int, text: str) -> None:
    typer.secho(f"\n{number}. {text}", bold=True)


def _wait_for(what: str, probe: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := probe():
            return found
        time.sleep(0.5)
    typer.secho(f"  gave up waiting for {what} after {timeout:.0f} s", fg=typer.colors.RED)
    raise typer.Exit(1)


@demo_app.callback(invoke_without_command=True)
def demo(
    intake: str = typer.Option("http://127.0.0.1:8001", help="Intake service URL"),
    referral: str = typer.Option("http://127.0.0.1:8002", help="Referral service URL"),
    audit: str = typer.Option("http://127.0.0.1:8004", help="Audit service URL"),
) -> None:
    """Register a fictional case, watch it routed, accept, start and complete the referral."""
    platform = Platform(intake, referral, audit, httpx.Client(timeout=15))
    operator = mint_dev_token([Role.OPERATOR], subject="demo-operator")
    try:
        run_walkthrough(platform, operator)
    except httpx.TransportError as error:
        typer.secho(
            f"Cannot reach the platform ({error}). Start it first: make run", fg=typer.colors.RED
        )
        raise typer.Exit(1) from error


def run_walkthrough(platform: Platform, operator: str) -> None:
    _step(1, "A hotline operator registers a separated child who needs shelter (fictional).")
    case = platform.call(
        "POST",
        f"{platform.intake}/v1/cases",
        operator,
        # A retry with the same key would return this case instead of registering it again.
        headers={"Idempotency-Key": str(uuid.uuid4())},
        json=FICTIONAL_CASE,
    )
    case_id = case["case_id"]
    typer.echo(f"  case {case.get('reference', '')} registered: {case_id}")
    typer.echo("  (only pseudonymous routing attributes leave intake, on mpa.case.v1)")

    _step(2, "The referral service routes each need, plus the mandatory child-protection referral.")

    def routed() -> list[dict[str, Any]]:
        page = platform.call(
            "GET", f"{platform.referral}/v1/referrals", operator, params={"case_id": case_id}
        )
        items: list[dict[str, Any]] = page["items"]
        return items if items and all(r["state"] != "requested" for r in items) else []

    referrals = _wait_for("routing", routed)
    for item in referrals:
        typer.echo(
            f"  {item['category']:17} -> {item['state']:10} partner {item['partner_id']}"
            + (f"  (rule: {item['mandatory_rule']})" if item.get("mandatory_rule") else "")
        )
    shelter = next((r for r in referrals if r["category"] == "shelter"), referrals[0])
    referral_id = shelter["id"]

    _step(3, "Why that partner? Every candidate considered, the rule it met or failed, its score.")
    detail = platform.call("GET", f"{platform.referral}/v1/referrals/{referral_id}", operator)
    for attempt in detail["explanation"][:1]:
        for candidate in attempt["candidates"][:6]:
            score = f"{candidate['score']:.3f}" if candidate["score"] is not None else "  -  "
            typer.echo(
                f"  rank {candidate['rank'] or '-':>2}  score {score}  {candidate['rule']:28}"
                f" service {candidate['service_id']}"
            )

    partner_id = detail["partner_id"]
    partner = mint_dev_token(
        [Role.PARTNER], subject="demo-partner", partner_id=uuid.UUID(partner_id)
    )
    _step(4, "The partner sees the referral in its inbox and accepts it.")
    inbox = platform.call(
        "GET", f"{platform.referral}/v1/referrals", partner, params={"state": "routed"}
    )
    typer.echo(f"  the partner's inbox holds {len(inbox['items'])} routed referral(s)")
    accepted = platform.call(
        "POST", f"{platform.referral}/v1/referrals/{referral_id}/accept", partner
    )
    typer.echo(f"  accept   -> {accepted['state']}")

    _step(5, "Having accepted, the partner may read the personal data the referral needs.")
    typer.echo("  (intake learns of the acceptance from mpa.referral.v1, a moment later)")
    case_url = f"{platform.intake}/v1/cases/{case_id}"
    seen = _wait_for(
        "intake to grant the partner access",
        lambda: _json_if_ok(platform.client.get(case_url, headers=_bearer(partner))),
        timeout=20,
    )
    typer.echo(
        f"  GET {case_url} -> fields disclosed: {', '.join(sorted(_leaf_fields(seen)))}"[:400]
    )
    typer.echo(
        "  (that read is an org.mpa.access.personal_data_accessed.v1 event for the audit log)"
    )

    _step(6, "The partner starts and completes the service; its access to the data ends.")
    for action, body in (("start", None), ("complete", {"outcome": "service_provided"})):
        state = platform.call(
            "POST", f"{platform.referral}/v1/referrals/{referral_id}/{action}", partner, json=body
        )
        typer.echo(f"  {action:8} -> {state['state']}")

    _step(7, "The referral as an HL7 FHIR R4 Task.")
    task = platform.call("GET", f"{platform.referral}/v1/referrals/{referral_id}/fhir", partner)
    typer.echo(f"  Task {task.get('id')}: status={task.get('status')} intent={task.get('intent')}")

    _step(8, "The auditor's view: the case's whole story, in order, from every service.")
    auditor = mint_dev_token([Role.AUDITOR], subject="demo-auditor")
    try:
        timeline = _wait_for(
            "the audit log",
            lambda: _timeline(platform, auditor, case_id),
            timeout=20,
        )
        for entry in timeline[-14:]:
            event = entry.get("event", {})
            origin = entry.get("origin", {})
            typer.echo(f"  #{entry.get('seq'):<6} {origin.get('topic', ''):20} {event.get('type')}")
    except typer.Exit:
        typer.echo("  (the audit service is not answering yet; try again in a moment)")

    stamp = datetime.now(UTC).strftime("%H:%M:%S")
    typer.secho(f"\nDone at {stamp}. Repeat any step with curl: docs/walkthrough.md", bold=True)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _json_if_ok(response: httpx.Response) -> Any:
    return response.json() if response.status_code == 200 else None


def _timeline(platform: Platform, token: str, case_id: str) -> list[dict[str, Any]]:
    response = platform.client.get(
        f"{platform.audit}/v1/audit/cases/{case_id}/timeline",
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status_code != 200:
        return []
    events: list[dict[str, Any]] = response.json().get("events", [])
    # Registered, requested, routed (x2), accepted, read, started, completed: wait for most.
    return events if len(events) >= 8 else []


def _leaf_fields(document: Any, prefix: str = "") -> set[str]:
    """Dotted names of the fields present in a JSON document (values are not printed)."""
    if isinstance(document, dict):
        fields: set[str] = set()
        for key, value in document.items():
            fields |= _leaf_fields(value, f"{prefix}{key}.")
        return fields
    return {prefix.rstrip(".")} if document is not None else set()
