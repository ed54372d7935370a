-- Per-user event stream: seq assignment and the durable replay log.

-- name: reserve_seqs
-- Rows (user_id, n): each user's next n seqs, every user in one statement (rows in user id order:
-- one lock order); RETURNING gives each user's last seq reserved (server/events.py reservation).
INSERT INTO user_event_seq (user_id, seq) VALUES (%s, %s)
ON DUPLICATE KEY UPDATE seq = seq + VALUES(seq)
RETURNING user_id, seq

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
