-- Notifications: written in the transaction of the action that causes them.

-- name: create<!
-- created_at is passed in (UTC, milliseconds): the Notification is built from these values.
INSERT INTO notifications (user_id, type, actor_id, post_id, comment_id, message_id, response_id, created_at)
VALUES (%(user_id)s, %(type)s, %(actor_id)s, %(post_id)s, %(comment_id)s, %(message_id)s, %(response_id)s,
        %(created_at)s)

-- name: actor^
-- The actor's summary shown in a Notification, and whether user_id is to get none from them:
-- either of the two blocks the other, user_id mutes the actor with notifications, or (for a
-- message or a response) user_id muted their conversation; and the types user_id switched off
-- (disabled, server/notifications.py reads it). Primary-key lookups only.
SELECT u.username, u.full_name, COALESCE(u.image_url, m.storage_key) AS avatar_key,
       (EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = %(user_id)s AND b.target_id = u.id)
        OR EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = u.id AND b.target_id = %(user_id)s)
        OR EXISTS (SELECT 1 FROM mutes mu
                   WHERE mu.user_id = %(user_id)s AND mu.target_id = u.id AND mu.notifications
                     AND (mu.expires_at IS NULL OR mu.expires_at > UTC_TIMESTAMP(3)))
        OR (%(type)s IN ('message', 'response') AND EXISTS (
              SELECT 1 FROM conversation_mutes cm WHERE cm.user_id = %(user_id)s AND cm.peer_id = u.id))
       ) AS suppressed,
       (SELECT ns.disabled FROM notification_settings ns WHERE ns.user_id = %(user_id)s) AS disabled
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

-- name: disabled$
-- The notification types a user switched off (comma-separated; NULL: none). Primary key.
SELECT disabled FROM notification_settings WHERE user_id = %(user_id)s

-- name: settings_row!
INSERT IGNORE INTO notification_settings (user_id) VALUES (%(user_id)s)

-- name: lock_settings$
SELECT disabled FROM notification_settings WHERE user_id = %(user_id)s FOR UPDATE

-- name: set_disabled!
UPDATE notification_settings SET disabled = %(disabled)s, updated_at = UTC_TIMESTAMP(3)
WHERE user_id = %(user_id)s

-- name: grouped_page
-- Grouped notifications (server/notifications.py grouped_page): the newest notification of each
-- group, by keyset on its id. Likes of one post, likes of one comment and follows are grouped per
-- UTC day (group_day); every other notification is a group of its own. Walks ix_notifications_user
-- from the cursor and keeps a row when it is its group's newest: one backward dive into
-- ix_notifications_group (ORDER BY id DESC LIMIT 1 on the group's prefix reads one entry). A page
-- reads its own groups' rows and the same days' rows of groups shown before it, never the whole
-- history. FORCE INDEX: the optimizer otherwise may take ix_notifications_user as a ref on user_id
-- alone and read every newer row before the cursor (measured: 30,000 rows for a deep page, 100
-- with the range).
SELECT n.*, r.action AS report_action, u.username AS actor_username, u.full_name AS actor_full_name,
       COALESCE(u.image_url, m.storage_key) AS actor_avatar_key
FROM notifications n FORCE INDEX (ix_notifications_user)
LEFT JOIN users u ON u.id = n.actor_id
LEFT JOIN media m ON m.id = u.avatar_media_id
LEFT JOIN reports r ON r.id = n.report_id
WHERE n.user_id = %(user_id)s AND n.id {cmp} %(cursor)s
  AND (n.type NOT IN ('like', 'comment_like', 'follow') OR n.id = (
        SELECT g.id FROM notifications g
        WHERE g.user_id = n.user_id AND g.type = n.type AND g.post_id <=> n.post_id
          AND g.comment_id <=> n.comment_id AND g.group_day = n.group_day
        ORDER BY g.id DESC LIMIT 1))
ORDER BY n.id {dir}
LIMIT %(limit)s

-- name: group_details
-- For the newest notification (head) of each grouped group of a page: its distinct actors, how
-- many, how many of its notifications are unread, and the latest GROUP_ACTORS actors, newest first
-- (rn). One ix_notifications_group range per group (up to the head: later rows are the next
-- page's news); at most GROUP_ACTORS rows per group come back.
SELECT x.head_id, x.actor_id, x.actors_count, x.unread_count, x.rn,
       u.username, u.full_name, COALESCE(u.image_url, m.storage_key) AS avatar_key
FROM (
  SELECT h.id AS head_id, g.actor_id,
         COUNT(*) OVER (PARTITION BY h.id) AS actors_count,
         SUM(SUM(g.is_read = FALSE)) OVER (PARTITION BY h.id) AS unread_count,
         ROW_NUMBER() OVER (PARTITION BY h.id ORDER BY MAX(g.id) DESC) AS rn
  FROM notifications h
  JOIN notifications g
    ON g.user_id = h.user_id AND g.type = h.type AND g.post_id <=> h.post_id
   AND g.comment_id <=> h.comment_id AND g.group_day = h.group_day AND g.id <= h.id
  WHERE h.id IN %(ids)s AND h.user_id = %(user_id)s
  GROUP BY h.id, g.actor_id
) x
JOIN users u ON u.id = x.actor_id
LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE x.rn <= %(actors)s
ORDER BY x.head_id, x.rn

-- name: mark_group!
-- One group of the grouped page (its key parsed by server/notifications.py): likes of a post
-- (post_id), likes of a comment (comment_id) or follows, of one UTC day. ix_notifications_group.
UPDATE notifications SET is_read = TRUE
WHERE user_id = %(user_id)s AND type = %(type)s AND is_read = FALSE
  AND (%(post_id)s IS NULL OR post_id = %(post_id)s) AND comment_id <=> %(comment_id)s
  AND group_day = %(day)s
