-- Cluster mode only: the Distributed table over the alert configuration of 0025.
CREATE TABLE IF NOT EXISTS {db}.alert_config {on_cluster}
AS {db}.alert_config_local
ENGINE = Distributed({cluster}, {db}, alert_config_local);
