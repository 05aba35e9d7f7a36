-- Cluster mode only: the Distributed table over the scope pauses of 0017.
CREATE TABLE IF NOT EXISTS {db}.scope_pauses {on_cluster}
AS {db}.scope_pauses_local
ENGINE = Distributed({cluster}, {db}, scope_pauses_local);
