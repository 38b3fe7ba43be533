CREATE TABLE shipments (
    shipment_id TEXT PRIMARY KEY,
    -- One shipment per order, however often its device.allocated arrives.
    order_id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    device_serial TEXT NOT NULL,
    model TEXT NOT NULL,
    tracking_number TEXT NOT NULL,
    carrier TEXT NOT NULL,
    requested_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
