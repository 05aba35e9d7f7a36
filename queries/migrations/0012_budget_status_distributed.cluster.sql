-- Cluster mode only: a Distributed table over budget_status.
CREATE TABLE IF NOT EXISTS {db}.budget_status {on_cluster}
AS {db}.budget_status_local
ENGINE = Distributed({cluster}, {db}, budget_status_local);
