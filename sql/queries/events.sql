-- Per-user event stream: seq assignment and the durable replay log.

-- name: reserve_seqs!
-- The user's next n seqs; the last of them becomes this connection's lastrowid (one round trip).
INSERT INTO user_event_seq (user_id, seq) VALUES (%(user_id)s, LAST_INSERT_ID(%(n)s))
ON DUPLICATE KEY UPDATE seq = LAST_INSERT_ID(seq + %(n)s)

-- name: append*!
-- executemany: one multi-row INSERT for all the events of a transaction.
INSERT INTO user_events (user_id, seq, type, payload) VALUES (%s, %s, %s, %s)

-- name: latest_seq$
SELECT seq FROM user_event_seq WHERE user_id = %(user_id)s

-- name: since
SELECT seq, type, payload FROM user_events
WHERE user_id = %(user_id)s AND seq > %(seq)s ORDER BY seq LIMIT %(limit)s

-- name: prune!
DELETE FROM user_events WHERE user_id = %(user_id)s AND seq <= %(seq)s
