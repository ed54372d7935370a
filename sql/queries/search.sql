-- Search (server/search.py): ids in rank order, then the documents of the other areas.
-- Hidden accounts and blocks are filtered here, as in sql/queries/feed.sql: users blocked either
-- way by the viewer and deleted accounts never appear; suspended ones only to moderators.

-- Posts (server/search.py): MATCH ... AGAINST in boolean mode with a text that server/search.py
-- writes (never the user's own). InnoDB computes a MATCH's whole result set before the first row,
-- and fetching each matching row costs far more than that: the work is bounded by how rows are
-- fetched. Phrases are checked with REGEXP on the rows fetched (%(phrase)s, %(excluded)s: NULL
-- for none), never with InnoDB's phrase search, which re-reads every post holding the words.

-- name: post_matches
-- Up to %(probe)s matches with their scores, in no order: when they are all there is, they are
-- the candidates; when there are more, posts_recent is asked instead. Each is a row read (by
-- FTS_DOC_ID, then the primary key), mostly of old posts: that is what %(probe)s bounds.
SELECT p.id, MATCH (p.title, p.content) AGAINST (%(against)s IN BOOLEAN MODE) AS score
FROM posts p
WHERE MATCH (p.title, p.content) AGAINST (%(against)s IN BOOLEAN MODE)
LIMIT %(probe)s

-- name: posts_visible
-- Which of these candidates the viewer may see, and that hold the phrases: authors blocked either
-- way, muted by the viewer (as on the public timeline), deleted, or suspended (but for moderators)
-- are left out. The caller keeps its rank order.
-- The threshold: MariaDB turns an IN list of 1,000 values or more into a join with a table of
-- them, which it then reads against a scan of all posts; 0 keeps the list a range of the key.
SET STATEMENT in_predicate_conversion_threshold = 0 FOR
SELECT STRAIGHT_JOIN p.id FROM posts p JOIN users u ON u.id = p.user_id
WHERE p.id IN %(ids)s
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(viewer_id)s AND b.target_id = p.user_id)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = p.user_id AND b.target_id = %(viewer_id)s)
  AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.user_id = %(viewer_id)s AND mu.target_id = p.user_id
                  AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3)))
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))
  AND (%(phrase)s IS NULL OR CONCAT_WS(' ', p.title, p.content) REGEXP %(phrase)s)
  AND (%(excluded)s IS NULL OR NOT CONCAT_WS(' ', p.title, p.content) REGEXP %(excluded)s)

-- name: posts_recent
-- A text matching many posts: the primary key is read backwards from the newest post down to
-- %(floor)s, the MATCH score of each row looked up in the result set (MATCH in HAVING, so it is
-- no access path: a MATCH in WHERE would fetch every match), and the scan stops at the
-- %(candidates)s-th match. Ranked: relevance first, newest first on ties; posts_visible filters.
-- The phrase checks are a number, not the text: a text column would put the derived table on
-- disk (an Aria file per search) instead of in memory.
SELECT id FROM (
  SELECT p.id, MATCH (p.title, p.content) AGAINST (%(against)s IN BOOLEAN MODE) AS score,
         IF(%(phrase)s IS NULL AND %(excluded)s IS NULL, 1,
            MATCH (p.title, p.content) AGAINST (%(against)s IN BOOLEAN MODE) > 0
            AND (%(phrase)s IS NULL OR CONCAT_WS(' ', p.title, p.content) REGEXP %(phrase)s)
            AND (%(excluded)s IS NULL OR NOT CONCAT_WS(' ', p.title, p.content) REGEXP %(excluded)s)) AS text_ok
  FROM posts p
  WHERE p.id > %(floor)s
  HAVING score > 0 AND text_ok
  ORDER BY p.id DESC
  LIMIT %(candidates)s
) AS hit
ORDER BY score DESC, id DESC

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
