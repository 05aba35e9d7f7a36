-- Cluster mode only: the Distributed table over the insight dismissals of 0029.
CREATE TABLE IF NOT EXISTS {db}.insight_dismissals {on_cluster}
AS {db}.insight_dismissals_local
ENGINE = Distributed({cluster}, {db}, insight_dismissals_local);
