-- Sessions are looked up by the SHA-256 of their token: a copy of this
-- database yields no token that works. Sessions started before are ended.
DELETE FROM sessions;
ALTER TABLE sessions RENAME COLUMN token TO token_sha256;
