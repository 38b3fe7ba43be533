-- A shipment tracking gave up on is `lost`: the carrier refused it
-- TRACKING_MAX_REFUSALS times in a row (`refusals` counts the current run of
-- 4xx answers; a 2xx ends it), or it stayed in transit longer than
-- TRACKING_DEADLINE_SECONDS. `last_status` is the carrier's last HTTP status,
-- for shipment.lost. SQLite cannot change a CHECK in place: the table is rebuilt.
CREATE TABLE shipments_v2 (
    tracking_number TEXT PRIMARY KEY,
    shipment_id TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    carrier TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    requested_event_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('in_transit', 'delivered', 'lost')),
    polls INTEGER NOT NULL DEFAULT 0,
    refusals INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER,
    delivered_at TEXT,
    lost_reason TEXT CHECK (lost_reason IN ('refused', 'deadline')),
    lost_at TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CHECK ((status = 'lost') = (lost_reason IS NOT NULL))
);

INSERT INTO shipments_v2
    (tracking_number, shipment_id, order_id, user_id, carrier, correlation_id, requested_event_id, status, polls,
     delivered_at, created_at)
SELECT tracking_number, shipment_id, order_id, user_id, carrier, correlation_id, requested_event_id, status, polls,
       delivered_at, created_at
FROM shipments;

DROP TABLE shipments;
ALTER TABLE shipments_v2 RENAME TO shipments;

-- The poller's question every round.
CREATE INDEX shipments_in_transit ON shipments (status) WHERE status = 'in_transit';
