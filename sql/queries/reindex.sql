-- Re-reading the #tags and @mentions of what was written before they were parsed (server/reindex.py),
-- a batch of ids at a time: the batch's last id (a range of the primary key), then those of its
-- posts and comments whose text may hold one (a '#' or an '@'), and every post with a Conduit
-- tagList (post_tags).

-- name: last_post_in_batch$
SELECT MAX(id) FROM (SELECT id FROM posts WHERE id > %(after)s ORDER BY id LIMIT %(limit)s) AS b

-- name: posts_in
SELECT p.id, p.user_id, p.content FROM posts p
WHERE p.id > %(after)s AND p.id <= %(last)s
  AND (p.content LIKE '%%#%%' OR p.content LIKE '%%@%%' OR EXISTS (SELECT 1 FROM post_tags t WHERE t.post_id = p.id))
ORDER BY p.id

-- name: last_comment_in_batch$
SELECT MAX(id) FROM (SELECT id FROM comments WHERE id > %(after)s ORDER BY id LIMIT %(limit)s) AS b

-- name: comments_in
SELECT c.id, c.user_id, c.post_id, c.content FROM comments c
WHERE c.id > %(after)s AND c.id <= %(last)s AND (c.content LIKE '%%#%%' OR c.content LIKE '%%@%%')
ORDER BY c.id

-- name: lock_comment$
SELECT id FROM comments WHERE id = %(id)s FOR UPDATE
