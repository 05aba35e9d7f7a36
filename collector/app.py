"""Wire the collector together and run it: storage, writer, pipeline, receivers."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import Depends, FastAPI
from spendgate.collector.api.auth import Authenticator, AuthMiddleware, GrpcAuthInterceptor
from spendgate.collector.api.chargeback import build_router as chargeback_router
from spendgate.collector.api.costs import build_router as costs_router
from spendgate.collector.api.dismissals import build_router as dismissals_router
from spendgate.collector.api.docs import add_offline_docs
from spendgate.collector.api.events import build_router as events_router
from spendgate.collector.api.limits import build_router as limits_router
from spendgate.collector.api.metrics import build_router as metrics_router
from spendgate.collector.api.overrides import build_router as overrides_router
from spendgate.collector.api.pauses import build_router as pauses_router
from spendgate.collector.api.routes import build_router as budgets_router
from spendgate.collector.api.seed_admin import build_router as seed_admin_router
from spendgate.collector.api.seed_dashboard import build_router as seed_dashboard_router
from spendgate.collector.api.slots import build_router as slots_router
from spendgate.collector.api.strict import reject_unknown_query
from spendgate.collector.budgets import flag_service, slot_service
from spendgate.collector.budgets.runtime import BudgetRuntime
from spendgate.collector.config import Config
from spendgate.collector.console import routes as console
from spendgate.collector.events.observer import CostEvents
from spendgate.collector.events.service import EventService
from spendgate.collector.ingest import grpc_receiver, http_receiver
from spendgate.collector.ingest.fixed_costs import FixedCosts
from spendgate.collector.ingest.normalize import TimeBounds
from spendgate.collector.ingest.observers import Observers
from spendgate.collector.ingest.pipeline import TracesPipeline
from spendgate.collector.ingest.reconcile import Reconciler, grace_for
from spendgate.collector.ingest.request_limits import UVICORN_OPTIONS, RequestLimits
from spendgate.collector.ingest.writer import BlockObserver, SpanWriter
from spendgate.collector.storage import Storage, migrate, open_storage
from spendgate.collector.telemetry import Telemetry

from spendgate import __version__

log = logging.getLogger("spendgate.collector")
_MIB = 1024 * 1024


def _listening(endpoint: str, port: int | None) -> str:
    return f"{endpoint.rpartition(':')[0]}:{port}"


class Collector:
    def __init__(self, config: Config, base_dir: Path | None = None) -> None:
        self.config = config
        self.base_dir = base_dir
        self.storage: Storage | None = None
        self.writer: SpanWriter | None = None
        self.pipeline: TracesPipeline | None = None
        self.budgets: BudgetRuntime | None = None
        self.fixed_costs: FixedCosts | None = None
        self.reconciler: Reconciler | None = None
        self.events: EventService | None = None
        self.telemetry: Telemetry | None = None
        self.grpc_port: int | None = None
        self.http_port: int | None = None
        self.auth = Authenticator(config.extensions.auth.api_keys)
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def open(self, repair_schema: bool = False) -> None:
        exporter = self.config.exporters.clickhouse
        self.storage = open_storage(exporter, self.base_dir)
        applied = migrate(self.storage, repair=repair_schema)
        if applied:
            log.info("schema migrations applied: %s", ", ".join(applied))
        # Before any receiver accepts traffic: rollups a crash left behind catch up with llm_spans.
        self.reconciler = Reconciler(self.storage, grace=grace_for(self.storage, exporter.insert_timeout))
        self.reconciler.run_at_start()
        batch = self.config.processors.batch
        self.writer = SpanWriter(
            self.storage,
            batch,
            exporter.dedup_window,
            exporter.dedup_max_ids,
            retry_for=exporter.insert_timeout,
            shared=exporter.dedup_shared,
        )
        self.writer.ledger = self.reconciler.ledger
        metrics = self.config.service.telemetry.metrics
        self.telemetry = Telemetry(metrics) if metrics.level != "none" else None
        self.writer.meter = self.telemetry
        self.writer.start()
        retention = self.config.exporters.clickhouse.retention
        self.pipeline = TracesPipeline(
            self.config.processors.pricing,
            self.writer,
            batch.workers,
            TimeBounds(max_age_s=retention.detailed_days * 86400.0),
        )
        self.pipeline.warm_up()
        # Before the budgets' first evaluation, so it counts today's fixed costs.
        self.fixed_costs = FixedCosts(self.config.processors.pricing, self.storage, self.writer)
        self.fixed_costs.start()
        observers: list[BlockObserver] = []
        if self.config.extensions.events.enabled:
            self.events = EventService(self.storage, self.config.extensions.events)
            self.events.start()
            if "cost.recorded" in self.config.extensions.events.published:
                observers.append(CostEvents(self.events.bus))
        settings = self.config.extensions.budgets
        if settings.enabled:
            self.budgets = BudgetRuntime(self.storage, settings)
            self.budgets.events = self.events.bus if self.events else None
            self.budgets.meter = self.telemetry
            self.budgets.open(quiesce=self.writer.insert_lock)
            if self.budgets.live is not None:
                observers.insert(0, self.budgets.live)  # the fast path first: it blocks agents
            self.budgets.start()
        self.writer.observer = Observers(observers) if len(observers) > 1 else next(iter(observers), None)
        self._watch()
        # A replay changes the rollups under the evaluator: it reads them again.
        self.reconciler.start(self.writer.insert_lock, self.budgets.evaluator if self.budgets else None)

    def _watch(self) -> None:
        """Hand the metrics what the components count already."""
        assert self.pipeline is not None and self.writer is not None
        if (telemetry := self.telemetry) is None:
            return
        self.pipeline.meter = telemetry
        telemetry.watch_writer(self.writer)
        if (budgets := self.budgets) is not None:
            telemetry.watch_flags(lambda: budgets.board.watchers)
        if (events := self.events) is not None:
            telemetry.watch_deliveries(lambda: [delivery.stats for delivery in events.deliveries])

    def http_app(self) -> FastAPI:
        assert self.pipeline is not None and self.writer is not None
        protocols = self.config.receivers.otlp.protocols
        # Every route, whoever adds it, rejects query parameters it does not declare (api/strict.py).
        app = FastAPI(
            title="spendgate collector",
            version=__version__,
            docs_url=None,  # served from local assets instead of a CDN (api/docs.py)
            redoc_url=None,
            dependencies=[Depends(reject_unknown_query)],
        )
        add_offline_docs(app)
        if self.auth.enabled:
            app.add_middleware(AuthMiddleware, authenticator=self.auth, meter=self.telemetry)
        app.add_middleware(RequestLimits)  # added last, so it runs first
        if protocols.http is not None:
            app.include_router(
                http_receiver.build_router(
                    self.pipeline,
                    protocols.http.max_request_body_size_mib * _MIB,
                    self.config.processors.batch.ack_timeout,
                )
            )
        assert self.storage is not None
        app.include_router(dismissals_router(self.storage))  # before costs: its fixed paths
        app.include_router(costs_router(self.storage, self.pipeline.pricer.shared))
        app.include_router(seed_dashboard_router(self.storage, self.pipeline.pricer.shared, self.budgets))
        if self.telemetry is not None and self.telemetry.settings.prometheus:
            app.include_router(metrics_router(self.telemetry))
        app.include_router(chargeback_router(self.storage, self.config.reports.chargeback.shared))
        if self.budgets is not None:
            app.include_router(seed_admin_router(self.budgets))
            app.include_router(budgets_router(self.budgets))
            app.include_router(slots_router(self.budgets.slots))
            app.include_router(pauses_router(self.budgets))
            app.include_router(overrides_router(self.budgets))
            app.include_router(limits_router(self.budgets))
        if self.events is not None:
            app.include_router(events_router(self.events))
        console.mount(app, self.auth.enabled)
        pipeline, writer, budgets, events = self.pipeline, self.writer, self.budgets, self.events

        @app.get("/healthz")
        def healthz() -> dict[str, Any]:
            """Liveness and the pipeline's, writer's and budgets' counters (open without a key)."""
            return {
                "status": "ok",
                "pipeline": pipeline.stats,
                "writer": writer.stats,
                "queued": writer.queued_spans,
                "events": events.stats if events else None,
                "budgets": None
                if budgets is None
                else {
                    "watchers": budgets.board.watchers,
                    "flags_version": budgets.board.version,
                    "fast_path": budgets.live.stats if budgets.live else None,
                },
            }

        return app

    async def serve(self) -> None:
        if self.pipeline is None:
            self.open()
        assert self.pipeline is not None
        protocols = self.config.receivers.otlp.protocols
        batch = self.config.processors.batch
        grpc_server = None
        if protocols.grpc is not None:
            grpc_server, self.grpc_port = grpc_receiver.build_server(
                self.pipeline,
                protocols.grpc.endpoint,
                protocols.grpc.max_recv_msg_size_mib * _MIB,
                batch.ack_timeout,
                [GrpcAuthInterceptor(self.auth, self.telemetry)] if self.auth.enabled else None,
            )
            if self.budgets is not None:
                pricing = self.config.processors.pricing.overrides()
                budgets = self.budgets
                flag_service.add_to_server(grpc_server, budgets.board, budgets.live, pricing, budgets.checker)
                if budgets.slots is not None:
                    slot_service.add_to_server(grpc_server, budgets.slots)
            await grpc_server.start()
        http_server = None
        http_task = None
        if protocols.http is not None:
            host, _, port = protocols.http.endpoint.rpartition(":")
            http_server = uvicorn.Server(
                uvicorn.Config(
                    self.http_app(),
                    host=host.strip("[]"),
                    port=int(port),
                    log_level="warning",
                    access_log=False,
                    **UVICORN_OPTIONS,
                )
            )
            http_task = asyncio.create_task(http_server.serve())
            while not http_server.started:
                if http_task.done():
                    http_task.result()
                    raise OSError(f"cannot listen for OTLP/HTTP on {protocols.http.endpoint}")
                await asyncio.sleep(0.02)
            self.http_port = http_server.servers[0].sockets[0].getsockname()[1]
        self._loop = asyncio.get_running_loop()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._loop.add_signal_handler(sig, self._stop.set)
        assert self.storage is not None
        grpc_at = _listening(protocols.grpc.endpoint, self.grpc_port) if protocols.grpc else "off"
        http_at = _listening(protocols.http.endpoint, self.http_port) if protocols.http else "off"
        print(
            f"spendgate collector {__version__} ready: "
            f"otlp/grpc={grpc_at} otlp/http={http_at} storage={self.storage.dsn}",
            flush=True,
        )
        await self._stop.wait()
        log.info("shutting down: finishing requests in flight")
        if grpc_server is not None:
            await grpc_server.stop(grace=5)
        if http_server is not None and http_task is not None:
            if self.events is not None:
                self.events.end_streams()  # clients reconnect with Last-Event-ID
            http_server.should_exit = True
            await http_task
        self.close()

    def serve_in_thread(self, timeout: float = 20.0) -> threading.Thread:
        """Open and serve on a daemon thread (tests, the demo, benchmarks); returns once both
        receivers listen. Stop it with :meth:`request_stop` and join the thread."""
        if self.pipeline is None:
            self.open()
        thread = threading.Thread(
            target=lambda: asyncio.run(self.serve()), name="spendgate-collector", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while self.http_port is None or self.grpc_port is None:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the collector did not start")
            time.sleep(0.02)
        return thread

    def request_stop(self) -> None:
        """Ask a serving collector to shut down; safe from any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        else:
            self._stop.set()

    def close(self) -> None:
        if self.fixed_costs is not None:
            self.fixed_costs.stop()
        if self.pipeline is not None:
            self.pipeline.close()
        if self.writer is not None:
            self.writer.stop()
        if self.reconciler is not None:
            self.reconciler.stop()
        if self.budgets is not None:
            self.budgets.close()
        if self.events is not None:
            self.events.close()
        if self.storage is not None:
            self.storage.close()
        if self.telemetry is not None:
            self.telemetry.shutdown()
