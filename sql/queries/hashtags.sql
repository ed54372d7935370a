-- Hashtags (server/hashtags.py): the tag dictionary's normalized rows, the tags a post or comment
-- carries, tag pages, followed tags and trending. A tag's id is the id of the `tags` row whose
-- name is its normalized form (migration 0011).

-- name: add_tags!
-- Autocommit, before the writing transaction, in name order (server/articles.py _add_tags).
INSERT IGNORE INTO tags (name, norm) VALUES (%(name)s, %(norm)s)

-- name: ids_of
-- The normalized rows of these normalized names.
SELECT id, name FROM tags WHERE name IN %(names)s AND norm = name

-- name: id_of$
SELECT id FROM tags WHERE name = %(name)s AND norm = name

-- name: lock_post^
-- The post's row first: edits of one post's tags queue behind each other.
SELECT id, user_id, content FROM posts WHERE id = %(id)s FOR UPDATE

-- name: list_norms
-- The normalized forms of a post's Conduit tagList, in its order.
SELECT t.norm FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
WHERE pt.post_id = %(post_id)s ORDER BY pt.position

-- name: post_rows
SELECT tag_id, position FROM post_hashtags WHERE post_id = %(post_id)s

-- name: post_add!
INSERT INTO post_hashtags (post_id, tag_id, user_id, position)
VALUES (%(post_id)s, %(tag_id)s, %(user_id)s, %(position)s)

-- name: post_add_rows*!
-- A new post's rows (server/posts.py write_post), in tag id order, one multi-row INSERT.
INSERT INTO post_hashtags (post_id, tag_id, user_id, position) VALUES (%s, %s, %s, %s)

-- name: post_move!
UPDATE post_hashtags SET position = %(position)s WHERE post_id = %(post_id)s AND tag_id = %(tag_id)s

-- name: post_remove!
DELETE FROM post_hashtags WHERE post_id = %(post_id)s AND tag_id = %(tag_id)s

-- name: post_tag_ids
SELECT tag_id FROM post_hashtags WHERE post_id = %(post_id)s

-- name: comment_rows
SELECT tag_id, position FROM comment_hashtags WHERE comment_id = %(comment_id)s

-- name: comment_add!
INSERT INTO comment_hashtags (comment_id, tag_id, position) VALUES (%(comment_id)s, %(tag_id)s, %(position)s)

-- name: comment_move!
UPDATE comment_hashtags SET position = %(position)s WHERE comment_id = %(comment_id)s AND tag_id = %(tag_id)s

-- name: comment_remove!
DELETE FROM comment_hashtags WHERE comment_id = %(comment_id)s AND tag_id = %(tag_id)s

-- name: tag_ids
-- A tag's page, newest first (ix_post_hashtags_tag, covering): every post carrying it, native or
-- article, but not by users blocked either way by the viewer, muted by the viewer or hidden
-- (users.state, as in feed.sql). STRAIGHT_JOIN: walk the tag's range in id order. (exists_to_in,
-- subquery_cache: as feed.sql's public_ids.)
SET STATEMENT optimizer_switch='exists_to_in=off,subquery_cache=off' FOR
SELECT STRAIGHT_JOIN ph.post_id AS id FROM post_hashtags ph JOIN users u ON u.id = ph.user_id
WHERE ph.tag_id = %(tag_id)s AND ph.post_id {cmp} %(cursor)s
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(viewer_id)s AND b.target_id = ph.user_id)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = ph.user_id AND b.target_id = %(viewer_id)s)
  AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.user_id = %(viewer_id)s AND mu.target_id = ph.user_id
                  AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3)))
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))
ORDER BY ph.post_id {dir} LIMIT %(limit)s

-- name: follow!
INSERT IGNORE INTO tag_follows (user_id, tag_id) VALUES (%(user_id)s, %(tag_id)s)

-- name: unfollow!
DELETE FROM tag_follows WHERE user_id = %(user_id)s AND tag_id = %(tag_id)s

-- name: followed
-- ix_tag_follows_user, newest follow first.
SELECT f.id, t.name AS tag, f.created_at FROM tag_follows f JOIN tags t ON t.id = f.tag_id
WHERE f.user_id = %(user_id)s AND f.id {cmp} %(cursor)s
ORDER BY f.id {dir} LIMIT %(limit)s

-- name: trending
-- Tags used by the most distinct authors in the last 24 hours. Bounded: only the newest
-- %(scan)s uses are read (ix_post_hashtags_recent, a covering range), grouped in memory; hidden
-- authors do not count. Global (no viewer), so it can be cached.
SELECT t.name AS tag, COUNT(DISTINCT r.user_id) AS authors, COUNT(*) AS posts
FROM (SELECT tag_id, user_id FROM post_hashtags
      WHERE created_at > UTC_TIMESTAMP(3) - INTERVAL 1 DAY
      ORDER BY created_at DESC LIMIT %(scan)s) r
JOIN users u ON u.id = r.user_id AND u.state = 'active'
JOIN tags t ON t.id = r.tag_id
GROUP BY r.tag_id, t.name
ORDER BY authors DESC, posts DESC, t.name
LIMIT %(limit)s

-- name: popular
-- Tags in use, most used first (GET /api/tags): a scan of ix_post_hashtags_tag.
SELECT t.name FROM post_hashtags ph JOIN tags t ON t.id = ph.tag_id
GROUP BY ph.tag_id, t.name
ORDER BY COUNT(*) DESC, t.name
LIMIT %(limit)s

-- Home timeline cache (server/timeline.py): who follows the tags a post carries.

-- name: tag_readers
-- Followers of these tags who see a post of author_id carrying them in their home feed: not the
-- author's muters, nor users blocking the author or blocked by them (feed.sql home_ids' third
-- branch); the author's own timeline is reached anyway.
SELECT DISTINCT tf.user_id AS id FROM tag_follows tf
WHERE tf.tag_id IN %(tag_ids)s AND tf.user_id <> %(author_id)s
  AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.user_id = tf.user_id AND mu.target_id = %(author_id)s
                  AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3)))
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = tf.user_id AND b.target_id = %(author_id)s)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(author_id)s AND b.target_id = tf.user_id)

-- name: followers_of_tags
-- Everyone following one of these tags (for removals and invalidations: no filters needed).
SELECT DISTINCT user_id AS id FROM tag_follows WHERE tag_id IN %(tag_ids)s

-- name: followers_of_authors_tags
-- Everyone following a tag user_id has used (ix_post_hashtags_user, ix_tag_follows_tag).
SELECT DISTINCT tf.user_id AS id FROM tag_follows tf
WHERE tf.tag_id IN (SELECT DISTINCT tag_id FROM post_hashtags WHERE user_id = %(user_id)s)
