CREATE TABLE users (
    id TEXT PRIMARY KEY,
    -- Stored lower-cased: one account per address, however it is typed.
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE sessions (
    token TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    -- Unix milliseconds: compared on every validation.
    expires_at_ms INTEGER NOT NULL
);

CREATE INDEX sessions_by_expiry ON sessions (expires_at_ms);
