CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    model TEXT NOT NULL,
    price_cents INTEGER NOT NULL,
    currency TEXT NOT NULL,
    -- placed, allocated, shipped, delivered or failed; only ever moves forward.
    status TEXT NOT NULL,
    -- The address as the customer gave it, as JSON.
    shipping_address TEXT NOT NULL,
    -- Why allocation failed, when it did.
    reason TEXT,
    tracking_number TEXT,
    placed_at TEXT NOT NULL
);

CREATE INDEX orders_by_user ON orders (user_id, placed_at);

-- Every event an order went through, in the order they arrived.
CREATE TABLE order_timeline (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL REFERENCES orders (id),
    event_type TEXT NOT NULL,
    occurred_at TEXT NOT NULL
);

CREATE INDEX timeline_by_order ON order_timeline (order_id, seq);
