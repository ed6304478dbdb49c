"""Where the platform's local files live: the checkout (or MPA_HOME), never the working directory.

Development keys (token signing, intake master and matching keys, webhook secrets key, audit
tree-head key) default to paths under `.local/`. A relative path used to be read against the
working directory, so `mpa token` run from another folder created a second key there and
minted tokens no service accepted. Now a relative path is resolved against the platform's
home: `MPA_HOME` when it is set, otherwise the checkout these packages are installed from.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_VARIABLE = "MPA_HOME"
# The file that marks a checkout of the platform (the same marker `mpa stack` looks for).
_CHECKOUT_MARKER = Path("deploy") / "local" / "kafka" / "pom.xml"


class HomeNotFound(RuntimeError):
    """Neither MPA_HOME nor a checkout around the installed packages says where home is."""


def checkout_of(start: Path) -> Path | None:
    """The platform checkout holding `start`, if any."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / _CHECKOUT_MARKER).is_file():
            return candidate
    return None


def platform_home() -> Path:
    """MPA_HOME if set, else the checkout this package is installed from (editable install)."""
    if configured := os.environ.get(HOME_VARIABLE, "").strip():
        return Path(configured).expanduser().resolve()
    checkout = checkout_of(Path(__file__))
    if checkout is None:
        raise HomeNotFound(
            f"{HOME_VARIABLE} is not set and the MPA packages are not installed from a "
            "checkout: set MPA_HOME to the folder that holds `.local/`, or configure the "
            "keys explicitly"
        )
    return checkout


def resolve_home_path(path: Path) -> Path:
    """An absolute path as given; a relative one under the platform's home (not the cwd)."""
    path = path.expanduser()
    if path.is_absolute():
        return path
    return platform_home() / path
