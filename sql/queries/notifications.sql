-- Notifications: written in the transaction of the action that causes them.

-- name: create<!
-- created_at is passed in (UTC, milliseconds): the Notification is built from these values.
INSERT INTO notifications (user_id, type, actor_id, post_id, comment_id, message_id, response_id, created_at)
VALUES (%(user_id)s, %(type)s, %(actor_id)s, %(post_id)s, %(comment_id)s, %(message_id)s, %(response_id)s,
        %(created_at)s)

-- name: actor^
-- The actor's summary shown in a Notification, and whether user_id is to get none from them:
-- either of the two blocks the other, user_id mutes the actor with notifications, or (for a
-- message or a response) user_id muted their conversation. Primary-key lookups only.
SELECT u.username, u.full_name, COALESCE(u.image_url, m.storage_key) AS avatar_key,
       (EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(user_id)s AND b.target_id = u.id)
        OR EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = u.id AND b.target_id = %(user_id)s)
        OR EXISTS (SELECT 1 FROM mutes mu
                   WHERE mu.user_id = %(user_id)s AND mu.target_id = u.id AND mu.notifications
                     AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3)))
        OR (%(type)s IN ('message', 'response') AND EXISTS (
              SELECT 1 FROM conversation_mutes cm WHERE cm.user_id = %(user_id)s AND cm.peer_id = u.id))
       ) AS suppressed
FROM users u
LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE u.id = %(id)s

-- name: by_id^
SELECT n.*, r.action AS report_action, u.username AS actor_username, u.full_name AS actor_full_name, COALESCE(u.image_url, m.storage_key) AS actor_avatar_key
FROM notifications n
LEFT JOIN users u ON u.id = n.actor_id
LEFT JOIN media m ON m.id = u.avatar_media_id
LEFT JOIN reports r ON r.id = n.report_id
WHERE n.id = %(id)s

-- name: find_unread
-- The unread notification an action made, to remove when the action is undone.
SELECT id FROM notifications
WHERE user_id = %(user_id)s AND actor_id = %(actor_id)s AND type = %(type)s AND is_read = FALSE
  AND post_id <=> %(post_id)s AND comment_id <=> %(comment_id)s
FOR UPDATE

-- name: delete_ids!
DELETE FROM notifications WHERE id IN %(ids)s

-- name: unread_count$
SELECT COUNT(*) FROM notifications WHERE user_id = %(user_id)s AND is_read = FALSE

-- name: page
-- ix_notifications_user
SELECT n.*, r.action AS report_action, u.username AS actor_username, u.full_name AS actor_full_name, COALESCE(u.image_url, m.storage_key) AS actor_avatar_key
FROM notifications n
LEFT JOIN users u ON u.id = n.actor_id
LEFT JOIN media m ON m.id = u.avatar_media_id
LEFT JOIN reports r ON r.id = n.report_id
WHERE n.user_id = %(user_id)s AND n.id {cmp} %(cursor)s
ORDER BY n.id {dir}
LIMIT %(limit)s

-- name: unread_page
-- ix_notifications_unread
SELECT n.*, r.action AS report_action, u.username AS actor_username, u.full_name AS actor_full_name, COALESCE(u.image_url, m.storage_key) AS actor_avatar_key
FROM notifications n
LEFT JOIN users u ON u.id = n.actor_id
LEFT JOIN media m ON m.id = u.avatar_media_id
LEFT JOIN reports r ON r.id = n.report_id
WHERE n.user_id = %(user_id)s AND n.is_read = FALSE AND n.id {cmp} %(cursor)s
ORDER BY n.id {dir}
LIMIT %(limit)s

-- name: mark_ids!
UPDATE notifications SET is_read = TRUE WHERE user_id = %(user_id)s AND is_read = FALSE AND id IN %(ids)s

-- name: mark_up_to!
UPDATE notifications SET is_read = TRUE WHERE user_id = %(user_id)s AND is_read = FALSE AND id <= %(up_to_id)s

-- name: mark_all!
UPDATE notifications SET is_read = TRUE WHERE user_id = %(user_id)s AND is_read = FALSE

-- name: unread_by_message
-- Unread notifications that go with a message (its own and its responses') when it is deleted.
SELECT user_id, COUNT(*) AS n FROM notifications
WHERE message_id = %(message_id)s AND is_read = FALSE
GROUP BY user_id

-- name: create_report_resolved<!
-- The reporter's notification: no actor (moderators stay anonymous).
INSERT INTO notifications (user_id, type, actor_id, report_id, created_at)
VALUES (%(user_id)s, 'report.resolved', NULL, %(report_id)s, %(created_at)s)
