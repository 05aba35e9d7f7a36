"""Request bodies derived from the budget model: its field names, no others (an unknown one is a 422).

A budget body names only the fields it sets, natively or by a seed name (``limit_usd``,
``alert_threshold``, ... see ``budgets/seed_names.py``): a new budget's are completed by the model's
defaults, an update's (``PUT``, a partial update) are merged into the stored budget. The body models
fix which names exist and their types (for OpenAPI and a 422 naming a typo); the request's own keys
and values (:meth:`BudgetFields.given`) are then validated by
:class:`~spendgate.collector.budgets.model.Budget` itself, so its rules are written once, there.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidatorFunctionWrapHandler,
    create_model,
    model_validator,
)
from spendgate.collector.budgets import seed_names
from spendgate.collector.budgets.model import Budget


class BudgetFields(BaseModel):
    """Some fields of a budget, by name; :meth:`given` is what the request set, as it set it."""

    model_config = ConfigDict(extra="forbid")

    # Seeds 001 and 003: the warn point as a fraction of the limit (0.8); the model turns it into percent.
    alert_threshold: Decimal | None = None
    _given: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_given(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        fields = handler(data)
        fields._given = dict(data) if isinstance(data, dict) else {}
        return fields

    def given(self) -> dict[str, Any]:
        return dict(self._given)


def _fields_of(name: str, doc: str) -> type[BudgetFields]:
    fields: dict[str, Any] = {
        field: (
            cast(Any, info.annotation) | None,
            Field(default=None, validation_alias=info.validation_alias),
        )
        for field, info in Budget.model_fields.items()
    }
    return create_model(name, __base__=BudgetFields, __doc__=doc, **fields)


if TYPE_CHECKING:  # to the type checker both are what they derive from
    NewBudget = BudgetFields
    BudgetChanges = BudgetFields
else:
    NewBudget = _fields_of(
        "NewBudget", "A budget to create: scope_type and limit at least, the rest defaults (see the README)."
    )
    BudgetChanges = _fields_of(
        "BudgetChanges", "The fields to change; those not given keep their stored values."
    )
NEW_BUDGET_EXAMPLES = seed_names.EXAMPLES  # a native body and the seeds'
BUDGET_CHANGES_EXAMPLE = {"limit": "250", "thresholds": [80, 100]}
