-- Edit history: the version an edit replaces is copied here, in the edit's transaction, after the
-- edited row is locked and before it changes. A version's created_at is when it was written (the
-- creation, or the edit that made it); it was replaced at the next version's created_at, or at the
-- row's edited_at for the newest one. Media are a JSON snapshot of the attachments of that version
-- (storage keys: URLs are made when read, with the storage backend of the day).

-- name: post_media
-- The attachments of the version being saved (a plain query: a JSON_ARRAYAGG would cost an on-disk
-- temporary table per statement, see feed.sql); server/history.py makes the snapshot.
SELECT id, media_type, storage_key, thumb_key, width, height, duration, size, content_type, created_at
FROM media WHERE post_id = %(id)s ORDER BY position, id

-- name: comment_media
SELECT id, media_type, storage_key, thumb_key, width, height, duration, size, content_type, created_at
FROM media WHERE comment_id = %(id)s ORDER BY position, id

-- name: save_post!
INSERT INTO post_versions (post_id, title, content, media, created_at)
SELECT p.id, p.title, p.content, %(media)s, COALESCE(p.edited_at, p.created_at) FROM posts p WHERE p.id = %(id)s

-- name: save_comment!
INSERT INTO comment_versions (comment_id, content, media, created_at)
SELECT c.id, c.content, %(media)s, COALESCE(c.edited_at, c.created_at) FROM comments c WHERE c.id = %(id)s

-- name: save_message!
INSERT INTO message_versions (message_id, content, created_at)
SELECT m.id, m.content, COALESCE(m.edited_at, m.created_at) FROM messages m WHERE m.id = %(id)s

-- name: post_page
-- A post's earlier versions, keyset on the version id (ix_post_versions_post).
SELECT v.id, v.title, v.content, v.media, v.created_at,
  COALESCE((SELECT n.created_at FROM post_versions n WHERE n.post_id = v.post_id AND n.id > v.id
            ORDER BY n.id LIMIT 1), p.edited_at) AS replaced_at
FROM post_versions v JOIN posts p ON p.id = v.post_id
WHERE v.post_id = %(post_id)s AND v.id {cmp} %(cursor)s
ORDER BY v.id {dir} LIMIT %(limit)s

-- name: comment_page
SELECT v.id, v.content, v.media, v.created_at,
  COALESCE((SELECT n.created_at FROM comment_versions n WHERE n.comment_id = v.comment_id AND n.id > v.id
            ORDER BY n.id LIMIT 1), c.edited_at) AS replaced_at
FROM comment_versions v JOIN comments c ON c.id = v.comment_id
WHERE v.comment_id = %(comment_id)s AND v.id {cmp} %(cursor)s
ORDER BY v.id {dir} LIMIT %(limit)s

-- name: message_page
SELECT v.id, v.content, v.created_at,
  COALESCE((SELECT n.created_at FROM message_versions n WHERE n.message_id = v.message_id AND n.id > v.id
            ORDER BY n.id LIMIT 1), m.edited_at) AS replaced_at
FROM message_versions v JOIN messages m ON m.id = v.message_id
WHERE v.message_id = %(message_id)s AND v.id {cmp} %(cursor)s
ORDER BY v.id {dir} LIMIT %(limit)s

-- name: comment_visible$
-- The comment exists and the viewer may see it: neither its author nor its post's author blocks
-- the viewer, and both accounts are visible to the viewer (users.state; moderators see suspended).
SELECT 1 FROM comments c
JOIN users cu ON cu.id = c.user_id
JOIN posts p ON p.id = c.post_id
JOIN users pu ON pu.id = p.user_id
WHERE c.id = %(id)s
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = c.user_id AND b.target_id = %(viewer_id)s)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = p.user_id AND b.target_id = %(viewer_id)s)
  AND (cu.state = 'active' OR (cu.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))
  AND (pu.state = 'active' OR (pu.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))
