-- Home timeline cache (server/timeline.py): whose cached timelines a post reaches.

-- name: follower_ids^
-- Everyone following user_id (ix_follows_followee (followee_id, id), covering), as one
-- comma-separated string: one row to read instead of one per follower. n tells a string cut
-- at group_concat_max_len (then follower_rows is used).
SELECT COUNT(*) AS n, GROUP_CONCAT(follower_id SEPARATOR ',') AS ids FROM follows WHERE followee_id = %(user_id)s

-- name: follower_rows
SELECT follower_id AS id FROM follows WHERE followee_id = %(user_id)s
