"""Traces and GenAI metrics of the data plane (OpenTelemetry, OTLP export off the hot path).

spec (where telemetry goes, compiled with the configuration), environment (the standard OTEL_*
variables), trace_context (W3C traceparent without the SDK), genai (semantic-convention names and
what a request contributes to them), export (the bounded span queue and the exporters), tracing (the
per-request spans), otlp_metrics (the GenAI metrics over OTLP), telemetry (the data plane's part that
owns all of it). Nothing here imports the OpenTelemetry SDK until a configuration asks for export.
"""
