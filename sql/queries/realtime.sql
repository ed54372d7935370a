-- Real time: replay-log upkeep and the peers presence is shown to.

-- name: prune_expired!
-- ix_user_events_created; batched so no long lock is held.
DELETE FROM user_events WHERE created_at < NOW(3) - INTERVAL %(ttl)s SECOND LIMIT %(limit)s

-- name: recent_peers
-- ix_conversations_recent: the conversation peers to tell about presence.
SELECT peer_id FROM conversations WHERE user_id = %(user_id)s
ORDER BY last_message_id DESC LIMIT %(limit)s

-- name: is_peer$
SELECT 1 FROM conversations WHERE user_id = %(user_id)s AND peer_id = %(peer_id)s
