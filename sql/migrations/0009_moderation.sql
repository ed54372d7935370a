-- Moderation (issue 13): roles, the one account state that hides a suspended or deleted account
-- everywhere, reports that keep a snapshot of what they report, the append-only moderation log,
-- and the reporter's `report.resolved` notification.

-- state: active (visible); suspended (hidden from everyone but moderators until lifted, by a
-- moderator or, at state_until, by the server); deleted (hidden from everyone; a background job
-- removes the rows). Every page query tests it in its own SQL (no fetch-then-filter).
ALTER TABLE users
  ADD COLUMN role ENUM('user', 'moderator', 'admin') NOT NULL DEFAULT 'user',
  ADD COLUMN state ENUM('active', 'suspended', 'deleted') NOT NULL DEFAULT 'active',
  ADD COLUMN state_until DATETIME(3) NULL,
  ADD COLUMN state_reason VARCHAR(1000) NULL,
  ADD COLUMN state_changed_at DATETIME(3) NULL,
  -- Timed suspensions due to end: a range read for the sweeper, never a scan of users.
  ADD KEY ix_users_state (state, state_until);

-- target_id has no foreign key: the content may go (deleted by its author or a moderator) while
-- the report, and its snapshot, stay reviewable. open_flag is 1 while open and NULL once resolved,
-- so the unique key allows one open report per reporter and target (NULLs never collide).
CREATE TABLE reports (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  reporter_id BIGINT UNSIGNED NOT NULL,
  target_type ENUM('user', 'post', 'comment', 'message') NOT NULL,
  target_id BIGINT UNSIGNED NOT NULL,
  target_user_id BIGINT UNSIGNED NOT NULL,
  reason ENUM('spam', 'abuse', 'illegal', 'other') NOT NULL,
  comment VARCHAR(1000) NULL,
  snapshot JSON NOT NULL,
  status ENUM('open', 'resolved') NOT NULL DEFAULT 'open',
  open_flag TINYINT AS (IF(status = 'open', 1, NULL)) STORED,
  action ENUM('dismiss', 'delete_content', 'suspend_user') NULL,
  note VARCHAR(1000) NULL,
  resolved_by BIGINT UNSIGNED NULL,
  resolved_at DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uq_reports_open (reporter_id, target_type, target_id, open_flag),
  KEY ix_reports_status (status, id),
  KEY ix_reports_target (target_type, target_id, status),
  KEY ix_reports_target_user (target_user_id, id),
  CONSTRAINT fk_reports_reporter FOREIGN KEY (reporter_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT fk_reports_target_user FOREIGN KEY (target_user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT fk_reports_resolved_by FOREIGN KEY (resolved_by) REFERENCES users (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Every moderator action, appended in the action's transaction; nothing updates or deletes it
-- (tests/test_moderation.py checks the named queries). actor_id NULL: the server itself (a timed
-- suspension ending, a role set from the command line).
CREATE TABLE moderation_log (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  actor_id BIGINT UNSIGNED NULL,
  action VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  subject_user_id BIGINT UNSIGNED NULL,
  target_type ENUM('user', 'post', 'comment', 'message') NULL,
  target_id BIGINT UNSIGNED NULL,
  report_id BIGINT UNSIGNED NULL,
  note VARCHAR(1000) NULL,
  details JSON NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY ix_moderation_log_subject (subject_user_id, id),
  CONSTRAINT fk_moderation_log_actor FOREIGN KEY (actor_id) REFERENCES users (id),
  CONSTRAINT fk_moderation_log_subject FOREIGN KEY (subject_user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The reporter is told a report was resolved; moderators stay anonymous, so that notification
-- has no actor.
ALTER TABLE notifications
  MODIFY type ENUM('follow', 'like', 'comment', 'comment_like', 'message', 'response', 'report.resolved') NOT NULL,
  MODIFY actor_id BIGINT UNSIGNED NULL,
  ADD COLUMN report_id BIGINT UNSIGNED NULL,
  ADD CONSTRAINT fk_notifications_report FOREIGN KEY (report_id) REFERENCES reports (id) ON DELETE CASCADE;
