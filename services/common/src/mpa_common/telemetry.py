"""OpenTelemetry tracing: one trace per case story, across HTTP, the outbox and Kafka.

Incoming HTTP requests are traced by the FastAPI instrumentation; the outbox stamps the
active `traceparent` on each event; consumers continue it (see messaging.consumer). Spans are
exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set, and otherwise only
propagated (ids still flow, so logs and events can be correlated).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span
from starlette.types import ASGIApp

from mpa_common.logging import redacted_path

SpanDetails = Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]
# Paths of routes without parameters are few; the bound only guards against surprises.
_SPAN_DETAILS_CACHE_SIZE = 512

_configured = False


def configure_tracing(service: str) -> None:
    """Installs the process-wide tracer provider once (later calls are no-ops)."""
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: f"mpa-{service}"}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True


def instrument_app(app: FastAPI) -> None:
    # Health probes would be most of the spans and say nothing about cases.
    # Only the request's server span: the ASGI instrumentation's extra spans for each
    # receive and send message cost as much again on every request and say nothing.
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls="healthz,readyz",
        exclude_spans=["receive", "send"],
        server_request_hook=_redact_secret_path,
    )
    # The instrumentation names each server span after its route ("POST /v1/cases") by
    # matching the request against every route of the app, again, before the app's router
    # does: on the busiest route that walk was ~3% of the request's CPU, more on routes
    # further down the list. The answer for a path without parameters never changes, so
    # the middleware it builds (lazily, with the app's stack) gets a memo of it.
    build_instrumented_stack = app.build_middleware_stack

    def build_middleware_stack() -> ASGIApp:
        stack = build_instrumented_stack()
        node: Any = stack
        while node is not None:
            if isinstance(node, OpenTelemetryMiddleware):
                node.default_span_details = memoized_span_details(node.default_span_details)
                break
            node = getattr(node, "app", None)
        return stack

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]


def memoized_span_details(details: SpanDetails) -> SpanDetails:
    """`details` (span name and attributes of a request's scope), remembered for requests
    to a route without path parameters (whose route is its path): ids and tokens in paths
    are never kept, and what is kept is bounded by the app's routes."""
    memo: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = {}

    def span_details(scope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        key = (scope.get("type"), scope.get("method"), scope.get("root_path"), scope.get("path"))
        known = memo.get(key)
        if known is not None:
            return known[0], dict(known[1])
        name, attributes = details(scope)
        if (
            attributes.get("http.route") == scope.get("path")
            and len(memo) < _SPAN_DETAILS_CACHE_SIZE
        ):
            memo[key] = (name, dict(attributes))
        return name, attributes

    return span_details


def _redact_secret_path(span: Span | None, scope: dict[str, Any]) -> None:
    """A feedback invitation's token is in its path: the span keeps the path without it."""
    path = str(scope.get("path", ""))
    redacted = redacted_path(path)
    if span is None or redacted == path or not span.is_recording():
        return
    for attribute in ("http.target", "url.path", "http.url", "url.full"):
        span.set_attribute(attribute, redacted)
