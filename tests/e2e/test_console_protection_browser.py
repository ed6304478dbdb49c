"""The protection screens (issue 17) in a real browser, on the four services and the console
as real processes: a caseworker registers a separated child who needs to go home; the return
referral waits for a best-interests determination; the caseworker notes trafficking
indicators, records a reasonable-grounds decision (a 30-day reflection period starts), the
child's assent and a best-interests assessment; a supervisor approves the determination; the
caseworker records it, and the return referral is routed. axe-core checks the screen."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.console_support import RunningConsole, Steps
from tests.e2e.test_console_browser import (
    People,
    accessible,
    browser,  # noqa: F401 - the module's own browser
    console,  # noqa: F401 - the module's own platform and console
    fill_person,
    people,  # noqa: F401
    referral_ids,
    reload_until,
    sign_in,
    steps,  # noqa: F401
)


def test_a_separated_childs_protection_steps_then_her_return_is_referred(
    console: RunningConsole,  # noqa: F811
    people: People,  # noqa: F811
    steps: Steps,  # noqa: F811
) -> None:
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
    expect(caseworker.locator(".flash")).to_contain_text("The case was registered.")
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
