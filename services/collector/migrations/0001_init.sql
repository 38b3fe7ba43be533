-- Every event seen, in arrival order (seq): the chains /events answers.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    producer TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    causation_id TEXT,
    occurred_at TEXT NOT NULL,
    received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX events_by_correlation ON events (correlation_id, seq);

-- Kept beside the events so /metrics reads a few rows, not the whole history.
CREATE TABLE event_counts (
    type TEXT NOT NULL,
    producer TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (type, producer)
);
