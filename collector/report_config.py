"""The ``reports`` section: how reports built from stored spend are made.

``reports.chargeback.shared`` is the rule that hands shared spend (calls without the report's
owner, a project or a team: a builder agent serving every project) to the owners:

- ``ticket-then-proportional`` (default): a shared call's ticket, when that ticket was seen with an
  owner (in the daily rollup's retention; the owner with the most spend on it), charges that owner;
  the rest is split in proportion to the spend each owner has so far (its own plus its tickets').
- ``proportional``: all shared spend is split in proportion to each owner's own spend.
- ``none``: shared spend is not allocated; the report lists it as the owner ``""``.
"""

from __future__ import annotations

from typing import Literal

from spendgate.collector.config_fields import Strict

SharedRule = Literal["ticket-then-proportional", "proportional", "none"]


class Chargeback(Strict):
    shared: SharedRule = "ticket-then-proportional"


class Reports(Strict):
    chargeback: Chargeback = Chargeback()
