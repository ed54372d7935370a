-- One-to-one messages and their responses. Rows that carry media are joined with
-- their attachment as md_* columns (server/chat.py media_of).

-- name: by_id^
SELECT m.*, md.id AS md_id, md.media_type AS md_media_type, md.storage_key AS md_storage_key, md.thumb_key AS md_thumb_key,
       md.width AS md_width, md.height AS md_height, md.duration AS md_duration, md.size AS md_size,
       md.content_type AS md_content_type, md.created_at AS md_created_at
FROM messages m
LEFT JOIN media md ON md.message_id = m.id
WHERE m.id = %(id)s

-- name: head^
SELECT id, sender_id, recipient_id, message_type FROM messages WHERE id = %(id)s

-- name: lock^
SELECT id, sender_id, recipient_id, message_type FROM messages WHERE id = %(id)s FOR UPDATE

-- name: by_client_full^
-- uq_messages_client: the stored message of a retried send, as by_id.
SELECT m.*, md.id AS md_id, md.media_type AS md_media_type, md.storage_key AS md_storage_key, md.thumb_key AS md_thumb_key,
       md.width AS md_width, md.height AS md_height, md.duration AS md_duration, md.size AS md_size,
       md.content_type AS md_content_type, md.created_at AS md_created_at
FROM messages m
LEFT JOIN media md ON md.message_id = m.id
WHERE m.sender_id = %(sender_id)s AND m.client_id = %(client_id)s

-- name: media_row^
-- An attachment as the md_* columns of by_id.
SELECT md.id AS md_id, md.media_type AS md_media_type, md.storage_key AS md_storage_key, md.thumb_key AS md_thumb_key,
       md.width AS md_width, md.height AS md_height, md.duration AS md_duration, md.size AS md_size,
       md.content_type AS md_content_type, md.created_at AS md_created_at
FROM media md
WHERE md.id = %(id)s

-- name: user_exists$
SELECT 1 FROM users WHERE id = %(id)s

-- name: gate^
-- Whether sender may message recipient (server/chat.py may_message; no row: no such recipient):
-- blocks either way, the recipient's dm_policy and whether the recipient follows the sender; and
-- the sender's summary for the recipient's notification with whether it is suppressed (as
-- notifications.actor says it), and the types the recipient switched off (disabled). One statement of
-- primary-key lookups before anything is stored.
SELECT EXISTS (SELECT 1 FROM blocks WHERE user_id = %(sender_id)s AND target_id = r.id) AS blocking,
       EXISTS (SELECT 1 FROM blocks WHERE user_id = r.id AND target_id = %(sender_id)s) AS blocked_by,
       r.dm_policy,
       EXISTS (SELECT 1 FROM follows WHERE follower_id = r.id AND followee_id = %(sender_id)s) AS follows_sender,
       s.username, s.full_name, COALESCE(s.image_url, m.storage_key) AS avatar_key,
       (EXISTS (SELECT 1 FROM mutes mu
                WHERE mu.user_id = r.id AND mu.target_id = s.id AND mu.notifications
                  AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3)))
        OR EXISTS (SELECT 1 FROM conversation_mutes cm WHERE cm.user_id = r.id AND cm.peer_id = s.id)
       ) AS suppressed,
       (SELECT ns.disabled FROM notification_settings ns WHERE ns.user_id = r.id) AS disabled
FROM users r
JOIN users s ON s.id = %(sender_id)s
LEFT JOIN media m ON m.id = s.avatar_media_id
WHERE r.id = %(recipient_id)s

-- name: deleted$
-- A deleted account takes no new response (its history stays). The shared lock orders the
-- check before a concurrent deletion's COMMIT, or after it.
SELECT 1 FROM users WHERE id = %(id)s AND state = 'deleted' LOCK IN SHARE MODE

-- name: create<!
-- created_at is passed in (UTC, milliseconds): the Message is built from these values, not re-read.
-- Selected from the recipient's row: a deleted account (or none) gets nothing inserted (id 0),
-- and the row is read under a shared lock, so a concurrent deletion commits before or after.
INSERT INTO messages (sender_id, recipient_id, message_type, content, client_id, created_at)
SELECT %(sender_id)s, u.id, %(message_type)s, %(content)s, %(client_id)s, %(created_at)s
FROM users u WHERE u.id = %(recipient_id)s
  AND u.state <> 'deleted'

-- name: attach_media!
-- The sender's own upload, not yet attached to anything; affected rows say whether it was.
UPDATE media SET message_id = %(message_id)s
WHERE id = %(media_id)s AND user_id = %(user_id)s AND purpose = 'upload' AND media_type IN %(types)s
  AND post_id IS NULL AND comment_id IS NULL AND message_id IS NULL AND response_id IS NULL

-- name: attach_response_media!
UPDATE media SET response_id = %(response_id)s
WHERE id = %(media_id)s AND user_id = %(user_id)s AND purpose = 'upload' AND media_type IN %(types)s
  AND post_id IS NULL AND comment_id IS NULL AND message_id IS NULL AND response_id IS NULL

-- name: history
-- ix_messages_pair: one conversation is one index range whichever way messages went.
SELECT m.*, md.id AS md_id, md.media_type AS md_media_type, md.storage_key AS md_storage_key, md.thumb_key AS md_thumb_key,
       md.width AS md_width, md.height AS md_height, md.duration AS md_duration, md.size AS md_size,
       md.content_type AS md_content_type, md.created_at AS md_created_at
FROM messages m
LEFT JOIN media md ON md.message_id = m.id
WHERE m.user_lo = %(lo)s AND m.user_hi = %(hi)s AND m.id {cmp} %(cursor)s
ORDER BY m.id {dir}
LIMIT %(limit)s

-- name: edit!
UPDATE messages SET content = %(content)s, edited_at = UTC_TIMESTAMP(3) WHERE id = %(id)s

-- name: delete!
DELETE FROM messages WHERE id = %(id)s

-- name: newest_id$
SELECT MAX(id) FROM messages WHERE user_lo = %(lo)s AND user_hi = %(hi)s

-- name: mark_read!
UPDATE messages SET read_at = UTC_TIMESTAMP(3)
WHERE user_lo = %(lo)s AND user_hi = %(hi)s AND id > %(from_id)s AND id <= %(to_id)s
  AND sender_id = %(peer_id)s AND read_at IS NULL

-- name: response_create<!
INSERT INTO message_responses (message_id, author_id, response_type, content)
VALUES (%(message_id)s, %(author_id)s, %(response_type)s, %(content)s)

-- name: bump_responses!
UPDATE messages SET responses_count = responses_count + 1 WHERE id = %(id)s

-- name: response_by_id^
SELECT r.*, md.id AS md_id, md.media_type AS md_media_type, md.storage_key AS md_storage_key, md.thumb_key AS md_thumb_key,
       md.width AS md_width, md.height AS md_height, md.duration AS md_duration, md.size AS md_size,
       md.content_type AS md_content_type, md.created_at AS md_created_at
FROM message_responses r
LEFT JOIN media md ON md.response_id = r.id
WHERE r.id = %(id)s

-- name: responses
-- ix_message_responses_message
SELECT r.*, md.id AS md_id, md.media_type AS md_media_type, md.storage_key AS md_storage_key, md.thumb_key AS md_thumb_key,
       md.width AS md_width, md.height AS md_height, md.duration AS md_duration, md.size AS md_size,
       md.content_type AS md_content_type, md.created_at AS md_created_at
FROM message_responses r
LEFT JOIN media md ON md.response_id = r.id
WHERE r.message_id = %(message_id)s AND r.id {cmp} %(cursor)s
ORDER BY r.id {dir}
LIMIT %(limit)s
