-- Webhook outbox (schema version 2). An event row is written in the same transaction as the
-- state change it reports, so a crash after the change cannot lose the event; a worker delivers
-- it later and records every attempt. body is the exact JSON that is signed and sent: kept as
-- text so every retry sends the same bytes.

CREATE TABLE webhook_outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    TEXT NOT NULL UNIQUE,
    app         TEXT NOT NULL,
    kind        TEXT NOT NULL,
    call_id     TEXT,
    created_at  INTEGER NOT NULL,
    body        TEXT NOT NULL,
    -- pending | delivered | failed
    state       TEXT NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    due_at      INTEGER NOT NULL,
    owner       TEXT,
    lease_until INTEGER,
    last_status INTEGER,
    last_error  TEXT,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (due_at) WHERE state = 'pending';
CREATE INDEX webhook_outbox_app ON webhook_outbox (app, seq);

-- The calls still ringing, for the gateway's in-flight gauge (a count that stays small however
-- many calls have ended).
CREATE INDEX calls_live ON calls (state) WHERE state IN ('ringing', 'delivered');

CREATE TABLE webhook_attempts (
    event_id    TEXT NOT NULL REFERENCES webhook_outbox (event_id),
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status      INTEGER,
    error       TEXT,
    PRIMARY KEY (event_id, attempt)
);
