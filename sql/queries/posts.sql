-- Posts: create, edit, delete, and attaching media to posts and comments.

-- name: bump_user_posts!
-- Taken first in create/delete: the X lock on the author's row comes before the FK's shared
-- lock, so concurrent posts by one author queue instead of deadlocking on an S→X upgrade.
UPDATE users SET posts_count = posts_count + %(delta)s WHERE id = %(user_id)s

-- name: create<!
-- slug and description: an article's (server/articles.py), NULL for a native post.
INSERT INTO posts (user_id, title, content, slug, description)
VALUES (%(user_id)s, %(title)s, %(content)s, %(slug)s, %(description)s)

-- name: lock^
SELECT id, user_id FROM posts WHERE id = %(id)s FOR UPDATE

-- name: owner^
SELECT id, user_id FROM posts WHERE id = %(id)s

-- name: visible$
-- The post exists, its author does not block the viewer (NULL: anyone) and the viewer may see its
-- author (users.state).
SELECT 1 FROM posts p JOIN users u ON u.id = p.user_id WHERE p.id = %(id)s
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = p.user_id AND b.target_id = %(viewer_id)s)
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))

-- name: update!
UPDATE posts
SET content = IF(%(set_content)s, %(content)s, content),
    title = IF(%(set_title)s, %(title)s, title),
    edited_at = CURRENT_TIMESTAMP(3),
    updated_at = CURRENT_TIMESTAMP(3)
WHERE id = %(id)s

-- name: delete!
-- Comments, likes, attached media and notifications go by ON DELETE CASCADE.
DELETE FROM posts WHERE id = %(id)s

-- name: attach_media!
-- Only the author's own, uploaded (not avatar), unattached media; the caller compares the
-- affected rows with the number of ids. position follows the order the ids were given in.
UPDATE media
SET post_id = %(post_id)s, comment_id = %(comment_id)s, position = FIND_IN_SET(id, %(order)s)
WHERE id IN %(ids)s AND user_id = %(user_id)s AND purpose = 'upload'
  AND post_id IS NULL AND comment_id IS NULL AND message_id IS NULL AND response_id IS NULL

-- name: detach_post_media!
UPDATE media SET post_id = NULL, position = 0 WHERE post_id = %(post_id)s

-- name: detach_comment_media!
UPDATE media SET comment_id = NULL, position = 0 WHERE comment_id = %(comment_id)s

-- name: post_media_keys
-- Files of the media a post delete takes with it (its own and its comments'), for cleanup.
SELECT storage_key, thumb_key FROM media WHERE post_id = %(post_id)s
UNION ALL
SELECT m.storage_key, m.thumb_key FROM comments c JOIN media m ON m.comment_id = c.id
WHERE c.post_id = %(post_id)s

-- name: comment_media_keys
SELECT storage_key, thumb_key FROM media WHERE comment_id = %(comment_id)s

