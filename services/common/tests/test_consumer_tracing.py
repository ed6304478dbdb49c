"""The trace context a consumer continues is what OpenTelemetry's propagator extracts."""

import pytest
from opentelemetry import propagate, trace
from opentelemetry.context import Context

from mpa_common.messaging.consumer import _context, _link
from mpa_contracts.envelope import Envelope, new_envelope
from mpa_contracts.examples import example_event

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"


def _envelope(traceparent: str | None, tracestate: str | None = None) -> Envelope:
    return new_envelope(
        example_event("org.mpa.case.closed.v1"),
        source="urn:mpa:intake",
        traceparent=traceparent,
        tracestate=tracestate,
    )


def _extracted(envelope: Envelope) -> Context:
    """What the consumer did before: the global propagator over the event's trace context."""
    attributes = (("traceparent", envelope.traceparent), ("tracestate", envelope.tracestate))
    return propagate.extract({name: value for name, value in attributes if value})


@pytest.mark.parametrize(
    ("traceparent", "tracestate"),
    [
        (None, None),
        (f"00-{TRACE_ID}-{SPAN_ID}-01", None),
        (f"00-{TRACE_ID}-{SPAN_ID}-00", "mpa=1,vendor=a:b"),
        (f"00-{TRACE_ID}-{SPAN_ID}-01", "not a valid list member"),
        (f"01-{TRACE_ID}-{SPAN_ID}-03", "mpa=1"),
        (f"ff-{TRACE_ID}-{SPAN_ID}-01", None),  # forbidden version
        (f"00-{'0' * 32}-{SPAN_ID}-01", None),  # invalid trace id
        (f"00-{TRACE_ID}-{'0' * 16}-01", None),  # invalid span id
    ],
)
def test_span_context_of_an_event_is_what_the_propagator_extracts(
    traceparent: str | None, tracestate: str | None
) -> None:
    envelope = _envelope(traceparent, tracestate)
    extracted = _extracted(envelope)
    expected = trace.get_current_span(extracted).get_span_context()
    context = _context(envelope)
    assert context.keys() == extracted.keys()
    assert trace.get_current_span(context).get_span_context() == expected
    assert _link(envelope).context == expected


def test_an_event_without_trace_context_starts_a_new_trace_not_a_child_of_the_current() -> None:
    with trace.get_tracer(__name__).start_as_current_span("unrelated"):
        context = _context(_envelope(None))
    assert not trace.get_current_span(context).get_span_context().is_valid
