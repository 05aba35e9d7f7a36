from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Scope(_message.Message):
    __slots__ = ("type", "id")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    type: str
    id: str
    def __init__(self, type: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class Flag(_message.Message):
    __slots__ = ("budget_id", "scope", "state", "spend", "limit", "utilization", "remaining", "period_end_unix_ms", "reason", "version", "metric")
    BUDGET_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SPEND_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    budget_id: str
    scope: Scope
    state: str
    spend: str
    limit: str
    utilization: str
    remaining: str
    period_end_unix_ms: int
    reason: str
    version: int
    metric: str
    def __init__(self, budget_id: _Optional[str] = ..., scope: _Optional[_Union[Scope, _Mapping]] = ..., state: _Optional[str] = ..., spend: _Optional[str] = ..., limit: _Optional[str] = ..., utilization: _Optional[str] = ..., remaining: _Optional[str] = ..., period_end_unix_ms: _Optional[int] = ..., reason: _Optional[str] = ..., version: _Optional[int] = ..., metric: _Optional[str] = ...) -> None: ...

class CallLimit(_message.Message):
    __slots__ = ("budget_id", "scope", "period", "metric", "limit", "hard", "window_seconds", "block_at")
    BUDGET_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    HARD_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    BLOCK_AT_FIELD_NUMBER: _ClassVar[int]
    budget_id: str
    scope: Scope
    period: str
    metric: str
    limit: str
    hard: bool
    window_seconds: int
    block_at: str
    def __init__(self, budget_id: _Optional[str] = ..., scope: _Optional[_Union[Scope, _Mapping]] = ..., period: _Optional[str] = ..., metric: _Optional[str] = ..., limit: _Optional[str] = ..., hard: _Optional[bool] = ..., window_seconds: _Optional[int] = ..., block_at: _Optional[str] = ...) -> None: ...

class FlagSnapshot(_message.Message):
    __slots__ = ("version", "flags", "limits", "generated_unix_ms", "pricing")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    GENERATED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    PRICING_FIELD_NUMBER: _ClassVar[int]
    version: int
    flags: _containers.RepeatedCompositeFieldContainer[Flag]
    limits: _containers.RepeatedCompositeFieldContainer[CallLimit]
    generated_unix_ms: int
    pricing: PricingOverrides
    def __init__(self, version: _Optional[int] = ..., flags: _Optional[_Iterable[_Union[Flag, _Mapping]]] = ..., limits: _Optional[_Iterable[_Union[CallLimit, _Mapping]]] = ..., generated_unix_ms: _Optional[int] = ..., pricing: _Optional[_Union[PricingOverrides, _Mapping]] = ...) -> None: ...

class PricingOverrides(_message.Message):
    __slots__ = ("models", "discounts", "local_providers", "fallback")
    class DiscountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODELS_FIELD_NUMBER: _ClassVar[int]
    DISCOUNTS_FIELD_NUMBER: _ClassVar[int]
    LOCAL_PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelPrice]
    discounts: _containers.ScalarMap[str, str]
    local_providers: _containers.RepeatedScalarFieldContainer[str]
    fallback: FallbackPrice
    def __init__(self, models: _Optional[_Iterable[_Union[ModelPrice, _Mapping]]] = ..., discounts: _Optional[_Mapping[str, str]] = ..., local_providers: _Optional[_Iterable[str]] = ..., fallback: _Optional[_Union[FallbackPrice, _Mapping]] = ...) -> None: ...

class ModelPrice(_message.Message):
    __slots__ = ("model", "provider", "input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok", "per_request")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    INPUT_PER_MTOK_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_PER_MTOK_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_PER_MTOK_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_PER_MTOK_FIELD_NUMBER: _ClassVar[int]
    PER_REQUEST_FIELD_NUMBER: _ClassVar[int]
    model: str
    provider: str
    input_per_mtok: str
    output_per_mtok: str
    cache_read_per_mtok: str
    cache_write_per_mtok: str
    per_request: str
    def __init__(self, model: _Optional[str] = ..., provider: _Optional[str] = ..., input_per_mtok: _Optional[str] = ..., output_per_mtok: _Optional[str] = ..., cache_read_per_mtok: _Optional[str] = ..., cache_write_per_mtok: _Optional[str] = ..., per_request: _Optional[str] = ...) -> None: ...

class FallbackPrice(_message.Message):
    __slots__ = ("input_per_mtok", "output_per_mtok", "embeddings_input_per_mtok")
    INPUT_PER_MTOK_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_PER_MTOK_FIELD_NUMBER: _ClassVar[int]
    EMBEDDINGS_INPUT_PER_MTOK_FIELD_NUMBER: _ClassVar[int]
    input_per_mtok: str
    output_per_mtok: str
    embeddings_input_per_mtok: str
    def __init__(self, input_per_mtok: _Optional[str] = ..., output_per_mtok: _Optional[str] = ..., embeddings_input_per_mtok: _Optional[str] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: str
    def __init__(self, agent: _Optional[str] = ...) -> None: ...

class CheckRequest(_message.Message):
    __slots__ = ("scopes", "estimated_cost", "estimated_tokens")
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_COST_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    scopes: _containers.RepeatedCompositeFieldContainer[Scope]
    estimated_cost: str
    estimated_tokens: str
    def __init__(self, scopes: _Optional[_Iterable[_Union[Scope, _Mapping]]] = ..., estimated_cost: _Optional[str] = ..., estimated_tokens: _Optional[str] = ...) -> None: ...

class CheckResponse(_message.Message):
    __slots__ = ("allowed", "flags", "reason", "has_budget", "source", "budgets", "tightest")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    HAS_BUDGET_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    BUDGETS_FIELD_NUMBER: _ClassVar[int]
    TIGHTEST_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    flags: _containers.RepeatedCompositeFieldContainer[Flag]
    reason: str
    has_budget: bool
    source: str
    budgets: _containers.RepeatedCompositeFieldContainer[BudgetDecision]
    tightest: BudgetDecision
    def __init__(self, allowed: _Optional[bool] = ..., flags: _Optional[_Iterable[_Union[Flag, _Mapping]]] = ..., reason: _Optional[str] = ..., has_budget: _Optional[bool] = ..., source: _Optional[str] = ..., budgets: _Optional[_Iterable[_Union[BudgetDecision, _Mapping]]] = ..., tightest: _Optional[_Union[BudgetDecision, _Mapping]] = ...) -> None: ...

class BudgetDecision(_message.Message):
    __slots__ = ("budget_id", "scope", "metric", "period", "hard", "state", "allowed", "reason", "limit", "spend", "held", "remaining", "limit_usd", "current_spend_usd", "remaining_usd", "utilization_percent", "is_exceeded", "is_warning")
    BUDGET_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    HARD_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SPEND_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    LIMIT_USD_FIELD_NUMBER: _ClassVar[int]
    CURRENT_SPEND_USD_FIELD_NUMBER: _ClassVar[int]
    REMAINING_USD_FIELD_NUMBER: _ClassVar[int]
    UTILIZATION_PERCENT_FIELD_NUMBER: _ClassVar[int]
    IS_EXCEEDED_FIELD_NUMBER: _ClassVar[int]
    IS_WARNING_FIELD_NUMBER: _ClassVar[int]
    budget_id: str
    scope: Scope
    metric: str
    period: str
    hard: bool
    state: str
    allowed: bool
    reason: str
    limit: str
    spend: str
    held: str
    remaining: str
    limit_usd: str
    current_spend_usd: str
    remaining_usd: str
    utilization_percent: str
    is_exceeded: bool
    is_warning: bool
    def __init__(self, budget_id: _Optional[str] = ..., scope: _Optional[_Union[Scope, _Mapping]] = ..., metric: _Optional[str] = ..., period: _Optional[str] = ..., hard: _Optional[bool] = ..., state: _Optional[str] = ..., allowed: _Optional[bool] = ..., reason: _Optional[str] = ..., limit: _Optional[str] = ..., spend: _Optional[str] = ..., held: _Optional[str] = ..., remaining: _Optional[str] = ..., limit_usd: _Optional[str] = ..., current_spend_usd: _Optional[str] = ..., remaining_usd: _Optional[str] = ..., utilization_percent: _Optional[str] = ..., is_exceeded: _Optional[bool] = ..., is_warning: _Optional[bool] = ...) -> None: ...

class ReserveRequest(_message.Message):
    __slots__ = ("scopes", "amount", "ttl_seconds")
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    scopes: _containers.RepeatedCompositeFieldContainer[Scope]
    amount: str
    ttl_seconds: int
    def __init__(self, scopes: _Optional[_Iterable[_Union[Scope, _Mapping]]] = ..., amount: _Optional[str] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class ReserveResponse(_message.Message):
    __slots__ = ("granted", "reservation_id", "reason", "blocking")
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    BLOCKING_FIELD_NUMBER: _ClassVar[int]
    granted: bool
    reservation_id: str
    reason: str
    blocking: Flag
    def __init__(self, granted: _Optional[bool] = ..., reservation_id: _Optional[str] = ..., reason: _Optional[str] = ..., blocking: _Optional[_Union[Flag, _Mapping]] = ...) -> None: ...

class SettleRequest(_message.Message):
    __slots__ = ("reservation_id", "actual_cost")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_COST_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    actual_cost: str
    def __init__(self, reservation_id: _Optional[str] = ..., actual_cost: _Optional[str] = ...) -> None: ...

class SettleResponse(_message.Message):
    __slots__ = ("found",)
    FOUND_FIELD_NUMBER: _ClassVar[int]
    found: bool
    def __init__(self, found: _Optional[bool] = ...) -> None: ...

class AcquireRequest(_message.Message):
    __slots__ = ("scopes", "run_id", "holder", "wait_ms", "resume")
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    scopes: _containers.RepeatedCompositeFieldContainer[Scope]
    run_id: str
    holder: str
    wait_ms: int
    resume: bool
    def __init__(self, scopes: _Optional[_Iterable[_Union[Scope, _Mapping]]] = ..., run_id: _Optional[str] = ..., holder: _Optional[str] = ..., wait_ms: _Optional[int] = ..., resume: _Optional[bool] = ...) -> None: ...

class AcquireResponse(_message.Message):
    __slots__ = ("granted", "lease_id", "ttl_ms", "position", "reason", "waited_ms")
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    WAITED_MS_FIELD_NUMBER: _ClassVar[int]
    granted: bool
    lease_id: str
    ttl_ms: int
    position: int
    reason: str
    waited_ms: int
    def __init__(self, granted: _Optional[bool] = ..., lease_id: _Optional[str] = ..., ttl_ms: _Optional[int] = ..., position: _Optional[int] = ..., reason: _Optional[str] = ..., waited_ms: _Optional[int] = ...) -> None: ...

class LeaseRequest(_message.Message):
    __slots__ = ("lease_id",)
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    lease_id: str
    def __init__(self, lease_id: _Optional[str] = ...) -> None: ...

class LeaseResponse(_message.Message):
    __slots__ = ("found",)
    FOUND_FIELD_NUMBER: _ClassVar[int]
    found: bool
    def __init__(self, found: _Optional[bool] = ...) -> None: ...
