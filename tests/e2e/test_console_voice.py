"""Issue 17's last screens in a real browser (Debian's Chromium driven by Playwright), on the
four services and the console as real processes on the real Kafka and PostgreSQL.

The PSEA focal point records a complaint, refers the survivor for assistance through the GBV
pathway (with their consent), refers the allegation to the implicated organisation and
records a substantiated outcome that suspends it; a caseworker sees no PSEA area and is
refused it. A caseworker records a person's feedback on an accepted referral, and it shows
in the partner's feedback figures (and, anonymous, only as a number withheld in the
partner's own view). A "no contact" case shows its safety profile, and a contact check is
refused with its reason; a person reachable by text in the evening only is refused in the
morning and cleared in the evening, with no voicemail. axe-core checks each new screen. Screenshots:
`.local/screenshots/console/<test>/`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from mpa_common.auth import Role, mint_dev_token
from tests.e2e.console_support import (
    RunningConsole,
    Steps,
    start_console_platform,
)
from tests.e2e.test_console_browser import (
    HOPE,
    People,
    accessible,
    fill_person,
    give_consent,
    partner_id,
    referral_ids,
    reload_until,
    sign_in,
)

pytestmark = pytest.mark.e2e

# Fictional; never in a URL.
ACCOUNT = "Asked for favours in exchange for the food distribution card"
LEGAL_AID = (
    "DEMO-NE-LEX"  # the implicated (and then suspended) organisation: no other test here uses it
)


@pytest.fixture(scope="module")
def console(
    bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningConsole]:
    yield from start_console_platform(bootstrap_servers, tmp_path_factory.mktemp("voice-logs"))


@pytest.fixture
def people(browser: Browser, console: RunningConsole, steps: Steps) -> Iterator[People]:
    crowd = People(browser, console, steps)
    yield crowd
    crowd.close()


def register_case(page: Page, *, no_contact: bool = False, evening_sms: bool = False) -> str:
    """A case with a shelter need (routed to the shelter network), through the intake form."""
    page.goto("/operator/cases/new")
    fill_person(page)
    if no_contact:
        page.check("#safety-do_not_contact")
    if evening_sms:
        page.select_option("#safety-safe_contact_method", "sms")
        page.check("#safety-safe_times-evening")
    page.select_option("#needs-0-category", "shelter")
    page.select_option("#needs-0-urgency", "high")
    give_consent(page)
    page.get_by_role("button", name="Register the case").click()
    expect(page.locator(".flash", has_text="The case was registered.")).to_be_visible()
    return page.url.rsplit("/", 1)[1].split("#")[0]


def survivor_case(console: RunningConsole) -> str:
    """The survivor's own case (registered by the hotline), for the GBV-pathway referral."""
    token = mint_dev_token([Role.OPERATOR], subject="browser-test-oracle")
    registered = httpx.post(
        f"{console.service_urls['intake']}/v1/cases",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "psea-survivor-1"},
        json={
            "person": {"given_name": "Awa", "family_name": "Fictivelle", "estimated_age": 24,
                       "sex": "female", "languages": ["ha"]},
            "location": {"country": "NE", "admin_area": "NE-8"},
            "needs": [{"category": "food", "urgency": "medium"}],
            "consent": {"given": True, "details": {
                "scopes": ["referral", "data_sharing"], "given_by": "self", "method": "verbal",
                "obtained_at": "2026-03-02T09:15:00Z"}},
            "safety": {"do_not_contact": False, "safe_contact_method": "through_caseworker"},
        },
        timeout=15,
    )  # fmt: skip
    assert registered.status_code == 201, registered.text
    return str(registered.json()["case_id"])


def test_the_focal_point_works_a_complaint_that_a_caseworker_never_sees(
    console: RunningConsole, people: People, steps: Steps
) -> None:
    implicated = partner_id(console, LEGAL_AID)
    survivor = survivor_case(console)

    # --- The focal point lands on the complaints and records one ---------------------------
    focal = people.page()
    # A focal point works for a country office: the complaint is that office's.
    sign_in(focal, "psea", country="NE")
    expect(focal.locator("h1")).to_have_text("PSEA complaints")
    nav = focal.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="PSEA complaints")).to_be_visible()
    accessible(focal, "the PSEA complaints")
    nav.get_by_role("link", name="Record a complaint").click()
    accessible(focal, "the complaint form")
    focal.select_option("#complaint-type", "sexual_exploitation")
    focal.fill("#complaint-account", ACCOUNT)
    focal.select_option("#complaint-partner", implicated)
    focal.fill("#survivor-case", survivor)
    focal.check("#consent-assistance")
    steps.shot(focal, "complaint-form")
    focal.get_by_role("button", name="Record the complaint").click()
    expect(focal.locator(".flash", has_text="The complaint was recorded")).to_be_visible()
    complaint_id = focal.url.rsplit("/", 1)[1].split("#")[0]
    expect(focal.locator("#complaint-account")).to_have_text(ACCOUNT)
    expect(focal.locator("#step-assistance")).to_contain_text("left")
    expect(focal.locator("#step-allegation_referral")).to_contain_text("left")
    expect(focal.locator("#step-investigation")).to_contain_text("starts with the referral")
    accessible(focal, "the complaint's record")
    steps.shot(focal, "complaint-recorded")

    # --- The list shows it with its deadlines, without the account -------------------------
    focal.goto("/psea/complaints")
    row = focal.locator("#complaints tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Sexual exploitation")
    expect(row).to_contain_text("Demo Legal Aid and Livelihoods Niger")
    expect(row).to_contain_text("left")
    assert ACCOUNT not in focal.content()
    steps.shot(focal, "complaints-with-deadlines")

    # --- Assistance through the GBV pathway, with the survivor's consent --------------------
    row.get_by_role("link").click()
    focal.check("#assistance-referred")
    focal.get_by_role("button", name="Record the decision").click()
    expect(focal.locator(".flash")).to_have_text("The assistance decision was recorded.")
    expect(focal.locator("#assistance-state")).to_have_text("Referred through the GBV pathway")
    expect(focal.locator("#step-assistance")).to_contain_text("done on time")
    deadline = time.monotonic() + 45
    while "gbv_response" not in referral_ids(console, survivor):
        assert time.monotonic() < deadline, "the GBV-pathway need was not referred"
        time.sleep(0.5)

    # --- The allegation to the organisation, then a substantiated outcome -------------------
    focal.get_by_role("button", name="Refer the allegation").click()
    expect(focal.locator(".flash")).to_contain_text("The allegation was referred")
    expect(focal.locator("#allegation-state")).to_contain_text("without the survivor's identity")
    expect(focal.locator("#step-investigation")).to_contain_text("left")
    # Refused by intake, shown as a message: only a substantiated allegation suspends.
    focal.check("#outcome-inconclusive")
    focal.check("#outcome-suspend")
    focal.get_by_role("button", name="Record the outcome").click()
    expect(focal.locator(".flash")).to_contain_text("only a substantiated allegation suspends")
    focal.check("#outcome-substantiated")
    focal.check("#outcome-suspend")
    focal.get_by_role("button", name="Record the outcome").click()
    expect(focal.locator(".flash")).to_have_text("The investigation's outcome was recorded.")
    expect(focal.locator("#outcome-state")).to_contain_text("Substantiated")
    expect(focal.locator("#complaint-organisation")).to_contain_text("suspended from the directory")
    accessible(focal, "the concluded complaint")
    steps.shot(focal, "complaint-concluded")
    # The referral service suspends the organisation (its consumer of mpa.psea.v1).
    token = mint_dev_token([Role.ADMIN], subject="browser-test-oracle")
    deadline = time.monotonic() + 45
    while True:
        partner = httpx.get(
            f"{console.service_urls['referral']}/v1/partners/{implicated}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        if not partner["active"]:
            break
        assert time.monotonic() < deadline, "the organisation was not suspended"
        time.sleep(0.5)
    assert partner["deactivation_reason"] == "suspended"

    # --- A caseworker sees no PSEA area and is refused it -----------------------------------
    caseworker = people.page()
    sign_in(caseworker, "caseworker", team="ne-niamey-cm", country="NE")
    nav = caseworker.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Directory")).to_be_visible()
    expect(nav.get_by_role("link", name="PSEA complaints")).to_have_count(0)
    expect(nav.get_by_role("link", name="Record a complaint")).to_have_count(0)
    for path in ("/psea/complaints", f"/psea/complaints/{complaint_id}"):
        refused = caseworker.goto(path)
        assert refused is not None
        assert refused.status == 403, path
        expect(caseworker.locator("h1")).to_contain_text("This screen is not for your role.")
        assert ACCOUNT not in caseworker.content()
    steps.shot(caseworker, "caseworker-refused-the-psea-area")
    assert all(ACCOUNT.replace(" ", "+") not in url for url in steps.urls)


def test_the_persons_feedback_shows_in_the_partners_figures(
    console: RunningConsole, people: People, steps: Steps
) -> None:
    caseworker = people.page()
    sign_in(caseworker, "caseworker", team="ne-niamey-cm", country="NE")
    case_id = register_case(caseworker)
    expect(caseworker.locator("#feedback")).to_contain_text("once a partner has accepted")
    deadline = time.monotonic() + 45
    while "shelter" not in referral_ids(console, case_id) or (
        referral_ids(console, case_id)["shelter"]["state"] != "routed"
    ):
        assert time.monotonic() < deadline, "the shelter referral was not routed"
        time.sleep(0.5)
    shelter = referral_ids(console, case_id)["shelter"]["id"]

    # --- The shelter network accepts the referral -------------------------------------------
    partner = people.page()
    sign_in(partner, "partner", HOPE)
    partner.goto(f"/partner/referrals/{shelter}")
    partner.get_by_role("button", name="Accept").click()
    expect(partner.locator(".flash")).to_contain_text("The referral was accepted.")

    # --- The caseworker records what the person said ----------------------------------------
    caseworker.reload()
    expect(caseworker.locator("#feedback-referral option")).to_have_count(1)
    accessible(caseworker, "the case page with the feedback form")
    # Intake learns of the acceptance from Kafka: until then it says there is nothing to rate.
    deadline = time.monotonic() + 45
    while True:
        caseworker.check("#feedback-received-received")
        caseworker.check("#feedback-quality-very_good")
        caseworker.select_option("#feedback-waiting", "same_day")
        caseworker.check("#feedback-safe-yes")
        with caseworker.expect_navigation():
            caseworker.get_by_role("button", name="Record the feedback").click()
        flash = caseworker.locator(".flash").first
        expect(flash).to_be_visible()
        if flash.inner_text() == "The person's feedback was recorded.":
            break
        expect(flash).to_contain_text("there is no service to rate yet")
        assert time.monotonic() < deadline, "intake never learnt of the acceptance"
        time.sleep(0.7)
    steps.shot(caseworker, "feedback-recorded")

    # --- It shows in the partner's figures ---------------------------------------------------
    caseworker.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Feedback on services"
    ).click()
    caseworker.get_by_role("link", name="Demo Hope Shelter Network Niger").click()
    reload_until(
        caseworker,
        lambda: caseworker.locator("#kpi-responses").inner_text() == "1",
        "the referral service to count the feedback",
    )
    expect(caseworker.locator("#kpi-received")).to_have_text("100%")
    expect(caseworker.locator("#kpi-quality")).to_have_text("5 / 5")
    expect(caseworker.locator("#kpi-safe")).to_have_text("100%")
    expect(caseworker.locator("#chart-waiting-title + svg + table")).to_contain_text("The same day")
    accessible(caseworker, "the partner's feedback figures")
    steps.shot(caseworker, "partner-figures")

    # --- The partner's own view: the anonymous answer only as a number withheld -----------
    partner.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Feedback on services"
    ).click()
    expect(partner.locator("h1")).to_contain_text("Demo Hope Shelter Network Niger")
    expect(partner.locator("#kpi-responses")).to_have_text("0")
    expect(partner.locator("#anonymous-withheld")).to_contain_text("1 anonymous answer")
    expect(partner.locator("main")).to_contain_text("None in this period.")
    accessible(partner, "the partner's own feedback figures")
    steps.shot(partner, "partner-own-figures")
    # Another partner's figures are not theirs to see.
    other = partner.goto(f"/feedback/partners/{partner_id(console, LEGAL_AID)}")
    assert other is not None
    assert other.status == 404

    # --- The person's own answer, through a one-time link (no sign-in) ------------------------
    caseworker.goto(f"/operator/cases/{case_id}#feedback")
    caseworker.select_option("#invite-channel", "through_caseworker")
    caseworker.get_by_role("button", name="Create a feedback link").click()
    link = caseworker.locator("#feedback-link").input_value()
    assert "/feedback/" in link
    accessible(caseworker, "the feedback link, shown once")
    person = people.page()
    person.goto(link)
    expect(person.locator("h1")).to_have_text("Your feedback")
    expect(person.locator("main")).to_contain_text("Shelter")
    accessible(person, "the person's own feedback form")
    person.check("#answer-received-received")
    person.check("#answer-quality-good")
    person.get_by_role("button", name="Send my feedback").click()
    expect(person.locator("h1")).to_have_text("Thank you")
    steps.shot(person, "persons-own-feedback")
    again = person.goto(link)
    assert again is not None
    assert again.status == 404
    caseworker.goto(f"/feedback/partners/{partner_id(console, HOPE)}")
    reload_until(
        caseworker,
        lambda: caseworker.locator("#kpi-responses").inner_text() == "2",
        "the referral service to count the person's own answer",
    )


def test_a_no_contact_case_refuses_a_contact_check_and_safe_times_hold(
    console: RunningConsole, people: People, steps: Steps
) -> None:
    caseworker = people.page()
    sign_in(caseworker, "caseworker", team="ne-niamey-cm", country="NE")
    case_id = register_case(caseworker, no_contact=True)
    profile = caseworker.locator("#safety-profile")
    expect(profile).to_contain_text("No direct contact")
    expect(profile).to_contain_text("Through the caseworker")
    expect(profile).to_contain_text("Never leave one")
    accessible(caseworker, "the case page with the safety profile")

    caseworker.select_option("#check-channel", "phone_call")
    caseworker.fill("#check-time", "19:30")
    caseworker.get_by_role("button", name="Check the contact").click()
    expect(
        caseworker.locator(".flash", has_text="Contact refused: do not make it.")
    ).to_be_visible()
    expect(
        caseworker.locator(".flash", has_text="The person is not to be contacted at all.")
    ).to_be_visible()
    steps.shot(caseworker, "contact-refused")

    # In Arabic, right to left, the same refusal.
    caseworker.select_option("#language-choice", "ar")
    caseworker.locator("form[action='/language'] button").click()
    expect(caseworker.locator("html")).to_have_attribute("dir", "rtl")
    caseworker.select_option("#check-channel", "sms")
    caseworker.locator("#contact-check button[type=submit]").click()
    expect(caseworker.locator(".flash", has_text="يجب عدم الاتصال بالشخص إطلاقًا.")).to_be_visible()
    accessible(caseworker, "the Arabic case page after a refused contact")
    steps.shot(caseworker, "contact-refused-arabic")

    # The refusal is an event: the audit log has it on the case.
    token = mint_dev_token([Role.AUDITOR], subject="browser-test-oracle")
    deadline = time.monotonic() + 45
    while True:
        found = httpx.get(
            f"{console.service_urls['audit']}/v1/audit/events",
            params={"case_id": case_id, "type": "org.mpa.access.contact_withheld.v1"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        if len(found["items"]) >= 2:
            break
        assert time.monotonic() < deadline, "the refused contacts were not audited"
        time.sleep(0.5)

    # --- A person reachable by text in the evening only, no voicemail -----------------------
    caseworker.select_option("#language-choice", "en")
    caseworker.locator("form[action='/language'] button").click()
    expect(caseworker.locator("html")).to_have_attribute("dir", "ltr")
    evening = register_case(caseworker, evening_sms=True)
    assert evening != case_id
    expect(profile).to_contain_text("Text message")
    expect(profile).to_contain_text("Evening (18:00 to 22:00)")
    expect(profile).to_contain_text("Never leave one")
    caseworker.select_option("#check-channel", "sms")
    caseworker.fill("#check-time", "10:00")
    caseworker.get_by_role("button", name="Check the contact").click()
    expect(
        caseworker.locator(".flash", has_text="This is not a time the person said is safe.")
    ).to_be_visible()
    caseworker.select_option("#check-channel", "sms")
    caseworker.fill("#check-time", "19:30")
    caseworker.get_by_role("button", name="Check the contact").click()
    expect(caseworker.locator(".flash", has_text="Contact allowed")).to_be_visible()
    expect(caseworker.locator(".flash", has_text="Leave no voicemail")).to_be_visible()
    steps.shot(caseworker, "evening-text-allowed")
