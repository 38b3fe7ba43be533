CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    serial TEXT NOT NULL UNIQUE,
    -- NULL while available; UNIQUE so no order ever holds two devices.
    order_id TEXT UNIQUE,
    allocated_at TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX devices_by_model ON devices (model, order_id);

-- Orders that found no device: a later order.placed for the same order
-- (re-published under a new event id) must not fail or allocate again.
CREATE TABLE allocation_failures (
    order_id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    reason TEXT NOT NULL,
    failed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
