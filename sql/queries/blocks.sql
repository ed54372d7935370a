-- Blocks: the rows, the list, and the pair check the write paths make. Readers filter blocked
-- users out inside their own page queries (feed.sql, users.sql, follows.sql, likes.sql, ...):
-- "blocked either way" is two NOT EXISTS, one per direction,
--   NOT EXISTS (... b.user_id = viewer AND b.target_id = author)
--   AND NOT EXISTS (... b.user_id = author AND b.target_id = viewer),
-- each an index lookup (MariaDB runs them as NOT IN over the viewer's few block rows, read once per
-- query from the primary key and ix_blocks_target). Not one NOT EXISTS with OR: MariaDB answers
-- that with an index merge that reads all the viewer's blocks for every row.

-- name: insert!
INSERT IGNORE INTO blocks (user_id, target_id) VALUES (%(user_id)s, %(target_id)s)

-- name: delete!
DELETE FROM blocks WHERE user_id = %(user_id)s AND target_id = %(target_id)s

-- name: pair^
-- Whether a blocks b, and b blocks a (two primary-key lookups).
SELECT EXISTS (SELECT 1 FROM blocks WHERE user_id = %(a)s AND target_id = %(b)s) AS blocking,
       EXISTS (SELECT 1 FROM blocks WHERE user_id = %(b)s AND target_id = %(a)s) AS blocked_by

-- name: clear_notifications!
-- What the blocked user made the blocker's notifications say (ix_notifications_actor).
DELETE FROM notifications WHERE actor_id = %(target_id)s AND user_id = %(user_id)s

-- name: page
-- The users user_id blocks, newest block first; the cursor is blocks.id (ix_blocks_user).
SELECT b.id AS block_id, b.target_id AS id, b.created_at
FROM blocks b
WHERE b.user_id = %(user_id)s AND b.id {cmp} %(cursor)s
ORDER BY b.id {dir} LIMIT %(limit)s
