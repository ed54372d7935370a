-- Password reset tokens: stored as SHA-256, single use, the newest voids older ones.

-- name: void_open!
UPDATE password_resets SET used_at = UTC_TIMESTAMP(3)
WHERE user_id = %(user_id)s AND used_at IS NULL

-- name: create<!
INSERT INTO password_resets (user_id, token_hash, expires_at)
VALUES (%(user_id)s, %(token_hash)s, UTC_TIMESTAMP(3) + INTERVAL %(ttl)s SECOND)

-- name: redeem!
-- Atomic: of two concurrent redemptions exactly one matches (the other re-reads used_at).
UPDATE password_resets SET used_at = UTC_TIMESTAMP(3)
WHERE token_hash = %(token_hash)s AND used_at IS NULL AND expires_at > UTC_TIMESTAMP(3)

-- name: user_of^
SELECT user_id FROM password_resets WHERE token_hash = %(token_hash)s
