-- Reactions on messages, grouped notifications and per-type notification settings.

-- One row per (message, emoji, user): a participant's reaction. The emoji is one grapheme cluster
-- (server/reactions.py validates it) compared byte for byte (utf8mb4_bin: the default collations
-- would take every emoji, skin tones included, for the same character). At most 20 distinct emoji
-- per message, checked under the message's row lock. ordinal is the emoji's place on the message
-- (first use first): every row of one emoji carries the same, so the order stays put while the emoji
-- stays on the message, whoever withdraws.
CREATE TABLE message_reactions (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  message_id BIGINT UNSIGNED NOT NULL,
  user_id BIGINT UNSIGNED NOT NULL,
  emoji VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  ordinal INT UNSIGNED NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uq_message_reactions (message_id, emoji, user_id),
  KEY ix_message_reactions_user (user_id, id),
  CONSTRAINT fk_message_reactions_message FOREIGN KEY (message_id) REFERENCES messages (id) ON DELETE CASCADE,
  CONSTRAINT fk_message_reactions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The notification types a user switched off (a comma-separated list of type names; no row: all
-- on). Read by primary key in the transaction that would create a notification.
CREATE TABLE notification_settings (
  user_id BIGINT UNSIGNED NOT NULL,
  disabled VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (user_id),
  CONSTRAINT fk_notification_settings_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Grouped notifications: likes of one post, likes of one comment and follows group per UTC day
-- (group_day: created_at is UTC). A group is one range of ix_notifications_group, its newest row
-- that range's last entry: whether a notification is its group's newest is one index dive, and a
-- group's actors and counts are one range read.
ALTER TABLE notifications
  ADD COLUMN group_day DATE AS (DATE(created_at)) STORED,
  ADD KEY ix_notifications_group (user_id, type, post_id, comment_id, group_day, id);
