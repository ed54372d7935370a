-- Search (server/search.py): ids in rank order, then the documents of the other areas.
-- Hidden accounts and blocks are filtered here, as in sql/queries/feed.sql: users blocked either
-- way by the viewer and deleted accounts never appear; suspended ones only to moderators.

-- name: posts
-- Posts matching a boolean-mode text (built by server/search.py, never the user's own text).
-- The inner query takes the newest %(candidates)s visible matches, the outer one ranks them:
-- relevance first, newest first on ties. Authors the viewer mutes are left out, as on the public
-- timeline.
SELECT id FROM (
  SELECT STRAIGHT_JOIN p.id, MATCH (p.title, p.content) AGAINST (%(against)s IN BOOLEAN MODE) AS score
  FROM posts p JOIN users u ON u.id = p.user_id
  WHERE MATCH (p.title, p.content) AGAINST (%(against)s IN BOOLEAN MODE)
    AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(viewer_id)s AND b.target_id = p.user_id)
    AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = p.user_id AND b.target_id = %(viewer_id)s)
    AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.user_id = %(viewer_id)s AND mu.target_id = p.user_id
                    AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3)))
    AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))
  ORDER BY p.id DESC
  LIMIT %(candidates)s
) AS hit
ORDER BY score DESC, id DESC
LIMIT %(offset)s, %(limit)s

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
-- Tag names starting with %(prefix)s, case-insensitively: names are utf8mb4_bin, so the compare
-- uses a case-insensitive collation and reads all of uq_tags_name (covering; tags are few). Rank:
-- the name itself, then shorter names (closer to what was typed); newest first on ties.
SELECT id, JSON_OBJECT('id', id, 'name', name) AS doc
FROM tags
WHERE name COLLATE utf8mb4_unicode_ci LIKE %(prefix)s
ORDER BY name COLLATE utf8mb4_unicode_ci = %(q)s DESC, CHAR_LENGTH(name), id DESC
LIMIT %(offset)s, %(limit)s
