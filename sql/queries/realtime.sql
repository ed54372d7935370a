-- Real time: replay-log upkeep and the peers presence is shown to.

-- name: prune_expired!
-- ix_user_events_created; batched so no long lock is held.
DELETE FROM user_events WHERE created_at < NOW(3) - INTERVAL %(ttl)s SECOND LIMIT %(limit)s

-- name: recent_peers
-- ix_conversations_recent: the conversation peers to tell about presence (none blocked either way).
SELECT c.peer_id FROM conversations c
WHERE c.user_id = %(user_id)s
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = c.user_id AND b.target_id = c.peer_id)
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = c.peer_id AND b.target_id = c.user_id)
ORDER BY c.last_message_id DESC LIMIT %(limit)s

-- name: is_peer$
SELECT 1 FROM conversations WHERE user_id = %(user_id)s AND peer_id = %(peer_id)s

-- name: typing_gate^
-- Whether the two have a conversation, and whether either blocks the other (primary keys).
SELECT EXISTS (SELECT 1 FROM conversations WHERE user_id = %(user_id)s AND peer_id = %(peer_id)s) AS peer,
       EXISTS (SELECT 1 FROM blocks
               WHERE (user_id = %(user_id)s AND target_id = %(peer_id)s)
                  OR (user_id = %(peer_id)s AND target_id = %(user_id)s)) AS blocked
