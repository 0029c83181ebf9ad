-- processed_events makes consumption idempotent: an event id is applied at most once, in the
-- same transaction as the counter it changes.
CREATE TABLE IF NOT EXISTS processed_events (
    id           text PRIMARY KEY,
    subject      text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

-- links: one row per link seen in a links.created event; events counts how many link events
-- were applied for it (1 when de-duplication works).
CREATE TABLE IF NOT EXISTS links (
    code       text PRIMARY KEY,
    url        text NOT NULL DEFAULT '',
    account    text NOT NULL DEFAULT '',
    created_at timestamptz,
    events     bigint NOT NULL DEFAULT 0
);

-- clicks: one counter per code.
CREATE TABLE IF NOT EXISTS clicks (
    code   text PRIMARY KEY,
    clicks bigint NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
