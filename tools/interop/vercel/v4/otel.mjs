// The OpenTelemetry SDK pieces, resolved from this directory's node_modules.
export { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
export { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
export { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
export { resourceFromAttributes } from '@opentelemetry/resources';
