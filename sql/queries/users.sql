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
