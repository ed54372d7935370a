-- Idempotency-Key records: the first response of a create, replayed for 24 hours.

-- name: claim!
INSERT IGNORE INTO idempotency_keys (user_id, key_hash, request_hash, state)
VALUES (%(user_id)s, %(key_hash)s, %(request_hash)s, 'pending')

-- name: find^
SELECT request_hash, state, response_status, response_body,
       created_at < CURRENT_TIMESTAMP(3) - INTERVAL 1 DAY AS expired
FROM idempotency_keys WHERE user_id = %(user_id)s AND key_hash = %(key_hash)s

-- name: finish!
UPDATE idempotency_keys SET state = 'done', response_status = %(status)s, response_body = %(body)s
WHERE user_id = %(user_id)s AND key_hash = %(key_hash)s

-- name: release!
-- A create that failed leaves nothing to replay: the key may be used again.
DELETE FROM idempotency_keys WHERE user_id = %(user_id)s AND key_hash = %(key_hash)s AND state = 'pending'

-- name: drop_expired!
DELETE FROM idempotency_keys
WHERE user_id = %(user_id)s AND key_hash = %(key_hash)s
  AND created_at < CURRENT_TIMESTAMP(3) - INTERVAL 1 DAY

-- name: purge!
-- Housekeeping: records past their 24 hours (ix_idempotency_created), a batch at a time.
DELETE FROM idempotency_keys WHERE created_at < CURRENT_TIMESTAMP(3) - INTERVAL 1 DAY LIMIT %(limit)s
