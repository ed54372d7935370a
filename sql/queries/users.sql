-- Users: accounts and public profiles.

-- name: create<!
INSERT INTO users (username, email, password_hash, full_name)
VALUES (%(username)s, %(email)s, %(password_hash)s, %(full_name)s)

-- name: by_id^
SELECT u.*, m.storage_key AS avatar_key
FROM users u LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE u.id = %(id)s

-- name: by_ids
SELECT u.*, m.storage_key AS avatar_key
FROM users u LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE u.id IN %(ids)s

-- name: by_login^
-- The _ci collation of the unique keys makes both lookups case-insensitive.
SELECT id, password_hash FROM users WHERE username = %(login)s OR email = %(login)s
LIMIT 1

-- name: taken
SELECT username = %(username)s AS username_taken, email = %(email)s AS email_taken
FROM users WHERE username = %(username)s OR email = %(email)s

-- name: by_username^
SELECT u.*, m.storage_key AS avatar_key
FROM users u LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE u.username = %(username)s

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
  updated_at = UTC_TIMESTAMP(3)
WHERE id = %(id)s

-- name: search
-- Prefix match on username or full name: each branch is a range on its own index
-- (uq_users_username, ix_users_full_name); the union is keyset-paginated on id.
-- STRAIGHT_JOIN: read the matches first, never scan users by id looking for them.
SELECT STRAIGHT_JOIN u.*, m.storage_key AS avatar_key
FROM (
  (SELECT id FROM users WHERE username LIKE %(prefix)s AND id {cmp} %(cursor)s)
  UNION
  (SELECT id FROM users WHERE full_name LIKE %(prefix)s AND id {cmp} %(cursor)s)
) AS hit
JOIN users u ON u.id = hit.id
LEFT JOIN media m ON m.id = u.avatar_media_id
ORDER BY u.id {dir}
LIMIT %(limit)s

