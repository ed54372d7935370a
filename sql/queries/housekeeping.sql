-- Periodic clean-up of rows nobody can use any more, a batch at a time (short locks).

-- name: password_resets!
-- Used or expired reset tokens: kept a day for support questions, then dropped.
DELETE FROM password_resets
WHERE expires_at < UTC_TIMESTAMP(3) - INTERVAL 1 DAY
LIMIT %(limit)s

-- name: sessions!
-- Sessions expired or revoked a week ago (their refresh tokens go with them, ON DELETE CASCADE).
DELETE FROM sessions
WHERE expires_at < UTC_TIMESTAMP(3) - INTERVAL 7 DAY
   OR revoked_at < UTC_TIMESTAMP(3) - INTERVAL 7 DAY
LIMIT %(limit)s

-- name: mutes!
-- Timed mutes that ended (ix_mutes_expires): they mute nothing already, every reader compares
-- expires_at with the time; this only drops the rows.
DELETE FROM mutes WHERE expires_at <= UTC_TIMESTAMP(3) LIMIT %(limit)s
