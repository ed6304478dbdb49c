"""Languages: complete catalogues, the user's choice, right to left for Arabic."""

from __future__ import annotations

from mpa_console import catalogues
from mpa_console.web import i18n
from mpa_console.web.labels import VOCABULARIES, label


def test_every_message_is_translated_into_french_and_arabic() -> None:
    assert catalogues.problems() == []
    extracted = {m.id for m in catalogues.extract() if m.id}
    assert len(extracted) > 300


def test_every_vocabulary_code_has_a_translated_label() -> None:
    with i18n.language("fr"):
        for name, vocabulary in VOCABULARIES.items():
            for member in vocabulary:
                text = label(name, member.value)
                assert text, (name, member)
                assert text != member.value, f"{name}.{member.value} has no label"
    with i18n.language("ar"):
        assert label("need", "shelter") == "المأوى"


def test_the_browsers_language_is_the_default_and_the_users_choice_wins() -> None:
    assert i18n.choose_language(None, "fr-CA,fr;q=0.9,en;q=0.5") == "fr"
    assert i18n.choose_language(None, "ar-EG") == "ar"
    assert i18n.choose_language(None, "de-DE") == "en"
    assert i18n.choose_language("ar", "fr") == "ar"
    assert i18n.choose_language("xx", None) == "en"


def test_an_arabic_page_is_right_to_left(client, csrf_of) -> None:
    page = client.get("/sign-in", headers={"accept-language": "ar"})
    assert '<html lang="ar" dir="rtl">' in page.text
    assert "تسجيل الدخول" in page.text
    token = csrf_of(page.text)
    client.post("/language", data={"language": "fr", "csrf_token": token})
    french = client.get("/sign-in", headers={"accept-language": "ar"})
    assert '<html lang="fr" dir="ltr">' in french.text
    assert "Se connecter" in french.text


def test_dates_and_durations_follow_the_language() -> None:
    with i18n.language("fr"):
        assert i18n.duration(3 * 3600).replace("\xa0", " ") == "3 heures"
    with i18n.language("en"):
        assert i18n.duration(-90) == "2 minutes"
