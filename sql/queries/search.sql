-- Search (server/search.py): ids in rank order, then the documents of the other areas.
-- Hidden accounts and blocks are filtered here, as in sql/queries/feed.sql: users blocked either
-- way by the viewer and deleted accounts never appear; suspended ones only to moderators.

-- Posts (server/search.py): MATCH ... AGAINST in boolean mode with a text that server/search.py
-- writes (never the user's own). InnoDB computes a MATCH's whole result set before the first row,
-- and fetching each matching row costs far more than that: the work is bounded by how rows are
-- fetched. Phrases are checked with REGEXP on the rows fetched (%(phrase)s, %(excluded)s: NULL
-- for none), never with InnoDB's phrase search, which re-reads every post holding the words.

-- name: post_matches
-- Up to %(probe)s matches (phrases checked on the rows) with their scores, in no order: when they
-- are all there is, they are the candidates; when there are more, posts_recent's are. Each is a
-- row read (by FTS_DOC_ID, then the primary key), mostly of old posts: that is what %(probe)s bounds.
-- The match set of words common in the past but rare lately is what it cannot bound: the
-- statement is given %(budget)s seconds (MariaDB's max_statement_time), then server/search.py
-- keeps the window's candidates.
SET STATEMENT max_statement_time = %(budget)s FOR
SELECT p.id, MATCH (p.title, p.content) AGAINST (%(against)s IN BOOLEAN MODE) AS score
FROM posts p
WHERE MATCH (p.title, p.content) AGAINST (%(against)s IN BOOLEAN MODE)
  AND (%(phrase)s IS NULL OR CONCAT_WS(' ', p.title, p.content) REGEXP %(phrase)s)
  AND (%(excluded)s IS NULL OR NOT CONCAT_WS(' ', p.title, p.content) REGEXP %(excluded)s)
LIMIT %(probe)s

-- name: posts_visible
-- Which of these candidates (their text checked already) the viewer may see: authors blocked
-- either way, muted by the viewer (as on the public timeline), deleted, or suspended (but for
-- moderators) are left out. The caller keeps its rank order.
-- The threshold: MariaDB turns an IN list of 1,000 values or more into a join with a table of
-- them, which it then reads against a scan of all posts; 0 keeps the list a range of the key.
-- subquery_cache=off, exists_to_in=off: each NOT EXISTS is one index probe per row (feed.sql).
SET STATEMENT in_predicate_conversion_threshold = 0, optimizer_switch='subquery_cache=off,exists_to_in=off' FOR
SELECT STRAIGHT_JOIN p.id FROM posts p JOIN users u ON u.id = p.user_id
WHERE p.id IN %(ids)s
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(viewer_id)s AND b.target_id = p.user_id)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = p.user_id AND b.target_id = %(viewer_id)s)
  AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.user_id = %(viewer_id)s AND mu.target_id = p.user_id
                  AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3)))
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))

-- name: posts_recent
-- The newest %(candidates)s matches among the posts above %(floor)s, ranked: relevance first,
-- newest first on ties (posts_visible filters them per viewer). Read from post_search_recent
-- (migration 0015), whose full-text index holds the newest posts only, so that InnoDB's match set
-- of the words is a few hundred entries, not the tens of thousands of ft_posts_text. Phrases and
-- excluded phrases are checked on the matching rows. Only the id and the score leave the derived
-- table (a text column would put it on disk: an Aria file per search).
SELECT id FROM (
  SELECT r.id, MATCH (r.title, r.content) AGAINST (%(against)s IN BOOLEAN MODE) AS score
  FROM post_search_recent r
  WHERE MATCH (r.title, r.content) AGAINST (%(against)s IN BOOLEAN MODE)
    AND r.id > %(floor)s
    AND (%(phrase)s IS NULL OR CONCAT_WS(' ', r.title, r.content) REGEXP %(phrase)s)
    AND (%(excluded)s IS NULL OR NOT CONCAT_WS(' ', r.title, r.content) REGEXP %(excluded)s)
  ORDER BY r.id DESC
  LIMIT %(candidates)s
) AS hit
ORDER BY score DESC, id DESC

-- name: recent_extent^
-- How many posts of post_search_recent the words match (phrases aside), the oldest post it holds,
-- and whether any post is older: server/search.py estimates from them how many posts of all time
-- the words match, before it asks ft_posts_text (whose match set of common words is what costs).
SELECT (SELECT COUNT(*) FROM post_search_recent r
        WHERE MATCH (r.title, r.content) AGAINST (%(against)s IN BOOLEAN MODE)) AS matches,
       (SELECT MIN(id) FROM post_search_recent) AS oldest,
       EXISTS (SELECT 1 FROM posts p WHERE p.id < (SELECT MIN(id) FROM post_search_recent)) AS older

-- Keeping post_search_recent in step, in the transaction of the write (server/posts.py: sent with
-- its COMMIT; server/deletion.py).

-- name: index_post!
REPLACE INTO post_search_recent (id, title, content) SELECT id, title, content FROM posts WHERE id = %(id)s

-- name: unindex_posts!
DELETE FROM post_search_recent WHERE id IN %(ids)s

-- Rebuilding it (server/search.py trim_index): a copy of the newest posts replaces it.

-- name: recent_oldest$
SELECT MIN(id) FROM post_search_recent

-- name: rebuild_lock^
-- The lock (one rebuild at a time across workers), and the time writes are caught up from.
SELECT GET_LOCK(%(name)s, 0) AS locked, CURRENT_TIMESTAMP(3) - INTERVAL 1 MINUTE AS since

-- name: rebuild_unlock!
DO RELEASE_LOCK(%(name)s)

-- name: rebuild_drop_spare!
DROP TABLE IF EXISTS post_search_next, post_search_old

-- name: rebuild_create!
CREATE TABLE post_search_next LIKE post_search_recent

-- name: rebuild_isolation!
-- For the next statement only: the copy reads posts without locking them (REPEATABLE READ would
-- hold shared next-key locks on the range, and new posts would wait for the copy).
SET TRANSACTION ISOLATION LEVEL READ COMMITTED

-- name: rebuild_copy!
INSERT INTO post_search_next (id, title, content) SELECT id, title, content FROM posts WHERE id > %(floor)s

-- name: rebuild_copied$
SELECT COALESCE(MAX(id), 0) FROM post_search_next

-- name: rebuild_swap!
-- Atomic; it waits for searches and writes that use the table, at most a few seconds.
SET STATEMENT lock_wait_timeout = 10 FOR
RENAME TABLE post_search_recent TO post_search_old, post_search_next TO post_search_recent

-- name: rebuild_catch_up!
-- Writes made during the copy went to the old table: posts created after it (and any still
-- uncommitted then) and posts edited since the rebuild began, less a minute of margin.
REPLACE INTO post_search_recent (id, title, content)
SELECT id, title, content FROM posts
WHERE id > %(floor)s AND (id > %(copied)s OR updated_at >= %(since)s)

-- name: users
-- Username or full name starting with %(prefix)s (LIKE-escaped): each branch is a range on its own
-- index (uq_users_username, ix_users_full_name, both case-insensitive), read in index order and cut
-- at %(candidates)s rows. Rank: the username itself, then a username prefix, then a full-name
-- prefix; newest account first on ties. Muted users are found (with `muting: true`), as on Mastodon.
SELECT STRAIGHT_JOIN u.id
FROM (
  (SELECT id FROM users WHERE username LIKE %(prefix)s ORDER BY username LIMIT %(candidates)s)
  UNION
  (SELECT id FROM users WHERE full_name LIKE %(prefix)s ORDER BY full_name LIMIT %(candidates)s)
) AS hit
JOIN users u ON u.id = hit.id
WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(viewer_id)s AND b.target_id = u.id)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = u.id AND b.target_id = %(viewer_id)s)
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))
ORDER BY u.username = %(q)s DESC, u.username LIKE %(prefix)s DESC, u.id DESC
LIMIT %(offset)s, %(limit)s

-- name: tags
-- Tags whose normalized form (tags.norm, migration 0011: NFKC + case folding, the form hashtags are
-- stored by) starts with the normalized %(prefix)s: a range of ix_tags_norm; only the rows that are
-- the tag itself (name = norm), not a Conduit tagList spelling of it. Rank: the tag typed itself,
-- then shorter names (closer to what was typed); newest first on ties.
SELECT id, JSON_OBJECT('id', id, 'name', name) AS doc
FROM tags
WHERE norm LIKE %(prefix)s AND name = norm
ORDER BY norm = %(q)s DESC, CHAR_LENGTH(norm), id DESC
LIMIT %(offset)s, %(limit)s
