"""The web console in a real browser: Debian's Chromium driven by Playwright, against the four
services and the console as real processes on the real Kafka and PostgreSQL.

The story (issue 15): an operator registers a case with two needs and consent; both are
routed; the partner accepts one and declines the other, which is re-routed to another
partner; the first is completed with an outcome; the operator sees the outcome; the auditor
opens the case's timeline and the in-browser verification passes, and fails for an altered
proof. The negative paths: a partner cannot open another partner's referral, an auditor sees
no personal data, the consent section cannot be skipped, a double submit registers once, an
Arabic page is right to left. axe-core checks each screen (no serious or critical
violation). The protection screens (issue 17): a separated child's identification, reflection
period, assent, best-interests assessment and approved determination; a cross-border
hand-off accepted by the receiving country office before travel and closed on arrival.
Screenshots of every step: `.local/screenshots/console/<test>/`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from mpa_common.auth import Role, mint_dev_token
from tests.e2e.console_support import (
    RunningConsole,
    Steps,
    start_console_platform,
)

pytestmark = pytest.mark.e2e

# A fictional person; none of these may ever reach the auditor, a URL, storage or a log.
GIVEN, FAMILY = "Mariama", "Fictivelle"
PHONE = "+227 90 12 34 56"
PLACE = "Centre de transit Nord"
NOTE = "Arrived last night with a younger sibling"
PERSONAL = (GIVEN, FAMILY, PHONE, PLACE, NOTE)
HOPE, MIGRATION_OFFICE = "DEMO-NE-HOPE", "DEMO-NE-MIG"
EXPECT_TIMEOUT = 30_000


@pytest.fixture(scope="module")
def console(
    bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningConsole]:
    yield from start_console_platform(bootstrap_servers, tmp_path_factory.mktemp("console-logs"))


class People:
    """One browser context (its own cookie jar) per person, every URL they asked for kept."""

    def __init__(self, browser: Browser, console: RunningConsole, steps: Steps) -> None:
        self._browser = browser
        self._console = console
        self._steps = steps
        self.contexts: list[BrowserContext] = []

    def page(self, **options: Any) -> Page:
        context = self._browser.new_context(
            base_url=self._console.url, viewport={"width": 1280, "height": 900}, **options
        )
        context.set_default_timeout(EXPECT_TIMEOUT)
        context.on("request", lambda request: self._steps.urls.append(request.url))
        self.contexts.append(context)
        return context.new_page()

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def people(browser: Browser, console: RunningConsole, steps: Steps) -> Iterator[People]:
    crowd = People(browser, console, steps)
    yield crowd
    crowd.close()


def sign_in(
    page: Page,
    role: str,
    partner_code: str | None = None,
    *,
    team: str | None = None,
    country: str | None = None,
) -> None:
    page.goto("/sign-in")
    page.check(f"#role-{role}")
    if team is not None:
        page.select_option("#team", team)
    if country is not None:
        page.select_option("#country", country)
    if partner_code is not None:
        value = page.eval_on_selector(
            "#partner-id",
            "(select, code) => [...select.options].find(o => o.text.startsWith(code)).value",
            partner_code,
        )
        page.select_option("#partner-id", value)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".who")).to_contain_text(f"{role}:console-{role}-")


def accessible(page: Page, what: str) -> None:
    """axe-core finds no serious or critical violation on the page as it is now."""
    results = Axe().run(page)
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"accessibility violations on {what}: {bad}"


def reload_until(page: Page, ready: Callable[[], bool], what: str, timeout: float = 45) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.7)
        page.reload()


def fill_person(page: Page, *, country: str = "NE", area: str = "NE-8") -> None:
    page.fill("#person-given_name", GIVEN)
    page.fill("#person-family_name", FAMILY)
    page.fill("#person-estimated_age", "29")
    page.select_option("#person-sex", "female")
    page.fill("#person-languages", "ha, fr")
    page.fill("#person-phone", PHONE)
    page.fill("#location-country", country)
    page.fill("#location-admin_area", area)
    page.fill("#location-place", PLACE)
    page.select_option("#safety-safe_contact_method", "through_caseworker")


def give_consent(page: Page) -> None:
    page.check("#consent-given")
    page.check("#consent-scopes")
    page.check("#consent-scopes-data_sharing")
    page.select_option("#consent-given_by", "self")
    page.select_option("#consent-method", "verbal")


def referral_ids(console: RunningConsole, case_id: str) -> dict[str, dict[str, Any]]:
    """The case's referrals by need, read from the API (the test's oracle, not the UI's)."""
    token = mint_dev_token([Role.SUPERVISOR], subject="browser-test-oracle")
    page = httpx.get(
        f"{console.service_urls['referral']}/v1/referrals",
        params={"case_id": case_id},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    return {r["category"]: r for r in page["items"]}


def partner_id(console: RunningConsole, code: str) -> str:
    token = mint_dev_token([Role.ADMIN], subject="browser-test-oracle")
    partners = httpx.get(
        f"{console.service_urls['referral']}/v1/partners",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    return str(next(p["id"] for p in partners if p["code"] == code))


def count_cases(console: RunningConsole) -> int:
    # The auditor's list scope is every case (an operator's is its own, team or country).
    token = mint_dev_token([Role.AUDITOR], subject="browser-test-oracle")
    page = httpx.get(
        f"{console.service_urls['intake']}/v1/cases",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    return len(page["items"])


def test_the_story_from_the_hotline_to_the_verified_audit_trail(
    console: RunningConsole, people: People, steps: Steps
) -> None:
    # --- The operator registers a case with two needs and consent --------------------------
    operator = people.page()
    sign_in(operator, "operator")
    steps.shot(operator, "operator-signed-in")
    operator.goto("/operator/cases/new")
    accessible(operator, "the intake form")
    fill_person(operator)
    operator.select_option("#needs-0-category", "shelter")
    operator.select_option("#needs-0-urgency", "high")
    operator.fill("#needs-0-note", NOTE)
    operator.select_option("#needs-1-category", "medical")
    operator.select_option("#needs-1-urgency", "medium")
    give_consent(operator)
    steps.shot(operator, "intake-form-filled")
    operator.get_by_role("button", name="Register the case").click()
    # Another test may have registered the same fictional person: a duplicate warning
    # then shows beside the confirmation.
    expect(operator.locator(".flash", has_text="The case was registered.")).to_be_visible()
    case_id = operator.url.rsplit("/", 1)[1]
    expect(operator.locator("main")).to_contain_text("recorded in the audit log")
    steps.shot(operator, "case-registered")

    # --- Both referrals are routed (the page refreshes itself with htmx) -------------------
    expect(operator.locator("#referrals .referral")).to_have_count(2, timeout=45_000)
    expect(operator.locator("#referrals .state-routed")).to_have_count(2, timeout=45_000)
    accessible(operator, "the case page")
    steps.shot(operator, "both-referrals-routed")
    routed = referral_ids(console, case_id)
    hope = partner_id(console, HOPE)
    assert {r["partner_id"] for r in routed.values()} == {hope}, "both go to the shelter network"
    shelter, medical = routed["shelter"]["id"], routed["medical"]["id"]

    # --- The partner accepts one and declines the other ------------------------------------
    partner = people.page()
    sign_in(partner, "partner", HOPE)
    expect(partner.locator("#inbox tbody tr")).to_have_count(2)
    accessible(partner, "the partner's inbox")
    steps.shot(partner, "partner-inbox")
    partner.goto(f"/partner/referrals/{shelter}")
    accessible(partner, "a referral")
    partner.get_by_role("button", name="Accept").click()
    expect(partner.locator(".flash")).to_contain_text("The referral was accepted.")
    steps.shot(partner, "partner-accepted")
    # The case details the referral allows: an audited read, and the page says so.
    partner.get_by_role("link", name="View the case details (recorded)").click()
    reload_until(
        partner,
        lambda: "recorded in the audit log" in partner.locator("main").inner_text(),
        "intake to grant the partner access",
    )
    expect(partner.locator("main")).to_contain_text(GIVEN)
    expect(partner.locator("main")).to_contain_text(NOTE)
    steps.shot(partner, "partner-case-details-audited")
    partner.goto(f"/partner/referrals/{medical}")
    partner.select_option("#decline-reason", "lack_of_capacity")
    partner.get_by_role("button", name="Decline").click()
    expect(partner.locator(".flash")).to_contain_text("declined")
    steps.shot(partner, "partner-declined")

    # --- The declined referral is re-routed to another partner -----------------------------
    deadline = time.monotonic() + 45
    while referral_ids(console, case_id)["medical"]["partner_id"] in (None, hope):
        assert time.monotonic() < deadline, "the declined referral was not re-routed"
        time.sleep(0.5)
    assert referral_ids(console, case_id)["medical"]["partner_id"] == partner_id(
        console, MIGRATION_OFFICE
    )
    # Negative path: the shelter network cannot open the referral it no longer holds.
    response = partner.goto(f"/partner/referrals/{medical}")
    assert response is not None
    assert response.status == 404
    expect(partner.locator("h1")).to_contain_text("Not found, or not yours to see.")
    steps.shot(partner, "partner-cannot-open-another-partners-referral")

    # --- The first is completed with an outcome --------------------------------------------
    partner.goto(f"/partner/referrals/{shelter}")
    partner.get_by_role("button", name="Start the service").click()
    expect(partner.locator(".flash")).to_contain_text("The service has started.")
    partner.select_option("#complete-reason", "service_provided")
    partner.get_by_role("button", name="Complete").click()
    expect(partner.locator(".flash")).to_contain_text("The referral was completed.")
    steps.shot(partner, "partner-completed")

    # --- The operator sees the outcome (and the re-route) ----------------------------------
    operator.reload()
    expect(operator.locator("#referrals .outcome")).to_contain_text("Service provided")
    expect(operator.locator("#referrals")).to_contain_text("Demo International Migration Office")
    steps.shot(operator, "operator-sees-outcome")

    # --- The auditor opens the timeline and verifies it in the browser ---------------------
    auditor = people.page()
    sign_in(auditor, "auditor")
    auditor.goto(f"/auditor/events?case_id={case_id}")
    accessible(auditor, "the event search")
    auditor.get_by_role("link", name="Open this case's timeline and verify it").click()
    expect(auditor.locator("main")).to_contain_text("org.mpa.referral.completed.v1")
    expect(auditor.locator("main")).to_contain_text("org.mpa.access.personal_data_accessed.v1")
    accessible(auditor, "the case timeline")
    auditor.get_by_role("button", name="Verify").click()
    result = auditor.locator("#verify-result")
    expect(result).to_have_attribute("data-outcome", "passed")
    expect(result).to_contain_text("Verified")
    expect(auditor.locator("#verify-key")).to_have_attribute("data-signature", "valid")
    assert auditor.locator(".verify-bad").count() == 0
    assert auditor.locator(".verify-ok").count() >= 8
    steps.shot(auditor, "auditor-verification-passed")
    # Negative path: the auditor sees no personal data, on any of its screens.
    for path in ("/auditor/events", f"/auditor/events?case_id={case_id}", "/auditor/tree-head"):
        auditor.goto(path)
        for value in PERSONAL:
            assert value not in auditor.content(), f"{value!r} shown to the auditor on {path}"
    auditor.goto(f"/auditor/cases/{case_id}")
    for value in PERSONAL:
        assert value not in auditor.content()

    # An altered proof (one bit of one hash, on its way to the browser) shows as failed.
    def alter(route: Route) -> None:
        answer = route.fetch()
        bundle = answer.json()
        entry = next(e for e in bundle["entries"] if e["audit_path"])
        first = entry["audit_path"][0]
        entry["audit_path"][0] = ("B" if first[0] == "A" else "A") + first[1:]
        route.fulfill(response=answer, body=json.dumps(bundle))

    auditor.route(re.compile(r".*/auditor/cases/[^/]+/proofs$"), alter)
    auditor.get_by_role("button", name="Verify").click()
    expect(result).to_have_attribute("data-outcome", "failed")
    expect(result).to_contain_text("FAILED")
    assert auditor.locator(".verify-bad").count() == 1
    steps.shot(auditor, "auditor-altered-proof-failed")

    # --- The supervisor sees the story's re-route on the dashboard -------------------------
    supervisor = people.page()
    sign_in(supervisor, "supervisor")
    supervisor.goto("/supervisor/dashboard?days=1")
    # The decline moved a referral away from the shelter network.
    expect(supervisor.locator("#chart-reroutes-title + svg + table")).to_contain_text(
        "Demo Hope Shelter Network Niger"
    )
    steps.shot(supervisor, "supervisor-sees-the-reroute")

    # --- No personal data in URLs, browser storage or the console's log --------------------
    assert steps.urls, "the browser's requests were recorded"
    for url in steps.urls:
        for value in PERSONAL:
            assert value.replace(" ", "+") not in url
            assert value.replace(" ", "%20") not in url
            assert value not in url
    for context in people.contexts:
        for page in context.pages:
            stored = page.evaluate("() => JSON.stringify([{...localStorage}, {...sessionStorage}])")
            assert stored == "[{},{}]", f"the console left data in browser storage: {stored}"
        for cookie in context.cookies():
            assert cookie["httpOnly"] is True
            assert cookie["sameSite"] == "Lax"
            for value in PERSONAL:
                assert value not in cookie["value"]
    logs = console.log_text()
    for value in PERSONAL:
        assert value not in logs, f"{value!r} in a service's log"


def test_consent_cannot_be_skipped_and_a_double_submit_registers_once(
    console: RunningConsole, people: People, steps: Steps
) -> None:
    operator = people.page()
    sign_in(operator, "operator")
    operator.goto("/operator/cases/new")
    fill_person(operator, country="ML", area="ML-BKO")
    operator.select_option("#needs-0-category", "documentation")
    operator.select_option("#needs-0-urgency", "low")
    before = count_cases(console)

    # The consent section left unanswered: nothing is registered, the section is marked.
    operator.get_by_role("button", name="Register the case").click()
    summary = operator.locator("#error-summary")
    expect(summary).to_contain_text("this section cannot be skipped")
    expect(summary).to_be_focused()
    expect(operator.locator("fieldset.consent")).to_have_class(re.compile("has-error"))
    assert operator.url.endswith("/operator/cases/new")
    assert count_cases(console) == before
    accessible(operator, "the intake form with errors")
    steps.shot(operator, "consent-cannot-be-skipped")

    # Answered, then sent twice at once (a double click on a slow line): one case.
    give_consent(operator)
    statuses = operator.evaluate(
        """async () => {
            const form = document.querySelector("form.intake-form");
            const body = new URLSearchParams(new FormData(form));
            body.set("action", "register");
            const url = form.getAttribute("action");  // form.action is the button named action
                const send = () => fetch(url, {method: "POST", body, redirect: "manual"});
            const answers = await Promise.all([send(), send()]);
            return answers.map(a => a.type + ":" + a.status);
        }"""
    )
    assert statuses == ["opaqueredirect:0", "opaqueredirect:0"]  # both answered 303
    assert count_cases(console) == before + 1
    operator.goto("/operator/cases")
    # A development sign-in is a new operator with no team or country: its list scope is
    # its own cases, and it has registered this one.
    expect(operator.locator("table.data tbody tr")).to_have_count(1)
    accessible(operator, "the case list")
    steps.shot(operator, "double-submit-registered-once")

    # Registering the same person again: the form hints at the open case before saving.
    operator.goto("/operator/cases/new")
    operator.fill("#person-given_name", GIVEN)
    operator.fill("#person-family_name", FAMILY)
    operator.fill("#person-phone", PHONE)
    operator.get_by_role("button", name="Check for duplicates and errors").click()
    expect(operator.locator("#duplicate-hints")).to_contain_text("Possible duplicates")
    # Every case this module registered is about the same fictional person (same phone).
    expect(operator.locator("#duplicate-hints a")).to_have_count(before + 1)
    assert count_cases(console) == before + 1
    steps.shot(operator, "duplicate-hints-before-saving")


def test_an_arabic_page_is_right_to_left_and_the_first_page_is_small(
    console: RunningConsole, people: People, steps: Steps
) -> None:
    visitor = people.page()
    visitor.goto("/sign-in")
    visitor.wait_for_load_state("load")
    # The first page with everything it loads (stylesheet, scripts), as sent over the wire.
    transferred = visitor.evaluate(
        """() => performance.getEntries()
              .filter(e => e.entryType === "navigation" || e.entryType === "resource")
              .reduce((sum, e) => sum + e.transferSize, 0)"""
    )
    assert 0 < transferred < 100_000, f"first page weighs {transferred} bytes"
    accessible(visitor, "the sign-in page")
    steps.shot(visitor, "sign-in")

    visitor.select_option("#language-choice", "ar")
    visitor.get_by_role("button", name="Change").click()
    html = visitor.locator("html")
    expect(html).to_have_attribute("dir", "rtl")
    expect(html).to_have_attribute("lang", "ar")
    expect(visitor.locator("h1")).to_have_text("تسجيل الدخول")
    assert visitor.evaluate("getComputedStyle(document.body).direction") == "rtl"
    accessible(visitor, "the Arabic sign-in page")
    steps.shot(visitor, "sign-in-arabic")
    sign_in_arabic = visitor.locator("form[action='/sign-in/dev'] button[type=submit]")
    visitor.check("#role-operator")
    sign_in_arabic.click()
    visitor.goto("/operator/cases/new")
    expect(html).to_have_attribute("dir", "rtl")
    accessible(visitor, "the Arabic intake form")
    steps.shot(visitor, "intake-form-arabic")

    visitor.select_option("#language-choice", "fr")
    visitor.locator("form[action='/language'] button").click()
    expect(html).to_have_attribute("lang", "fr")
    expect(html).to_have_attribute("dir", "ltr")
    expect(visitor.locator("h1")).to_have_text("Nouveau dossier")
    steps.shot(visitor, "intake-form-french")


def test_supervisor_dashboard_unroutable_and_directory(
    console: RunningConsole, people: People, steps: Steps
) -> None:
    supervisor = people.page()
    sign_in(supervisor, "supervisor")
    supervisor.goto("/supervisor/dashboard?days=1")
    expect(supervisor.locator("figure.chart")).to_have_count(5)
    accessible(supervisor, "the dashboard")
    steps.shot(supervisor, "supervisor-dashboard")
    # A need where the directory has no partner at all (Chad): routing gives up on it.
    token = mint_dev_token([Role.OPERATOR], subject="browser-test-oracle")
    registered = httpx.post(
        f"{console.service_urls['intake']}/v1/cases",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "unroutable-1"},
        json={
            "person": {"given_name": GIVEN, "family_name": FAMILY, "estimated_age": 40,
                       "sex": "male", "languages": ["ar"]},
            "location": {"country": "TD"},
            "needs": [{"category": "legal_aid", "urgency": "high"}],
            "consent": {"given": True, "details": {
                "scopes": ["referral"], "given_by": "self", "method": "verbal",
                "obtained_at": "2026-03-02T09:15:00Z"}},
            "safety": {"do_not_contact": False, "safe_contact_method": "through_caseworker"},
        },
        timeout=15,
    )  # fmt: skip
    assert registered.status_code == 201, registered.text
    supervisor.goto("/supervisor/unroutable")
    reload_until(
        supervisor,
        lambda: supervisor.locator("table.data tbody tr").count() > 0,
        "the referral to become unroutable",
    )
    accessible(supervisor, "the unroutable referrals")
    steps.shot(supervisor, "supervisor-unroutable")
    supervisor.locator("table.data tbody a").first.click()
    expect(supervisor.locator("main")).to_contain_text("No partner found")
    accessible(supervisor, "the decision on an unroutable referral")
    steps.shot(supervisor, "supervisor-decision")
    supervisor.select_option("#cancel-reason", "other")
    supervisor.get_by_role("button", name="Cancel the referral").click()
    expect(supervisor.locator(".flash")).to_contain_text("The referral was cancelled.")
    expect(supervisor.locator("main")).to_contain_text("No referral waits for a decision.")
    supervisor.goto("/directory?country=NE")
    expect(supervisor.locator("main")).to_contain_text("Demo Hope Shelter Network Niger")
    accessible(supervisor, "the directory")
    steps.shot(supervisor, "directory")


def test_a_partner_registers_a_webhook_and_reads_its_delivery_log(
    console: RunningConsole, people: People, steps: Steps
) -> None:
    partner = people.page()
    sign_in(partner, "partner", MIGRATION_OFFICE)
    partner.goto("/partner/endpoints")
    accessible(partner, "the webhook endpoints")
    partner.fill("#endpoint-url", f"http://127.0.0.1:{console.webhook_port}/hooks")
    partner.fill("#endpoint-description", "Case system (test)")
    partner.get_by_role("button", name="Add the endpoint").click()
    secret = partner.locator("#secret")
    expect(secret).to_have_value(re.compile(r"^whsec_"))
    steps.shot(partner, "webhook-secret-shown-once")
    partner.goto("/partner/endpoints")
    expect(partner.locator("table.data tbody tr")).to_have_count(1)
    partner.get_by_role("button", name="Send a test").click()
    expect(partner.locator(".flash")).to_contain_text("A test message was queued.")
    partner.goto("/partner/deliveries")
    accessible(partner, "the delivery log")
    steps.shot(partner, "delivery-log")


def test_casework_assessment_follow_up_approved_closure_and_transfer(
    console: RunningConsole, people: People, steps: Steps
) -> None:
    """Issue 16 in the browser: a caseworker assesses the case, schedules a follow-up that
    falls overdue and records it done; closing is refused while a referral is open; a
    supervisor approves the closure and the case closes with that approval; reopened, it is
    handed over to another team, which accepts it, and the sender's team loses it."""
    findings, comment = "Threatened by the recruiter", "Agreed after the home visit"
    caseworker = people.page()
    sign_in(caseworker, "caseworker", team="ne-niamey-cm", country="NE")
    caseworker.goto("/operator/cases/new")
    fill_person(caseworker)
    caseworker.select_option("#needs-0-category", "shelter")
    caseworker.select_option("#needs-0-urgency", "high")
    give_consent(caseworker)
    caseworker.get_by_role("button", name="Register the case").click()
    # Another test may have registered the same fictional person: a duplicate warning
    # then shows beside the confirmation.
    expect(caseworker.locator(".flash", has_text="The case was registered.")).to_be_visible()
    case_id = caseworker.url.rsplit("/", 1)[1]
    expect(caseworker.locator("#referrals .state-routed")).to_have_count(1, timeout=45_000)
    caseworker.get_by_role("link", name="Casework: transfer, assessments").click()
    expect(caseworker.locator("h1")).to_contain_text("Casework")
    accessible(caseworker, "the casework page")
    steps.shot(caseworker, "casework-page")

    # --- An assessment: the case's risk level ----------------------------------------------
    caseworker.select_option("#risk-level", "high")
    caseworker.check("#concern-trafficking_exploitation")
    caseworker.fill("#assessment-note", findings)
    caseworker.get_by_role("button", name="Record the assessment").click()
    expect(caseworker.locator(".flash")).to_contain_text("The assessment was recorded.")
    expect(caseworker.locator("#case-risk")).to_have_text("High risk")
    expect(caseworker.locator("#assessment-list")).to_contain_text(findings)
    steps.shot(caseworker, "assessment-recorded")

    # --- A follow-up due an hour ago falls overdue (its timer), then is done ---------------
    caseworker.select_option("#follow-up-type", "phone_call")
    due = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    caseworker.fill("#follow-up-due", due)
    caseworker.get_by_role("button", name="Schedule the follow-up").click()
    expect(caseworker.locator(".flash")).to_contain_text("The follow-up was scheduled.")
    reload_until(
        caseworker,
        lambda: caseworker.locator(".follow-up-overdue").count() == 1,
        "the follow-up's timer to find it overdue",
    )
    steps.shot(caseworker, "follow-up-overdue")
    caseworker.select_option("#follow-up-outcome-1", "reached")
    caseworker.get_by_role("button", name="Record as done").click()
    expect(caseworker.locator(".flash")).to_contain_text("The follow-up was recorded as done.")
    expect(caseworker.locator(".follow-up-done")).to_have_count(1)

    # --- Closing is refused while the referral is open -------------------------------------
    caseworker.select_option("#close-reason", "needs_met")
    caseworker.get_by_role("button", name="Close the case").click()
    expect(caseworker.locator(".flash")).to_contain_text("is not finished")
    caseworker.select_option("#approval-subject", "closure")
    caseworker.select_option("#approval-reason", "needs_met")
    caseworker.get_by_role("button", name="Ask a supervisor").click()
    expect(caseworker.locator(".flash")).to_contain_text("A supervisor was asked to approve.")
    # Nobody approves their own request: the requester gets no decision form.
    assert caseworker.locator("#decision-approve-1").count() == 0
    steps.shot(caseworker, "closure-refused-approval-asked")

    # --- The team's supervisor approves the closure ----------------------------------------
    supervisor = people.page()
    sign_in(supervisor, "supervisor", team="ne-niamey-cm", country="NE")
    supervisor.goto("/casework/inbox")
    expect(supervisor.locator("#inbox-approvals li")).to_have_count(1)
    accessible(supervisor, "the casework inbox")
    steps.shot(supervisor, "supervisor-inbox")
    supervisor.get_by_role("link", name="Open the casework to decide").click()
    supervisor.check("#decision-approve-1")
    supervisor.fill("#decision-comment-1", comment)
    supervisor.get_by_role("button", name="Send the decision").click()
    expect(supervisor.locator(".flash")).to_contain_text("The request was approved.")
    expect(supervisor.locator("#approval-list")).to_contain_text(comment)
    steps.shot(supervisor, "closure-approved")
    supervisor.goto("/casework/report")
    expect(supervisor.locator("h1")).to_contain_text("Casework report")
    accessible(supervisor, "the casework report")
    steps.shot(supervisor, "casework-report")

    # --- The caseworker closes the case with that approval, then reopens it ----------------
    caseworker.reload()
    caseworker.select_option("#close-reason", "needs_met")
    caseworker.select_option("#close-approval", index=1)
    caseworker.get_by_role("button", name="Close the case").click()
    expect(caseworker.locator(".flash")).to_contain_text("The case was closed.")
    expect(caseworker.locator("h1")).to_contain_text("Closed")
    steps.shot(caseworker, "closed-with-approval")
    caseworker.select_option("#reopen-reason", "new_need")
    caseworker.get_by_role("button", name="Reopen the case").click()
    expect(caseworker.locator(".flash")).to_contain_text("The case was reopened.")

    # --- A transfer to another team moves ownership and access -----------------------------
    caseworker.fill("#transfer-team", "ne-agadez-cm")
    caseworker.get_by_role("button", name="Ask for the transfer").click()
    expect(caseworker.locator(".flash")).to_contain_text("The transfer was asked for.")
    receiver = people.page()
    sign_in(receiver, "caseworker", team="ne-agadez-cm", country="NE")
    receiver.goto("/casework/inbox")
    expect(receiver.locator("#inbox-transfers tbody tr")).to_have_count(1)
    steps.shot(receiver, "receiver-inbox")
    receiver.get_by_role("button", name="Accept").click()
    expect(receiver.locator(".flash")).to_contain_text("The transfer was accepted")
    expect(receiver.locator("#case-team")).to_have_text("ne-agadez-cm")
    expect(receiver.locator("#case-owner")).to_contain_text("caseworker:console-caseworker-")
    steps.shot(receiver, "transfer-accepted")
    refused = caseworker.goto(f"/casework/cases/{case_id}")
    assert refused is not None
    assert refused.status == 403
    for value in (findings, comment):
        assert all(value not in url for url in steps.urls)


def test_a_separated_childs_protection_steps_then_her_return_is_referred(
    console: RunningConsole, people: People, steps: Steps
) -> None:
    """Issue 17 in the browser: a caseworker registers a separated child who needs to go
    home; the return referral waits for a best-interests determination; the caseworker notes
    trafficking indicators, records a reasonable-grounds decision (a 30-day reflection period
    starts), the child's assent and a best-interests assessment; a supervisor approves the
    determination; the caseworker records it, and the return referral is routed."""
    caseworker = people.page()
    sign_in(caseworker, "caseworker", team="ne-niamey-cm", country="NE")
    caseworker.goto("/operator/cases/new")
    fill_person(caseworker)
    caseworker.fill("#person-estimated_age", "15")
    caseworker.check("#vulnerability-separated_child")
    caseworker.select_option("#needs-0-category", "return_assistance")
    caseworker.select_option("#needs-0-urgency", "high")
    caseworker.check("#consent-given")
    caseworker.check("#consent-scopes")
    caseworker.check("#consent-scopes-data_sharing")
    caseworker.select_option("#consent-given_by", "legal_guardian")
    caseworker.select_option("#consent-method", "verbal")
    caseworker.get_by_role("button", name="Register the case").click()
    expect(caseworker.locator(".flash", has_text="The case was registered.")).to_be_visible()
    case_id = caseworker.url.rsplit("/", 1)[1]
    reload_until(
        caseworker,
        lambda: (
            referral_ids(console, case_id).get("return_assistance", {}).get("state") == "unroutable"
        ),
        "the return referral to wait for a determination",
    )
    assert (
        referral_ids(console, case_id)["return_assistance"]["status_reason"]
        == "best_interests_determination_required"
    )
    caseworker.goto(f"/casework/cases/{case_id}")
    caseworker.locator("#protection-link").click()
    expect(caseworker.locator("h1")).to_contain_text("Protection")
    accessible(caseworker, "the protection page")
    steps.shot(caseworker, "protection-page")

    # --- Identification: potential, then presumed; the reflection period starts ------------
    caseworker.check("#indicators-exploitation-forced_begging")
    caseworker.check("#indicators-control-withholds_documents")
    caseworker.get_by_role("button", name="Note the indicators").click()
    expect(caseworker.locator(".flash")).to_contain_text("potential victim")
    expect(caseworker.locator("#identification-status")).to_contain_text("Potential victim")
    caseworker.select_option("#grounds-organisation", "child_protection_authority")
    caseworker.select_option("#grounds-basis", "indicators_assessment")
    caseworker.get_by_role("button", name="Record the decision").click()
    expect(caseworker.locator(".flash")).to_contain_text("the reflection period runs")
    expect(caseworker.locator("#identification-status")).to_contain_text("Presumed victim")
    expect(caseworker.locator("#reflection-list")).to_contain_text("30 days")
    expect(caseworker.locator("#reflection-list")).to_contain_text("no removal")
    steps.shot(caseworker, "presumed-and-reflection-period")

    # --- The child's assent and a best-interests assessment --------------------------------
    caseworker.select_option("#assent-given-by", "legal_guardian")
    caseworker.select_option("#assent-assent", "given")
    caseworker.fill("#assent-views", "Wants to see her mother")
    caseworker.get_by_role("button", name="Record the assent").click()
    expect(caseworker.locator(".flash")).to_contain_text("The child's assent was recorded.")
    expect(caseworker.locator("#assent-list")).to_contain_text("Wants to see her mother")
    caseworker.select_option("#bia-recommendation", "return_to_country_of_origin")
    caseworker.check("#bia-risk-family_separation")
    caseworker.get_by_role("button", name="Record the assessment").click()
    expect(caseworker.locator(".flash")).to_contain_text("assessment was recorded")
    expect(caseworker.locator("#determination-needs-approval")).to_be_visible()

    # --- A supervisor approves the determination -------------------------------------------
    caseworker.goto(f"/casework/cases/{case_id}")
    caseworker.select_option("#approval-subject", "best_interests_determination")
    caseworker.get_by_role("button", name="Ask a supervisor").click()
    expect(caseworker.locator(".flash")).to_contain_text("A supervisor was asked to approve.")
    supervisor = people.page()
    sign_in(supervisor, "supervisor", team="ne-niamey-cm", country="NE")
    supervisor.goto(f"/casework/cases/{case_id}")
    supervisor.check("#decision-approve-1")
    supervisor.get_by_role("button", name="Send the decision").click()
    expect(supervisor.locator(".flash")).to_contain_text("The request was approved.")

    # --- The caseworker records the determination; the return is referred ------------------
    caseworker.goto(f"/protection/cases/{case_id}")
    caseworker.select_option("#bid-decision", "return_to_country_of_origin")
    caseworker.select_option("#bid-approval", index=1)
    caseworker.get_by_role("button", name="Record the determination").click()
    expect(caseworker.locator(".flash")).to_contain_text("determination was recorded")
    expect(caseworker.locator("#best-interests-list .determination")).to_have_count(1)
    accessible(caseworker, "the protection page with a determination")
    steps.shot(caseworker, "determination-recorded")
    reload_until(
        caseworker,
        lambda: referral_ids(console, case_id)["return_assistance"]["state"] == "routed",
        "the return referral routed after the determination",
    )
    assert all("mother" not in url for url in steps.urls)


def test_a_cross_border_hand_off_is_accepted_before_travel_and_closed_on_arrival(
    console: RunningConsole, people: People, steps: Steps
) -> None:
    """Issue 17's cross-border hand-off in the browser: a Niger caseworker records the
    person's consent to their data going to Mali and asks Mali's office to take
    responsibility; travel cannot be recorded yet; a Mali operator finds the hand-off in the
    office's inbox and accepts; Niger records the departure, Mali the arrival, and the case
    is Mali's."""
    sender = people.page()
    sign_in(sender, "caseworker", team="ne-niamey-cm", country="NE")
    sender.goto("/operator/cases/new")
    fill_person(sender)
    sender.select_option("#needs-0-category", "shelter")
    sender.select_option("#needs-0-urgency", "high")
    give_consent(sender)
    sender.get_by_role("button", name="Register the case").click()
    expect(sender.locator(".flash", has_text="The case was registered.")).to_be_visible()
    case_id = sender.url.rsplit("/", 1)[1]
    sender.goto(f"/casework/cases/{case_id}")
    sender.locator("#cross-border-link").click()
    expect(sender.locator("h1")).to_contain_text("Cross-border")

    # Without the person's consent to a transfer to Mali, no hand-off there.
    sender.fill("#handoff-country", "ML")
    sender.fill(
        "#handoff-travel", (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    )
    sender.get_by_role("button", name="Ask for the hand-off").click()
    expect(sender.locator(".flash")).to_contain_text("cannot be done in the current state")
    sender.fill("#consent-countries", "ML")
    sender.select_option("#consent-given-by", "self")
    sender.select_option("#consent-method", "written")
    sender.get_by_role("button", name="Record the consent").click()
    expect(sender.locator(".flash")).to_contain_text("transfer abroad was recorded")
    expect(sender.locator("#transfer-consents")).to_contain_text("ML")
    sender.fill("#handoff-country", "ML")
    sender.fill(
        "#handoff-travel", (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    )
    sender.get_by_role("button", name="Ask for the hand-off").click()
    expect(sender.locator(".flash")).to_contain_text("asked to take responsibility")
    expect(sender.locator("#handoff-list")).to_contain_text("Awaiting the receiving office")
    expect(sender.locator("#handoff-waiting")).to_be_visible()  # no travel yet
    expect(sender.locator("#handoff-departure")).to_have_count(0)
    accessible(sender, "the cross-border page")
    steps.shot(sender, "handoff-requested")

    receiver = people.page()
    sign_in(receiver, "operator", team="ml-bamako-cm", country="ML")
    receiver.goto("/cross-border/handoffs")
    row = receiver.locator("#inbox-handoffs tr", has_text=case_id[:8])
    expect(row).to_have_count(1)
    accessible(receiver, "the hand-offs inbox")
    row.get_by_role("button", name="Accept responsibility").click()
    expect(receiver.locator(".flash")).to_contain_text("You accepted responsibility.")

    sender.reload()
    expect(sender.locator("#handoff-list")).to_contain_text("Accepted by the receiving office")
    sender.get_by_role("button", name="Record the departure").click()
    expect(sender.locator(".flash")).to_contain_text("The departure was recorded.")
    expect(sender.locator("#handoff-list")).to_contain_text("Travelling")

    receiver.goto(f"/cross-border/cases/{case_id}")
    receiver.get_by_role("button", name="Record the arrival").click()
    expect(receiver.locator(".flash")).to_contain_text("the case is now the receiving office's")
    expect(receiver.locator("#owner-country")).to_contain_text("ML")
    expect(receiver.locator("#case-country")).to_contain_text("ML")
    expect(receiver.locator("#handoff-list")).to_contain_text("Arrived")
    steps.shot(receiver, "arrived")
    assert all(GIVEN not in url and FAMILY not in url for url in steps.urls)
