-- Cluster mode only: the Distributed table over the override requests (a request's versions on one shard).
CREATE TABLE IF NOT EXISTS {db}.budget_override_requests {on_cluster}
AS {db}.budget_override_requests_local
ENGINE = Distributed({cluster}, {db}, budget_override_requests_local, cityHash64(id));
