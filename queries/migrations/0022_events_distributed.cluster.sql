-- Cluster mode only: Distributed tables over the events tables of 0021.
CREATE TABLE IF NOT EXISTS {db}.events {on_cluster}
AS {db}.events_local
ENGINE = Distributed({cluster}, {db}, events_local, cityHash64(id));

CREATE TABLE IF NOT EXISTS {db}.event_cursors {on_cluster}
AS {db}.event_cursors_local
ENGINE = Distributed({cluster}, {db}, event_cursors_local, cityHash64(webhook));
