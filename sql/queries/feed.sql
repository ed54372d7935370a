-- Feeds and page assembly: id pages first (covering indexes), then the rows for those ids.

-- name: home_ids
-- Posts of the users the viewer follows and the viewer's own, in the id window (lo, hi).
-- The followed users' ids come from ix_posts_user (user_id, id) as a covering index read
-- (joined through uq_follows_pair), or from the primary key for a narrow window: server/feed.py
-- narrows the window so a page reads only the recent part of those ranges even when the viewer
-- follows thousands of users.
SELECT id FROM (
  (SELECT p.id FROM follows f JOIN posts p USE INDEX (PRIMARY, ix_posts_user) ON p.user_id = f.followee_id
   WHERE f.follower_id = %(viewer_id)s AND p.id > %(lo)s AND p.id < %(hi)s
   ORDER BY p.id {dir} LIMIT %(limit)s)
  UNION ALL
  (SELECT id FROM posts USE INDEX (PRIMARY, ix_posts_user) WHERE user_id = %(viewer_id)s AND id > %(lo)s AND id < %(hi)s
   ORDER BY id {dir} LIMIT %(limit)s)
) t
ORDER BY id {dir} LIMIT %(limit)s

-- name: max_post_id$
SELECT MAX(id) FROM posts

-- name: public_ids
SELECT id FROM posts WHERE id {cmp} %(cursor)s ORDER BY id {dir} LIMIT %(limit)s

-- name: user_ids
-- The hint keeps other (user_id, ...) indexes, which cannot deliver id order, out of the choice.
SELECT id FROM posts USE INDEX (PRIMARY, ix_posts_user) WHERE user_id = %(user_id)s AND id {cmp} %(cursor)s ORDER BY id {dir} LIMIT %(limit)s

-- name: comment_ids
SELECT id FROM comments WHERE post_id = %(post_id)s AND id {cmp} %(cursor)s ORDER BY id {dir} LIMIT %(limit)s

-- name: posts_by_ids
SELECT p.*, u.username, u.full_name, m.storage_key AS avatar_key
FROM posts p
JOIN users u ON u.id = p.user_id
LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE p.id IN %(ids)s

-- name: comments_by_ids
SELECT c.*, u.username, u.full_name, m.storage_key AS avatar_key
FROM comments c
JOIN users u ON u.id = c.user_id
LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE c.id IN %(ids)s

-- name: media_of_posts
SELECT * FROM media WHERE post_id IN %(ids)s ORDER BY post_id, position, id

-- name: media_of_comments
SELECT * FROM media WHERE comment_id IN %(ids)s ORDER BY comment_id, position, id
