-- Safety between users: blocks, mutes (of a user, of one conversation) and who may message whom.
-- The filters read these tables inside the queries that serve pages, as NOT EXISTS on the keys
-- (user_id, target_id) and (target_id, user_id): MariaDB reads the viewer's few rows once per
-- query and looks each candidate author up among them.

-- user_id blocks target_id. id orders GET /blocks (newest first) and is its cursor.
CREATE TABLE blocks (
  user_id BIGINT UNSIGNED NOT NULL,
  target_id BIGINT UNSIGNED NOT NULL,
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (user_id, target_id),
  UNIQUE KEY uq_blocks_id (id),
  KEY ix_blocks_user (user_id, id),
  -- who blocks target_id: the other direction of the pair.
  KEY ix_blocks_target (target_id, user_id),
  CONSTRAINT fk_blocks_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT fk_blocks_target FOREIGN KEY (target_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT ck_blocks_not_self CHECK (user_id <> target_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- user_id mutes target_id until expires_at (NULL: until undone). An expired row mutes nothing
-- (every reader compares expires_at with UTC_TIMESTAMP) and housekeeping deletes it later.
-- notifications: the target's actions create no notifications for user_id either.
CREATE TABLE mutes (
  user_id BIGINT UNSIGNED NOT NULL,
  target_id BIGINT UNSIGNED NOT NULL,
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  notifications BOOLEAN NOT NULL DEFAULT TRUE,
  expires_at DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (user_id, target_id),
  UNIQUE KEY uq_mutes_id (id),
  KEY ix_mutes_user (user_id, id),
  -- who mutes target_id (the home-timeline fan-out leaves them out).
  KEY ix_mutes_target (target_id, user_id),
  KEY ix_mutes_expires (expires_at),
  CONSTRAINT fk_mutes_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT fk_mutes_target FOREIGN KEY (target_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT ck_mutes_not_self CHECK (user_id <> target_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- user_id muted the conversation with peer_id: its messages arrive and are stored, but make no
-- notification and no unread badge for user_id. A row of its own (not a column of conversations):
-- a conversation may be muted before its first message.
CREATE TABLE conversation_mutes (
  user_id BIGINT UNSIGNED NOT NULL,
  peer_id BIGINT UNSIGNED NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (user_id, peer_id),
  CONSTRAINT fk_conversation_mutes_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT fk_conversation_mutes_peer FOREIGN KEY (peer_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Who may message a user: everyone, the users they follow, or nobody.
ALTER TABLE users
  ADD COLUMN dm_policy ENUM('everyone', 'following', 'nobody') NOT NULL DEFAULT 'everyone' AFTER image_url;
