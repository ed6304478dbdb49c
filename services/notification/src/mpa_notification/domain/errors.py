"""What can go wrong in a request, said in the service's own terms (the api maps each to a
problem+json status in one place: `mpa_notification.api.errors`).

Messages name rules and fields, never the values that were sent.
"""

from __future__ import annotations


class NotificationError(Exception):
    """Base of the errors a use case raises for its caller to hear."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(NotificationError):
    """No such resource — or one the caller may not see: the same answer, so no probing."""

    def __init__(self, what: str) -> None:
        super().__init__(f"No such {what}")
        self.what = what


class Forbidden(NotificationError):
    """The caller may not do this, whatever the resource's state."""


class Conflict(NotificationError):
    """The resource's state does not allow this now."""


class InvalidRequest(NotificationError):
    """A field the caller sent is wrong: `field` names where (`body.url`), `reason` why."""

    def __init__(self, detail: str, *, field: str, reason: str) -> None:
        super().__init__(detail)
        self.field = field
        self.reason = reason


class DuplicateAddress(Conflict):
    """The recipient already has this e-mail address."""

    def __init__(self) -> None:
        super().__init__("This recipient already has this address")
