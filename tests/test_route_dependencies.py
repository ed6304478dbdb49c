"""Every route's dependencies are coroutines (issue 13): FastAPI runs a plain `def`
dependency in its thread pool, so each one costs every request a thread hop (a wake-up, a
GIL hand-over and the pool's queue under load). Token checks and context look-ups are
microseconds of work; they run on the event loop. Needs no server."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute


def _apps() -> dict[str, FastAPI]:
    from mpa_audit.main import create_app as audit
    from mpa_console.main import create_app as console
    from mpa_intake.main import create_app as intake
    from mpa_notification.main import create_app as notification
    from mpa_referral.main import create_app as referral

    return {"intake": intake(), "referral": referral(), "notification": notification(),
            "audit": audit(), "console": console()}  # fmt: skip


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        for attribute in ("routes", "original_router", "router"):
            nested = getattr(route, attribute, None)
            if nested is not None and nested is not route:
                yield from _api_routes(getattr(nested, "routes", nested) or ())


def _sync_calls(dependant: Dependant) -> Iterator[str]:
    for dependency in dependant.dependencies:
        call = dependency.call
        if call is not None:
            function = call if inspect.isroutine(call) else getattr(call, "__call__", call)  # noqa: B004
            if not inspect.iscoroutinefunction(function):
                yield f"{call.__module__}.{getattr(call, '__qualname__', call)}"
        yield from _sync_calls(dependency)


@pytest.mark.parametrize("service", ["intake", "referral", "notification", "audit", "console"])
def test_no_route_runs_a_dependency_or_an_endpoint_in_the_thread_pool(service: str) -> None:
    routes = list(_api_routes(_apps()[service].routes))
    assert len(routes) > 3, "the walk found the service's routes"
    sync = {name for route in routes for name in _sync_calls(route.dependant)}
    sync |= {
        f"{route.path} {route.endpoint.__qualname__}"
        for route in routes
        if not inspect.iscoroutinefunction(route.endpoint)
    }
    assert sync == set()
