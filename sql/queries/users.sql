-- Users: accounts and public profiles.

-- name: create<!
INSERT INTO users (username, email, password_hash, full_name)
VALUES (%(username)s, %(email)s, %(password_hash)s, %(full_name)s)

-- name: by_login^
-- The _ci collation of the unique keys makes both lookups case-insensitive.
-- A deleted account is no account; a suspended one is told so, after its password is checked.
SELECT id, password_hash, state, state_until > UTC_TIMESTAMP(3) OR state_until IS NULL AS state_lasts, state_until
FROM users WHERE (username = %(login)s OR email = %(login)s)
  AND state <> 'deleted'
LIMIT 1

-- name: taken
SELECT username = %(username)s AS username_taken, email = %(email)s AS email_taken
FROM users WHERE username = %(username)s OR email = %(email)s

-- name: id_by_username$
SELECT id FROM users WHERE username = %(username)s

-- name: by_email^
SELECT id, username, email FROM users WHERE email = %(email)s

-- name: password_of^
SELECT id, username, email, password_hash FROM users WHERE id = %(id)s

-- name: set_password!
UPDATE users SET password_hash = %(password_hash)s, password_changed_at = UTC_TIMESTAMP(3)
WHERE id = %(id)s

-- name: update_profile!
-- Only the fields the client sent change: set_<field> says whether it did.
UPDATE users SET
  full_name = IF(%(set_full_name)s, %(full_name)s, full_name),
  bio = IF(%(set_bio)s, %(bio)s, bio),
  location = IF(%(set_location)s, %(location)s, location),
  dm_policy = IF(%(set_dm_policy)s, %(dm_policy)s, dm_policy),
  updated_at = UTC_TIMESTAMP(3)
WHERE id = %(id)s

-- name: search
-- Prefix match on username or full name: each branch is a range on its own index
-- (uq_users_username, ix_users_full_name); the union is keyset-paginated on id.
-- STRAIGHT_JOIN: read the matches first, never scan users by id looking for them.
-- Users blocked either way by the viewer are left out before the LIMIT (blocks primary key).
SELECT STRAIGHT_JOIN u.id
FROM (
  (SELECT id FROM users WHERE username LIKE %(prefix)s AND id {cmp} %(cursor)s)
  UNION
  (SELECT id FROM users WHERE full_name LIKE %(prefix)s AND id {cmp} %(cursor)s)
) AS hit
JOIN users u ON u.id = hit.id
LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(viewer_id)s AND b.target_id = u.id)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = u.id AND b.target_id = %(viewer_id)s)
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))
ORDER BY u.id {dir}
LIMIT %(limit)s


-- name: docs@
-- Users as API documents (User), built by MariaDB as one JSON column: no per-column decoding in
-- Python. The viewer's relation flags only with a viewer; email and dm_policy only when asked (the
-- viewer's own account). A user who blocks the viewer is left out (a 404 to them), unless
-- include_blockers. (subquery_cache=off: as feed.sql's post_docs.)
SET STATEMENT optimizer_switch='subquery_cache=off' FOR
SELECT u.id, JSON_MERGE_PATCH(
  JSON_OBJECT(
    'id', u.id, 'username', u.username, 'full_name', u.full_name, 'bio', u.bio, 'location', u.location,
    'profile_pic', COALESCE(u.image_url, CONCAT(%(media_base)s, CONVERT(m.storage_key USING utf8mb4))),
    'join_date', CAST(DATE(u.created_at) AS CHAR),
    'followers_count', u.followers_count, 'following_count', u.following_count,
    'posts_count', u.posts_count,
    'created_at', CONCAT(REPLACE(CAST(u.created_at AS CHAR), ' ', 'T'), 'Z'),
    'updated_at', CONCAT(REPLACE(CAST(u.updated_at AS CHAR), ' ', 'T'), 'Z')),
  IF(%(viewer_id)s IS NULL, '{}', JSON_OBJECT(
    -- IS TRUE: a bare EXISTS makes MariaDB 10.11 type the whole document binary (mangling non-ASCII).
    'following', EXISTS(SELECT 1 FROM follows f WHERE f.follower_id = %(viewer_id)s AND f.followee_id = u.id) IS TRUE,
    'followed_by', EXISTS(SELECT 1 FROM follows f WHERE f.follower_id = u.id AND f.followee_id = %(viewer_id)s) IS TRUE,
    'blocking', EXISTS(SELECT 1 FROM blocks b WHERE b.user_id = %(viewer_id)s AND b.target_id = u.id) IS TRUE,
    'muting', EXISTS(SELECT 1 FROM mutes mu WHERE mu.user_id = %(viewer_id)s AND mu.target_id = u.id
                     AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3))) IS TRUE)),
  IF(%(with_email)s, JSON_OBJECT('email', u.email, 'dm_policy', u.dm_policy, 'role', u.role), '{}')) AS doc
FROM users u LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE u.id IN %(ids)s
  AND (%(include_blockers)s OR NOT EXISTS (
        SELECT 1 FROM blocks b WHERE b.user_id = u.id AND b.target_id = %(viewer_id)s))
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))

-- name: visible$
-- The user exists, does not block the viewer (NULL: anyone) and the viewer may see them.
SELECT 1 FROM users u
WHERE u.id = %(id)s
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = u.id AND b.target_id = %(viewer_id)s)
  AND (u.state = 'active' OR (u.state = 'suspended' AND EXISTS (SELECT 1 FROM users v WHERE v.id = %(viewer_id)s AND v.role <> 'user')))

-- name: state$
-- For writes aimed at someone's things (a like, a comment, a follow): only active accounts.
SELECT state FROM users WHERE id = %(id)s
