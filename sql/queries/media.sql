-- Media: uploaded files (the columns store_upload returns) and avatars.

-- name: insert<!
INSERT INTO media (user_id, purpose, media_type, storage_key, thumb_key, content_type,
                   width, height, duration, size)
VALUES (%(user_id)s, %(purpose)s, %(media_type)s, %(storage_key)s, %(thumb_key)s, %(content_type)s,
        %(width)s, %(height)s, %(duration)s, %(size)s)

-- name: by_id_for_owner^
-- Someone else's media is indistinguishable from none (the caller answers 404).
SELECT * FROM media WHERE id = %(id)s AND user_id = %(user_id)s

-- name: lock_avatar^
-- The user's row locked, so that concurrent avatar changes run one after the other and
-- each sees the avatar the previous one left.
SELECT u.avatar_media_id, m.storage_key, m.thumb_key
FROM users u LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE u.id = %(user_id)s
FOR UPDATE

-- name: set_avatar!
UPDATE users SET avatar_media_id = %(media_id)s, image_url = %(image_url)s, updated_at = UTC_TIMESTAMP(3) WHERE id = %(user_id)s

-- name: delete_avatar!
DELETE FROM media WHERE id = %(id)s AND user_id = %(user_id)s AND purpose = 'avatar'

-- name: key_in_use$
-- Keys are content-addressed, so one file may back several rows (anyone's): a file is removed
-- only when no row points at it any more.
SELECT EXISTS (SELECT 1 FROM media WHERE storage_key = %(key)s OR thumb_key = %(key)s)
