-- Feeds and page assembly: id pages first (covering indexes), then the rows for those ids.
--
-- Hidden accounts (users.state, migration 0009): every page tests its authors' state in its own
-- SQL, on a line of its own: suspended accounts are seen only by moderators (the uncorrelated
-- EXISTS on the viewer is evaluated once, and only for a row that is not active), deleted ones
-- by nobody. The home feed hides both from everyone, so its Redis cache (server/timeline.py)
-- holds the same answer whoever reads it.

-- name: home_ids
-- Posts of the users the viewer follows and the viewer's own, in the id window (lo, hi).
-- The followed users' ids come from ix_posts_user (user_id, id) as a covering index read
-- (joined through uq_follows_pair), or from the primary key for a narrow window: server/feed.py
-- narrows the window so a page reads only the recent part of those ranges even when the viewer
-- follows thousands of users. Followed users the viewer mutes are left out: the NOT EXISTS names
-- only f's columns, so it is checked once per follow row, before that user's posts are read.
-- (No block filter: a block undoes the follows both ways.)
-- Third branch: posts carrying a tag the viewer follows (tag_follows, then each tag's range of
-- ix_post_hashtags_tag in the window), without the viewer's muted users, users blocked either way
-- and hidden ones; DISTINCT, as a post may carry several followed tags. UNION drops the posts the
-- branches share (a followed user's post with a followed tag).
SELECT id FROM (
  (SELECT p.id FROM follows f JOIN posts p USE INDEX (PRIMARY, ix_posts_user) ON p.user_id = f.followee_id
   JOIN users u ON u.id = f.followee_id
   WHERE f.follower_id = %(viewer_id)s AND p.id > %(lo)s AND p.id < %(hi)s
     AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.user_id = f.follower_id AND mu.target_id = f.followee_id
                     AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3)))
   AND u.state = 'active'
   ORDER BY p.id {dir} LIMIT %(limit)s)
  UNION
  (SELECT id FROM posts USE INDEX (PRIMARY, ix_posts_user) WHERE user_id = %(viewer_id)s AND id > %(lo)s AND id < %(hi)s
   ORDER BY id {dir} LIMIT %(limit)s)
  UNION
  (SELECT DISTINCT ph.post_id AS id FROM tag_follows tf JOIN post_hashtags ph ON ph.tag_id = tf.tag_id
   JOIN users u ON u.id = ph.user_id
   WHERE tf.user_id = %(viewer_id)s AND ph.post_id > %(lo)s AND ph.post_id < %(hi)s
     AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.user_id = tf.user_id AND mu.target_id = ph.user_id
                     AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3)))
     AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = tf.user_id AND b.target_id = ph.user_id)
     AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = ph.user_id AND b.target_id = tf.user_id)
   AND u.state = 'active'
   ORDER BY ph.post_id {dir} LIMIT %(limit)s)
) t
ORDER BY id {dir} LIMIT %(limit)s

-- name: max_post_id$
SELECT MAX(id) FROM posts

-- name: public_ids
-- Every post but those of users blocked either way by the viewer or muted by the viewer (a NULL
-- viewer matches no block or mute), and of suspended or deleted accounts (moderators still see the
-- suspended). MariaDB reads the viewer's block and mute rows once (by index, materialized) and
-- looks each post's author up among them. STRAIGHT_JOIN: walk posts in id order, look each author up.
-- exists_to_in off: each NOT EXISTS is a primary-key probe per post read, not a materialized set of
-- the viewer's blocks and mutes (a temporary table per subquery and statement, which made the page
-- of a viewer with 100 blocks and 100 mutes 30 % dearer than anyone else's; with probes they cost
-- the same). subquery_cache off: the post authors are mostly distinct, its cache is a further table.
SET STATEMENT optimizer_switch='exists_to_in=off,subquery_cache=off' FOR
SELECT STRAIGHT_JOIN p.id FROM posts p JOIN users u ON u.id = p.user_id
WHERE p.id {cmp} %(cursor)s
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(viewer_id)s AND b.target_id = p.user_id)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = p.user_id AND b.target_id = %(viewer_id)s)
  AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.user_id = %(viewer_id)s AND mu.target_id = p.user_id
                  AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3)))
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))
ORDER BY p.id {dir} LIMIT %(limit)s

-- name: user_ids
-- The hint keeps other (user_id, ...) indexes, which cannot deliver id order, out of the choice.
-- Nothing when the author blocks the viewer (the caller answers 404) or is hidden.
SELECT id FROM posts USE INDEX (PRIMARY, ix_posts_user) WHERE user_id = %(user_id)s AND id {cmp} %(cursor)s
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(user_id)s AND b.target_id = %(viewer_id)s)
  AND EXISTS (SELECT 1 FROM users u WHERE u.id = %(user_id)s AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user'))))
ORDER BY id {dir} LIMIT %(limit)s

-- name: comment_ids
-- Without comments by users blocked either way by the viewer or hidden; nothing when the post's
-- author blocks the viewer or is hidden (the caller answers 404).
-- (exists_to_in, subquery_cache: as public_ids.)
SET STATEMENT optimizer_switch='exists_to_in=off,subquery_cache=off' FOR
SELECT STRAIGHT_JOIN c.id FROM comments c JOIN users u ON u.id = c.user_id
WHERE c.post_id = %(post_id)s AND c.id {cmp} %(cursor)s
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(viewer_id)s AND b.target_id = c.user_id)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = c.user_id AND b.target_id = %(viewer_id)s)
  AND NOT EXISTS (SELECT 1 FROM posts p JOIN blocks b ON b.user_id = p.user_id AND b.target_id = %(viewer_id)s
                  WHERE p.id = %(post_id)s)
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))
  AND EXISTS (SELECT 1 FROM posts pp JOIN users pu ON pu.id = pp.user_id WHERE pp.id = %(post_id)s AND (pu.state = 'active' OR (pu.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user'))))
ORDER BY c.id {dir} LIMIT %(limit)s

-- Page documents: one JSON object per post or comment, built by MariaDB and spliced into the
-- response as text (server/feed.py), so Python never parses columns or formats times. Each row is
-- (id, doc); the caller puts them in its id order. Notes on MariaDB 10.11's JSON_OBJECT:
-- - a bare EXISTS(...) turns the whole document into a binary string (non-ASCII text comes back
--   as latin1, emoji as broken escapes); `EXISTS(...) IS TRUE` is a boolean and keeps utf8mb4;
-- - comparisons (`x IS NOT NULL`) are JSON true/false; a subquery's JSON_ARRAYAGG nests as an
--   array, not a string;
-- - ascii_bin columns (storage keys, content types) mixed with utf8mb4 text are an "illegal mix of
--   collations": CONVERT them;
-- - times: CAST of a DATETIME(3) is "YYYY-MM-DD HH:MM:SS.mmm", the same text as responses.iso().
-- %(url_prefix)s is the storage backend's URL prefix (NULL without storage: every URL is null).
-- - no JSON_ARRAYAGG/GROUP_CONCAT of documents here: its temporary table holds a blob, so MariaDB
--   makes it an on-disk Aria table, created and deleted in tmpdir by every statement (measured:
--   1 disk table per post_docs call, the larger part of its cost). Lists (`media`, `tags`,
--   `mentions`) are their own queries, each only for the rows whose `has_<list>` says so, and
--   server/documents.py appends them.

-- name: post_docs@
-- (subquery_cache=off: each correlated EXISTS here is one index probe per row, and MariaDB's cache
-- of their answers is an in-memory temporary table per subquery and statement: 15 % of the query.)
SET STATEMENT optimizer_switch='subquery_cache=off' FOR
SELECT p.id, JSON_OBJECT(
  'id', p.id,
  'author', JSON_OBJECT('id', u.id, 'username', u.username, 'full_name', u.full_name,
                        'profile_pic', COALESCE(u.image_url, CONCAT(%(url_prefix)s, CONVERT(av.storage_key USING utf8mb4)))),
  'title', p.title,
  'content', p.content,
  'likes_count', p.likes_count,
  'comments_count', p.comments_count,
  'liked', EXISTS(SELECT 1 FROM post_likes l WHERE l.post_id = p.id AND l.user_id = %(viewer_id)s) IS TRUE,
  'bookmarked', EXISTS(SELECT 1 FROM bookmarks bm WHERE bm.user_id = %(viewer_id)s AND bm.post_id = p.id) IS TRUE,
  'created_at', CONCAT(REPLACE(CAST(p.created_at AS CHAR), ' ', 'T'), 'Z'),
  'updated_at', CONCAT(REPLACE(CAST(p.updated_at AS CHAR), ' ', 'T'), 'Z'),
  'edited_at', CONCAT(REPLACE(CAST(p.edited_at AS CHAR), ' ', 'T'), 'Z'),
  'edited', p.edited_at IS NOT NULL
) AS doc,
-- Which lists (below) the row has: each is read only for the rows that have it.
EXISTS(SELECT 1 FROM media m WHERE m.post_id = p.id) AS has_media,
EXISTS(SELECT 1 FROM post_hashtags ph WHERE ph.post_id = p.id) AS has_tags,
EXISTS(SELECT 1 FROM post_mentions pm WHERE pm.post_id = p.id) AS has_mentions
FROM posts p
JOIN users u ON u.id = p.user_id
LEFT JOIN media av ON av.id = u.avatar_media_id
-- A post of a user who blocks the viewer is none to them (pages leave such posts out before this).
LEFT JOIN blocks bk ON bk.user_id = p.user_id AND bk.target_id = %(viewer_id)s
-- The viewer's role by a join (a subquery beside a JSON_ARRAYAGG one has crashed MariaDB 10.11).
LEFT JOIN users v ON v.id = %(viewer_id)s
WHERE p.id IN %(ids)s AND bk.user_id IS NULL
  AND (u.state = 'active' OR (u.state = 'suspended' AND v.role <> 'user'))

-- name: comment_docs@
SET STATEMENT optimizer_switch='subquery_cache=off' FOR
SELECT c.id, JSON_OBJECT(
  'id', c.id,
  'post_id', c.post_id,
  'author', JSON_OBJECT('id', u.id, 'username', u.username, 'full_name', u.full_name,
                        'profile_pic', COALESCE(u.image_url, CONCAT(%(url_prefix)s, CONVERT(av.storage_key USING utf8mb4)))),
  'content', c.content,
  'likes_count', c.likes_count,
  'liked', EXISTS(SELECT 1 FROM comment_likes l WHERE l.comment_id = c.id AND l.user_id = %(viewer_id)s) IS TRUE,
  'created_at', CONCAT(REPLACE(CAST(c.created_at AS CHAR), ' ', 'T'), 'Z'),
  'updated_at', CONCAT(REPLACE(CAST(c.updated_at AS CHAR), ' ', 'T'), 'Z'),
  'edited_at', CONCAT(REPLACE(CAST(c.edited_at AS CHAR), ' ', 'T'), 'Z'),
  'edited', c.edited_at IS NOT NULL
) AS doc,
EXISTS(SELECT 1 FROM media m WHERE m.comment_id = c.id) AS has_media,
EXISTS(SELECT 1 FROM comment_hashtags ch WHERE ch.comment_id = c.id) AS has_tags,
EXISTS(SELECT 1 FROM comment_mentions cm WHERE cm.comment_id = c.id) AS has_mentions
FROM comments c
JOIN users u ON u.id = c.user_id
LEFT JOIN media av ON av.id = u.avatar_media_id
LEFT JOIN blocks bk ON bk.user_id = c.user_id AND bk.target_id = %(viewer_id)s
LEFT JOIN users v ON v.id = %(viewer_id)s
WHERE c.id IN %(ids)s AND bk.user_id IS NULL
  AND (u.state = 'active' OR (u.state = 'suspended' AND v.role <> 'user'))

-- name: post_media@
-- The media of posts, one JSON object per row, in display order (ix_media_post).
SELECT m.post_id AS owner_id, JSON_OBJECT(
  'id', m.id, 'type', m.media_type,
  'url', CONCAT(%(url_prefix)s, CONVERT(m.storage_key USING utf8mb4)),
  'thumbnail_url', CONCAT(%(url_prefix)s, CONVERT(NULLIF(m.thumb_key, '') USING utf8mb4)),
  'width', m.width, 'height', m.height, 'duration', m.duration, 'size', m.size,
  'content_type', CONVERT(m.content_type USING utf8mb4),
  'created_at', CONCAT(REPLACE(CAST(m.created_at AS CHAR), ' ', 'T'), 'Z')
) AS doc
FROM media m WHERE m.post_id IN %(ids)s
ORDER BY m.post_id, m.position, m.id

-- name: comment_media@
SELECT m.comment_id AS owner_id, JSON_OBJECT(
  'id', m.id, 'type', m.media_type,
  'url', CONCAT(%(url_prefix)s, CONVERT(m.storage_key USING utf8mb4)),
  'thumbnail_url', CONCAT(%(url_prefix)s, CONVERT(NULLIF(m.thumb_key, '') USING utf8mb4)),
  'width', m.width, 'height', m.height, 'duration', m.duration, 'size', m.size,
  'content_type', CONVERT(m.content_type USING utf8mb4),
  'created_at', CONCAT(REPLACE(CAST(m.created_at AS CHAR), ' ', 'T'), 'Z')
) AS doc
FROM media m WHERE m.comment_id IN %(ids)s
ORDER BY m.comment_id, m.position, m.id

-- name: post_tags@
-- Hashtags (normalized: text first, then the Conduit tagList's) of posts, as JSON strings.
SELECT ph.post_id AS owner_id, JSON_QUOTE(t.name) AS doc
FROM post_hashtags ph JOIN tags t ON t.id = ph.tag_id WHERE ph.post_id IN %(ids)s
ORDER BY ph.post_id, ph.position, t.id

-- name: post_mentions@
-- The mentioned users of posts who are active, as {"id", "username"}.
SELECT pm.post_id AS owner_id, JSON_OBJECT('id', mu.id, 'username', mu.username) AS doc
FROM post_mentions pm JOIN users mu ON mu.id = pm.user_id
WHERE pm.post_id IN %(ids)s AND mu.state = 'active'
ORDER BY pm.post_id, pm.position, mu.id

-- name: comment_tags@
SELECT ch.comment_id AS owner_id, JSON_QUOTE(t.name) AS doc
FROM comment_hashtags ch JOIN tags t ON t.id = ch.tag_id WHERE ch.comment_id IN %(ids)s
ORDER BY ch.comment_id, ch.position, t.id

-- name: comment_mentions@
SELECT cm.comment_id AS owner_id, JSON_OBJECT('id', mu.id, 'username', mu.username) AS doc
FROM comment_mentions cm JOIN users mu ON mu.id = cm.user_id
WHERE cm.comment_id IN %(ids)s AND mu.state = 'active'
ORDER BY cm.comment_id, cm.position, mu.id
