-- Mentions (server/mentions.py): who a post or comment mentions, resolved when it is written.

-- name: resolve
-- Active accounts by these usernames (the column's collation makes the match case-insensitive).
SELECT id, username FROM users WHERE username IN %(names)s AND state = 'active'

-- name: share_lock$
SELECT id FROM users WHERE id = %(id)s LOCK IN SHARE MODE

-- name: post_rows
SELECT user_id, position FROM post_mentions WHERE post_id = %(id)s

-- name: post_add!
INSERT INTO post_mentions (post_id, user_id, position) VALUES (%(id)s, %(user_id)s, %(position)s)

-- name: post_move!
UPDATE post_mentions SET position = %(position)s WHERE post_id = %(id)s AND user_id = %(user_id)s

-- name: post_remove!
DELETE FROM post_mentions WHERE post_id = %(id)s AND user_id = %(user_id)s

-- name: comment_rows
SELECT user_id, position FROM comment_mentions WHERE comment_id = %(id)s

-- name: comment_add!
INSERT INTO comment_mentions (comment_id, user_id, position) VALUES (%(id)s, %(user_id)s, %(position)s)

-- name: comment_move!
UPDATE comment_mentions SET position = %(position)s WHERE comment_id = %(id)s AND user_id = %(user_id)s

-- name: comment_remove!
DELETE FROM comment_mentions WHERE comment_id = %(id)s AND user_id = %(user_id)s
