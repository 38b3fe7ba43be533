-- One row per mail the provider accepted. A user gets at most one mail per
-- triggering event, whatever the inbox says: the UNIQUE constraint is the
-- rule itself.
CREATE TABLE mails (
    mail_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    to_address TEXT NOT NULL,
    template TEXT NOT NULL,
    subject TEXT NOT NULL,
    trigger_event_id TEXT NOT NULL,
    trigger_event_type TEXT NOT NULL,
    provider_message_id TEXT NOT NULL,
    sent_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (user_id, trigger_event_id)
);
