-- Sessions (one per login/device) and their rotating refresh tokens.

-- name: create<!
INSERT INTO sessions (user_id, kind, user_agent, ip, expires_at)
VALUES (%(user_id)s, %(kind)s, %(user_agent)s, %(ip)s, UTC_TIMESTAMP(3) + INTERVAL %(ttl)s SECOND)

-- name: state^
SELECT user_id, revoked_at IS NULL AND expires_at > UTC_TIMESTAMP(3) AS active
FROM sessions WHERE id = %(id)s

-- name: add_refresh!
INSERT INTO refresh_tokens (token_hash, session_id) VALUES (%(token_hash)s, %(session_id)s)

-- name: find_refresh^
SELECT r.session_id, r.rotated_at, s.user_id, s.kind, s.expires_at,
       s.revoked_at IS NULL AND s.expires_at > UTC_TIMESTAMP(3) AS active
FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
WHERE r.token_hash = %(token_hash)s
FOR UPDATE

-- name: rotate_refresh!
UPDATE refresh_tokens SET rotated_at = UTC_TIMESTAMP(3)
WHERE token_hash = %(token_hash)s AND rotated_at IS NULL

-- name: touch!
UPDATE sessions SET last_used_at = UTC_TIMESTAMP(3),
       expires_at = UTC_TIMESTAMP(3) + INTERVAL %(ttl)s SECOND
WHERE id = %(id)s

-- name: revoke!
UPDATE sessions SET revoked_at = UTC_TIMESTAMP(3), revoke_reason = %(reason)s
WHERE id = %(id)s AND revoked_at IS NULL

-- name: revoke_all_of_user!
UPDATE sessions SET revoked_at = UTC_TIMESTAMP(3), revoke_reason = %(reason)s
WHERE user_id = %(user_id)s AND revoked_at IS NULL AND id <> %(keep)s

-- name: active_ids_except
SELECT id FROM sessions
WHERE user_id = %(user_id)s AND revoked_at IS NULL AND id <> %(keep)s
FOR UPDATE


-- name: live_page
-- The user's sessions still in force (ix_sessions_user (user_id, id)), keyset on id.
SELECT id, kind, user_agent, ip, created_at, last_used_at, expires_at
FROM sessions
WHERE user_id = %(user_id)s AND revoked_at IS NULL AND expires_at > UTC_TIMESTAMP(3)
  AND id {cmp} %(cursor)s
ORDER BY id {dir} LIMIT %(limit)s

-- name: revoke_own!
-- One of the user's own live sessions; 0 rows: none such (someone else's, ended or unknown).
UPDATE sessions SET revoked_at = UTC_TIMESTAMP(3), revoke_reason = %(reason)s
WHERE id = %(id)s AND user_id = %(user_id)s AND revoked_at IS NULL AND expires_at > UTC_TIMESTAMP(3)

-- name: mark_used!
-- Sessions that served requests since the last flush (accounts.SeenSessions).
UPDATE sessions SET last_used_at = UTC_TIMESTAMP(3)
WHERE id IN %(ids)s AND revoked_at IS NULL
