-- Per-participant conversation state (one row per side), kept in the message's transaction.

-- name: touch_pair!
-- Both sides of a new message in one statement, lower user id first (a deterministic lock order).
-- *_unread is 1 on the recipient's row: unread unless already past its last_read_id.
INSERT INTO conversations (user_id, peer_id, last_message_id, unread_count)
VALUES (%(lo)s, %(hi)s, %(message_id)s, %(lo_unread)s), (%(hi)s, %(lo)s, %(message_id)s, %(hi_unread)s)
ON DUPLICATE KEY UPDATE
  unread_count = unread_count + IF(VALUES(unread_count) > 0 AND VALUES(last_message_id) > last_read_id, 1, 0),
  last_message_id = GREATEST(last_message_id, VALUES(last_message_id)),
  updated_at = UTC_TIMESTAMP(3)

-- name: lock^
-- muted: user_id muted the conversation (its unread count is shown as 0).
SELECT c.*, EXISTS (SELECT 1 FROM conversation_mutes cm
                    WHERE cm.user_id = c.user_id AND cm.peer_id = c.peer_id) AS muted
FROM conversations c WHERE c.user_id = %(user_id)s AND c.peer_id = %(peer_id)s FOR UPDATE

-- name: unread$
-- As shown: 0 while user_id has the conversation muted (the stored count goes on counting).
SELECT CAST(IF(EXISTS (SELECT 1 FROM conversation_mutes cm
                       WHERE cm.user_id = c.user_id AND cm.peer_id = c.peer_id), 0, c.unread_count) AS UNSIGNED)
FROM conversations c WHERE c.user_id = %(user_id)s AND c.peer_id = %(peer_id)s

-- name: mute!
INSERT IGNORE INTO conversation_mutes (user_id, peer_id) VALUES (%(user_id)s, %(peer_id)s)

-- name: unmute!
DELETE FROM conversation_mutes WHERE user_id = %(user_id)s AND peer_id = %(peer_id)s

-- name: set_read!
-- The count is recounted from the rows it counts (ix_messages_pair), under the row lock.
UPDATE conversations SET last_read_id = %(to_id)s,
  unread_count = (SELECT COUNT(*) FROM messages
                  WHERE user_lo = %(lo)s AND user_hi = %(hi)s AND sender_id = %(peer_id)s AND id > %(to_id)s),
  updated_at = UTC_TIMESTAMP(3)
WHERE user_id = %(user_id)s AND peer_id = %(peer_id)s

-- name: unread_minus!
-- A deleted message the recipient had not read yet.
UPDATE conversations SET unread_count = unread_count - 1
WHERE user_id = %(user_id)s AND peer_id = %(peer_id)s AND last_read_id < %(message_id)s AND unread_count > 0

-- name: retarget!
UPDATE conversations SET last_message_id = %(newest)s
WHERE ((user_id = %(a)s AND peer_id = %(b)s) OR (user_id = %(b)s AND peer_id = %(a)s))
  AND last_message_id = %(message_id)s

-- name: drop_pair!
DELETE FROM conversations
WHERE (user_id = %(a)s AND peer_id = %(b)s) OR (user_id = %(b)s AND peer_id = %(a)s)

-- name: page
-- ix_conversations_recent: most recent first, keyset on last_message_id. A conversation the user
-- muted shows no unread badge (unread_count 0); its stored count goes on counting.
SELECT c.peer_id, c.last_message_id, c.last_read_id,
       CAST(IF(cm.user_id IS NULL, c.unread_count, 0) AS UNSIGNED) AS unread_count,
       cm.user_id IS NOT NULL AS muted,
       u.username AS peer_username, u.full_name AS peer_full_name, COALESCE(u.image_url, av.storage_key) AS peer_avatar_key,
       u.state AS peer_state,
       m.*, md.id AS md_id, md.media_type AS md_media_type, md.storage_key AS md_storage_key, md.thumb_key AS md_thumb_key,
       md.width AS md_width, md.height AS md_height, md.duration AS md_duration, md.size AS md_size,
       md.content_type AS md_content_type, md.created_at AS md_created_at
FROM conversations c
JOIN users u ON u.id = c.peer_id
LEFT JOIN media av ON av.id = u.avatar_media_id
JOIN messages m ON m.id = c.last_message_id
LEFT JOIN media md ON md.message_id = m.id
LEFT JOIN conversation_mutes cm ON cm.user_id = c.user_id AND cm.peer_id = c.peer_id
WHERE c.user_id = %(user_id)s AND c.last_message_id {cmp} %(cursor)s
ORDER BY c.last_message_id {dir}
LIMIT %(limit)s
