-- Links: one row per short code. quota_checked is false when billing could not be asked
-- (fail-open fallback), so unchecked links can be audited later.
CREATE TABLE IF NOT EXISTS links (
	code          text PRIMARY KEY,
	url           text NOT NULL,
	account       text NOT NULL,
	quota_checked boolean NOT NULL,
	created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS links_account ON links (account);
