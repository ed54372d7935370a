-- Bookmarks: a user's private list of posts; INSERT IGNORE / DELETE make PUT and DELETE idempotent.

-- name: add!
INSERT IGNORE INTO bookmarks (user_id, post_id) VALUES (%(user_id)s, %(post_id)s)

-- name: remove!
DELETE FROM bookmarks WHERE user_id = %(user_id)s AND post_id = %(post_id)s

-- name: page_ids
-- The viewer's bookmarks, keyset on the bookmark's id (ix_bookmarks_user), each with its post id.
-- Posts that became invisible to the viewer are left out here, so pages stay full: their author
-- blocks the viewer, or is suspended (moderators still see those) or deleted. STRAIGHT_JOIN: walk
-- the bookmarks in id order, look each post and author up.
SELECT STRAIGHT_JOIN bm.id AS bookmark_id, p.id
FROM bookmarks bm
JOIN posts p ON p.id = bm.post_id
JOIN users u ON u.id = p.user_id
WHERE bm.user_id = %(viewer_id)s AND bm.id {cmp} %(cursor)s
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = p.user_id AND b.target_id = %(viewer_id)s)
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))
ORDER BY bm.id {dir} LIMIT %(limit)s
