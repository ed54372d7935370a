-- Comments on posts; comments_count on the post moves in the same transaction.

-- name: create<!
INSERT INTO comments (post_id, user_id, content) VALUES (%(post_id)s, %(user_id)s, %(content)s)

-- name: bump_post!
UPDATE posts SET comments_count = comments_count + %(delta)s WHERE id = %(post_id)s

-- name: owner^
SELECT c.id, c.user_id, c.post_id, p.user_id AS post_author_id
FROM comments c JOIN posts p ON p.id = c.post_id
WHERE c.id = %(id)s

-- name: lock^
SELECT id, user_id, post_id FROM comments WHERE id = %(id)s FOR UPDATE

-- name: update!
UPDATE comments
SET content = IF(%(set_content)s, %(content)s, content),
    edited_at = CURRENT_TIMESTAMP(3),
    updated_at = CURRENT_TIMESTAMP(3)
WHERE id = %(id)s

-- name: delete!
-- Its likes, media and notifications go by ON DELETE CASCADE.
DELETE FROM comments WHERE id = %(id)s
