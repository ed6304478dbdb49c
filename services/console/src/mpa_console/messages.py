"""`N_`: marks an English message for the catalogues without translating it where it stands.

Message ids travel as such (flash messages, form errors, page titles) and are translated
where they are shown, in the user's language; `make i18n` extracts every `N_("...")`.
"""


def N_(message: str) -> str:
    return message
