-- Likes on posts and comments: INSERT IGNORE / DELETE + affected rows drive the counters.

-- name: like_post!
INSERT IGNORE INTO post_likes (post_id, user_id) VALUES (%(post_id)s, %(user_id)s)

-- name: unlike_post!
DELETE FROM post_likes WHERE post_id = %(post_id)s AND user_id = %(user_id)s

-- name: bump_post!
UPDATE posts SET likes_count = likes_count + %(delta)s WHERE id = %(post_id)s

-- name: post_likes_count$
SELECT likes_count FROM posts WHERE id = %(post_id)s

-- One like or unlike in one round trip (server/likes.py _post_like), after posts.lock:

-- name: post_target^
-- The post's author (id, state), the blocks between liker and author, and what a `like`
-- notification needs (notifications.sql actor, for recipient = the author; `muted`: the author
-- mutes the liker with notifications). Primary-key lookups only; no locks.
SELECT p.user_id AS author_id, a.state AS author_state,
       EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(user_id)s AND b.target_id = p.user_id) AS blocking,
       EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = p.user_id AND b.target_id = %(user_id)s) AS blocked_by,
       EXISTS (SELECT 1 FROM mutes mu
               WHERE mu.user_id = p.user_id AND mu.target_id = u.id AND mu.notifications
                 AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3))) AS muted,
       (SELECT ns.disabled FROM notification_settings ns WHERE ns.user_id = p.user_id) AS disabled,
       u.username, u.full_name, COALESCE(u.image_url, m.storage_key) AS avatar_key
FROM posts p
JOIN users a ON a.id = p.user_id
JOIN users u ON u.id = %(user_id)s
LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE p.id = %(post_id)s

-- name: mark_changed!
-- Whether the like_post / unlike_post just before changed a row (this connection's variable).
SET @chatter_like_changed = ROW_COUNT()

-- name: bump_post_changed!
UPDATE posts SET likes_count = likes_count + %(delta)s WHERE id = %(post_id)s AND @chatter_like_changed > 0

-- name: post_likes_changed^
SELECT @chatter_like_changed > 0 AS changed, likes_count FROM posts WHERE id = %(post_id)s

-- name: like_comment!
INSERT IGNORE INTO comment_likes (comment_id, user_id) VALUES (%(comment_id)s, %(user_id)s)

-- name: unlike_comment!
DELETE FROM comment_likes WHERE comment_id = %(comment_id)s AND user_id = %(user_id)s

-- name: bump_comment!
UPDATE comments SET likes_count = likes_count + %(delta)s WHERE id = %(comment_id)s

-- name: comment_likes_count$
SELECT likes_count FROM comments WHERE id = %(comment_id)s

-- name: post_likers
-- Page of UserSummary who liked a post, newest like first; cursor = post_likes.id
-- (ix_post_likes_post (post_id, id)). Users blocked either way by the viewer are left out.
SELECT l.id AS like_id, u.id, u.username, u.full_name, COALESCE(u.image_url, m.storage_key) AS avatar_key
FROM post_likes l
JOIN users u ON u.id = l.user_id
LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE l.post_id = %(post_id)s AND l.id {cmp} %(cursor)s
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(viewer_id)s AND b.target_id = l.user_id)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = l.user_id AND b.target_id = %(viewer_id)s)
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))
ORDER BY l.id {dir} LIMIT %(limit)s
