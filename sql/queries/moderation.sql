-- Moderation: roles, suspensions (users.state) and the append-only moderation log.

-- name: staff^
-- The acting moderator: role and state (a suspended moderator moderates nothing).
SELECT id, role, state FROM users WHERE id = %(id)s

-- name: lock_user^
SELECT id, role, state, state_until FROM users WHERE id = %(id)s FOR UPDATE

-- name: set_role!
UPDATE users SET role = %(role)s, updated_at = UTC_TIMESTAMP(3) WHERE id = %(id)s

-- name: role_by_username^
SELECT id, role, state FROM users WHERE username = %(username)s AND state <> 'deleted' FOR UPDATE

-- name: suspend!
UPDATE users SET state = 'suspended', state_until = %(until)s, state_reason = %(reason)s,
       state_changed_at = UTC_TIMESTAMP(3)
WHERE id = %(id)s AND state <> 'deleted'

-- name: unsuspend!
UPDATE users SET state = 'active', state_until = NULL, state_reason = NULL, state_changed_at = UTC_TIMESTAMP(3)
WHERE id = %(id)s AND state = 'suspended'

-- name: due_to_lift
-- Timed suspensions whose end has come (ix_users_state).
SELECT id FROM users WHERE state = 'suspended' AND state_until <= UTC_TIMESTAMP(3)
ORDER BY state_until LIMIT %(limit)s

-- name: lock_due^
SELECT id FROM users WHERE id = %(id)s AND state = 'suspended' AND state_until <= UTC_TIMESTAMP(3)
FOR UPDATE

-- name: user_view^
-- A user as moderators see them: whatever the state.
SELECT u.id, u.username, u.full_name, u.role, u.state, u.state_until, u.state_reason,
       u.state_changed_at, u.created_at, u.followers_count, u.following_count, u.posts_count,
       COALESCE(u.image_url, m.storage_key) AS avatar_key,
       (SELECT COUNT(*) FROM reports r WHERE r.target_user_id = u.id AND r.status = 'open') AS open_reports
FROM users u LEFT JOIN media m ON m.id = u.avatar_media_id
WHERE u.id = %(id)s AND u.state <> 'deleted'

-- name: log!
-- The only statement that touches moderation_log: it is appended to, never changed.
INSERT INTO moderation_log (actor_id, action, subject_user_id, target_type, target_id, report_id, note, details)
VALUES (%(actor_id)s, %(action)s, %(subject_user_id)s, %(target_type)s, %(target_id)s, %(report_id)s,
        %(note)s, %(details)s)

-- name: log_page
-- Newest first; ?user_id= narrows to one subject (ix_moderation_log_subject).
SELECT l.*, a.username AS actor_username, a.full_name AS actor_full_name,
       COALESCE(a.image_url, am.storage_key) AS actor_avatar_key
FROM moderation_log l
LEFT JOIN users a ON a.id = l.actor_id
LEFT JOIN media am ON am.id = a.avatar_media_id
WHERE l.id {cmp} %(cursor)s
  AND (%(subject)s IS NULL OR l.subject_user_id = %(subject)s)
ORDER BY l.id {dir} LIMIT %(limit)s
