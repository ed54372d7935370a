-- Per-user event stream: seq assignment and the durable replay log.

-- name: reserve_seqs<!
-- The user's next n seqs; the last of them becomes the statement's insert id (server/events.py
-- reservation: one of these per user, all in one round trip).
INSERT INTO user_event_seq (user_id, seq) VALUES (%(user_id)s, LAST_INSERT_ID(%(n)s))
ON DUPLICATE KEY UPDATE seq = LAST_INSERT_ID(seq + %(n)s)

-- name: append*!
-- One multi-row INSERT for all the events of a transaction (sent with its COMMIT).
INSERT INTO user_events (user_id, seq, type, payload) VALUES (%s, %s, %s, %s)

-- name: latest_seq$
SELECT seq FROM user_event_seq WHERE user_id = %(user_id)s

-- name: since
SELECT seq, type, payload FROM user_events
WHERE user_id = %(user_id)s AND seq > %(seq)s ORDER BY seq LIMIT %(limit)s

-- name: prune!
DELETE FROM user_events WHERE user_id = %(user_id)s AND seq <= %(seq)s
