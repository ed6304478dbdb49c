"""OpenTelemetry tracing: one trace per case story, across HTTP, the outbox and Kafka.

Incoming HTTP requests are traced by the FastAPI instrumentation; the outbox stamps the
active `traceparent` on each event; consumers continue it (see messaging.consumer). Spans are
exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set, and otherwise only
propagated (ids still flow, so logs and events can be correlated).
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span

from mpa_common.logging import redacted_path

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


def _redact_secret_path(span: Span | None, scope: dict[str, Any]) -> None:
    """A feedback invitation's token is in its path: the span keeps the path without it."""
    path = str(scope.get("path", ""))
    redacted = redacted_path(path)
    if span is None or redacted == path or not span.is_recording():
        return
    for attribute in ("http.target", "url.path", "http.url", "url.full"):
        span.set_attribute(attribute, redacted)
