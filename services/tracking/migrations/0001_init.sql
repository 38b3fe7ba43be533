-- One row per shipment, from shipment.requested until the carrier delivers it.
-- correlation_id and requested_event_id are kept so that package.delivered,
-- published long after the request was handled, stays in its chain.
CREATE TABLE shipments (
    tracking_number TEXT PRIMARY KEY,
    shipment_id TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    carrier TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    requested_event_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('in_transit', 'delivered')),
    polls INTEGER NOT NULL DEFAULT 0,
    delivered_at TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- The poller's question every round.
CREATE INDEX shipments_in_transit ON shipments (status) WHERE status = 'in_transit';
