-- Reactions on messages (server/reactions.py). Written under the message's row lock
-- (Q.messages.lock), so the distinct-emoji limit and the counts are exact under concurrency.

-- name: state^
-- The message's distinct emoji and whether this emoji is among them (uq_message_reactions).
SELECT COUNT(DISTINCT emoji) AS distinct_emoji, COALESCE(MAX(emoji = %(emoji)s), 0) AS known
FROM message_reactions WHERE message_id = %(message_id)s

-- name: add!
-- The emoji keeps its place when it is on the message already, else it goes last.
INSERT IGNORE INTO message_reactions (message_id, user_id, emoji, ordinal, created_at)
SELECT %(message_id)s, %(user_id)s, %(emoji)s,
       COALESCE(MIN(CASE WHEN emoji = %(emoji)s THEN ordinal END), MAX(ordinal) + 1, 1), UTC_TIMESTAMP(3)
FROM message_reactions WHERE message_id = %(message_id)s

-- name: remove!
DELETE FROM message_reactions
WHERE message_id = %(message_id)s AND emoji = %(emoji)s AND user_id = %(user_id)s

-- name: summaries
-- Per message and emoji: how many reacted, whether user a and user b did, in the emoji's place
-- (first use first). At most 20 emoji x 2 participants rows per message (uq_message_reactions).
SELECT message_id, emoji, COUNT(*) AS count, MAX(user_id = %(a)s) AS a_me, MAX(user_id = %(b)s) AS b_me,
       MIN(ordinal) AS ordinal
FROM message_reactions
WHERE message_id IN %(ids)s
GROUP BY message_id, emoji
ORDER BY message_id, ordinal
