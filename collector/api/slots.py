"""GET /api/v1/runs/slots: who holds the concurrency slots of runs, and who waits for one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from spendgate.collector.budgets.slots import SlotManager


def build_router(slots: SlotManager | None) -> APIRouter:
    router = APIRouter()

    @router.get("/api/v1/runs/slots")
    def run_slots() -> dict[str, Any]:
        """The concurrency slots of runs: who holds them and who waits."""
        if slots is None:
            raise HTTPException(
                404, "this collector does not evaluate budgets: the evaluating collector holds the slots"
            )
        return slots.snapshot()

    return router
