"""OTLP metrics receivers for the tests: a real gRPC MetricsService server that keeps what it is sent."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest


class GrpcMetricsSink(metrics_service_pb2_grpc.MetricsServiceServicer):
    """``MetricsService/Export`` on a free port: the metric names, service names and headers it received."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.services: set[str] = set()
        self.headers: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self.server = grpc.server(ThreadPoolExecutor(2))
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(self, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"http://127.0.0.1:{port}"  # http://: the exporter's insecure channel
        self.server.start()

    def Export(  # noqa: N802 - the generated servicer's name
        self, request: ExportMetricsServiceRequest, context: Any
    ) -> metrics_service_pb2.ExportMetricsServiceResponse:
        with self._lock:
            self.headers.update((key, value) for key, value in context.invocation_metadata())
            for resource in request.resource_metrics:
                self.services.update(
                    a.value.string_value for a in resource.resource.attributes if a.key == "service.name"
                )
                for scope in resource.scope_metrics:
                    self.names.update(metric.name for metric in scope.metrics)
        return metrics_service_pb2.ExportMetricsServiceResponse()

    def stop(self) -> None:
        self.server.stop(grace=None)
