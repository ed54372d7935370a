-- Mutes of users. A mute is in force while expires_at IS NULL OR expires_at > UTC_TIMESTAMP(3);
-- readers test exactly that inside their own page queries (feed.sql, timeline.sql, ...), so a timed
-- mute ends by itself, before housekeeping deletes its row.

-- name: upsert!
-- A new mute, or new settings for an existing one (an expired row starts again).
INSERT INTO mutes (user_id, target_id, notifications, expires_at)
VALUES (%(user_id)s, %(target_id)s, %(notifications)s,
        IF(%(duration)s IS NULL, NULL, UTC_TIMESTAMP(3) + INTERVAL %(duration)s SECOND))
ON DUPLICATE KEY UPDATE
  -- Assignments run left to right: created_at reads the old expires_at.
  created_at = IF(expires_at IS NULL OR expires_at > UTC_TIMESTAMP(3), created_at, UTC_TIMESTAMP(3)),
  notifications = VALUES(notifications),
  expires_at = VALUES(expires_at)

-- name: delete!
DELETE FROM mutes WHERE user_id = %(user_id)s AND target_id = %(target_id)s

-- name: state^
SELECT notifications, expires_at FROM mutes
WHERE user_id = %(user_id)s AND target_id = %(target_id)s
  AND (expires_at IS NULL OR expires_at > UTC_TIMESTAMP(3))

-- name: page
-- The users user_id mutes (in force), newest mute first; the cursor is mutes.id (ix_mutes_user).
SELECT id AS mute_id, target_id AS id, notifications, expires_at, created_at
FROM mutes
WHERE user_id = %(user_id)s AND id {cmp} %(cursor)s
  AND (expires_at IS NULL OR expires_at > UTC_TIMESTAMP(3))
ORDER BY id {dir} LIMIT %(limit)s
