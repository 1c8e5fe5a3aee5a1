-- pushtrace store, first schema (PostgreSQL). Times are UTC microseconds since the epoch
-- (BIGINT, the same values as on SQLite, so export and rollups agree across backends).

CREATE TABLE apps (
    name        TEXT PRIMARY KEY,
    bundle_id   TEXT NOT NULL,
    environment TEXT NOT NULL
);

-- One row per (app, token): the last registration wins.
CREATE TABLE tokens (
    app                TEXT NOT NULL,
    token              TEXT NOT NULL,
    user_id            TEXT NOT NULL,
    environment        TEXT NOT NULL,
    topic              TEXT NOT NULL,
    registered_at      BIGINT NOT NULL,
    invalidated_at     BIGINT,
    invalidated_reason TEXT,
    attrs              TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (app, token)
);
CREATE INDEX tokens_active ON tokens (app, user_id, registered_at) WHERE invalidated_at IS NULL;

CREATE TABLE calls (
    call_id        TEXT PRIMARY KEY,
    app            TEXT NOT NULL,
    client_call_id TEXT NOT NULL,
    caller         TEXT NOT NULL,
    callee         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    deadline       BIGINT NOT NULL,
    attrs          TEXT NOT NULL DEFAULT '{}',
    state          TEXT NOT NULL,
    state_at       BIGINT NOT NULL,
    UNIQUE (app, client_call_id)
);

-- call_id is not a foreign key: imported pushes name calls of another server. token, topic,
-- push_type, priority and expiration are NULL only for imported pushes that did not say.
-- deadline is set only for imported pushes (whose call is not here).
CREATE TABLE attempts (
    push_id        TEXT PRIMARY KEY,
    call_id        TEXT,
    app            TEXT NOT NULL,
    token          TEXT,
    topic          TEXT,
    push_type      TEXT,
    priority       INTEGER,
    expiration     BIGINT,
    collapse_id    TEXT,
    attempt        INTEGER NOT NULL,
    queued_at      BIGINT NOT NULL,
    sent_at        BIGINT,
    responded_at   BIGINT,
    apns_status    INTEGER,
    apns_reason    TEXT,
    apns_id        TEXT,
    apns_unique_id TEXT,
    apns_timestamp BIGINT,
    error          TEXT,
    attrs          TEXT NOT NULL DEFAULT '{}',
    deadline       BIGINT
);
CREATE INDEX attempts_call ON attempts (call_id);
CREATE INDEX attempts_token ON attempts (app, token, queued_at);
CREATE INDEX attempts_queued ON attempts (queued_at);

-- At most one receipt per push: the first one is kept.
CREATE TABLE receipts (
    push_id            TEXT PRIMARY KEY REFERENCES attempts (push_id),
    call_id            TEXT,
    received_at        BIGINT NOT NULL,
    device_received_at BIGINT,
    reported_at        BIGINT,
    must_report        BOOLEAN,
    app_state          TEXT,
    network            TEXT,
    late               BOOLEAN NOT NULL
);
CREATE INDEX receipts_call ON receipts (call_id);

CREATE TABLE events (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      BIGINT NOT NULL,
    call_id TEXT,
    push_id TEXT,
    kind    TEXT NOT NULL,
    detail  JSONB NOT NULL
);
CREATE INDEX events_call ON events (call_id, seq);
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only';
END;
$$;
CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE ON events
FOR EACH ROW EXECUTE FUNCTION events_append_only();

-- Due work. A job is free when lease_until is NULL or past; claiming sets owner and lease
-- (SELECT … FOR UPDATE SKIP LOCKED, so instances never claim the same job).
CREATE TABLE jobs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id     TEXT NOT NULL REFERENCES calls (call_id),
    kind        TEXT NOT NULL,
    push_id     TEXT,
    due_at      BIGINT NOT NULL,
    owner       TEXT,
    lease_until BIGINT,
    claims      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_due ON jobs (due_at);

CREATE TABLE rollups (
    day            TEXT NOT NULL,
    app            TEXT NOT NULL,
    cohort_key     TEXT NOT NULL,
    cohort_value   TEXT NOT NULL,
    pushes         BIGINT NOT NULL,
    accepted       BIGINT NOT NULL,
    rejected       BIGINT NOT NULL,
    failed         BIGINT NOT NULL,
    received       BIGINT NOT NULL,
    received_late  BIGINT NOT NULL,
    latency_ms_sum BIGINT NOT NULL,
    PRIMARY KEY (day, app, cohort_key, cohort_value)
);
