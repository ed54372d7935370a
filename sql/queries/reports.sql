-- Reports: filed by users, resolved by moderators (server/reports.py).

-- name: create<!
INSERT INTO reports (reporter_id, target_type, target_id, target_user_id, reason, comment, snapshot)
VALUES (%(reporter_id)s, %(target_type)s, %(target_id)s, %(target_user_id)s, %(reason)s, %(comment)s,
        %(snapshot)s)

-- name: open_of^
-- The reporter's open report on a target (uq_reports_open): a second report returns it.
SELECT * FROM reports
WHERE reporter_id = %(reporter_id)s AND target_type = %(target_type)s AND target_id = %(target_id)s
  AND open_flag = 1

-- name: lock^
SELECT * FROM reports WHERE id = %(id)s FOR UPDATE

-- name: lock_open_on_target
-- Every open report on one target, resolved together (ix_reports_target).
SELECT id, reporter_id FROM reports
WHERE target_type = %(target_type)s AND target_id = %(target_id)s AND status = 'open'
ORDER BY id FOR UPDATE

-- name: resolve!
UPDATE reports SET status = 'resolved', action = %(action)s, note = %(note)s,
       resolved_by = %(moderator_id)s, resolved_at = UTC_TIMESTAMP(3)
WHERE id IN %(ids)s AND status = 'open'

-- name: page
-- ix_reports_status (status, id); each row with its three people as UserSummary columns.
SELECT r.*,
       ru.username AS reporter_username, ru.full_name AS reporter_full_name,
       COALESCE(ru.image_url, rm.storage_key) AS reporter_avatar_key,
       tu.username AS target_username, tu.full_name AS target_full_name,
       COALESCE(tu.image_url, tm.storage_key) AS target_avatar_key, tu.state AS target_state,
       mu.username AS resolver_username, mu.full_name AS resolver_full_name,
       COALESCE(mu.image_url, mm.storage_key) AS resolver_avatar_key
FROM reports r
JOIN users ru ON ru.id = r.reporter_id
LEFT JOIN media rm ON rm.id = ru.avatar_media_id
JOIN users tu ON tu.id = r.target_user_id
LEFT JOIN media tm ON tm.id = tu.avatar_media_id
LEFT JOIN users mu ON mu.id = r.resolved_by
LEFT JOIN media mm ON mm.id = mu.avatar_media_id
WHERE r.status = %(status)s AND r.id {cmp} %(cursor)s
ORDER BY r.id {dir} LIMIT %(limit)s

-- name: by_id^
SELECT r.*,
       ru.username AS reporter_username, ru.full_name AS reporter_full_name,
       COALESCE(ru.image_url, rm.storage_key) AS reporter_avatar_key,
       tu.username AS target_username, tu.full_name AS target_full_name,
       COALESCE(tu.image_url, tm.storage_key) AS target_avatar_key, tu.state AS target_state,
       mu.username AS resolver_username, mu.full_name AS resolver_full_name,
       COALESCE(mu.image_url, mm.storage_key) AS resolver_avatar_key
FROM reports r
JOIN users ru ON ru.id = r.reporter_id
LEFT JOIN media rm ON rm.id = ru.avatar_media_id
JOIN users tu ON tu.id = r.target_user_id
LEFT JOIN media tm ON tm.id = tu.avatar_media_id
LEFT JOIN users mu ON mu.id = r.resolved_by
LEFT JOIN media mm ON mm.id = mu.avatar_media_id
WHERE r.id = %(id)s

-- name: post_target^
-- What a reported post is: its author, for the snapshot its content and media.
SELECT p.id, p.user_id, p.title, p.content, p.created_at, p.edited_at,
       (SELECT JSON_ARRAYAGG(CONVERT(m.storage_key USING utf8mb4)) FROM media m WHERE m.post_id = p.id) AS media_keys
FROM posts p JOIN users u ON u.id = p.user_id
WHERE p.id = %(id)s
  AND u.state = 'active'

-- name: comment_target^
SELECT c.id, c.user_id, c.post_id, c.content, c.created_at, c.edited_at,
       (SELECT JSON_ARRAYAGG(CONVERT(m.storage_key USING utf8mb4)) FROM media m WHERE m.comment_id = c.id) AS media_keys
FROM comments c JOIN users u ON u.id = c.user_id
WHERE c.id = %(id)s
  AND u.state = 'active'
  AND EXISTS (SELECT 1 FROM posts pp JOIN users pu ON pu.id = pp.user_id WHERE pp.id = c.post_id AND pu.state = 'active')

-- name: message_target^
-- Only a participant may report a message (the caller checks reporter_id against both).
SELECT m.id, m.sender_id AS user_id, m.sender_id, m.recipient_id, m.message_type, m.content,
       m.created_at, m.edited_at,
       (SELECT CONVERT(md.storage_key USING utf8mb4) FROM media md WHERE md.message_id = m.id LIMIT 1) AS media_key
FROM messages m
WHERE m.id = %(id)s

-- name: user_target^
SELECT u.id, u.id AS user_id, u.username, u.full_name, u.bio, u.location,
       COALESCE(u.image_url, m.storage_key) AS avatar_key
FROM users u LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE u.id = %(id)s
  AND u.state = 'active'
