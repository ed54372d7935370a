-- Account deletion (issue 13): the background job that removes a deleted account's rows (one row
-- per account; resumable: a worker holds a lease it renews between batches, a dead worker's job is
-- free again once its lease runs out), and the storage files whose rows are gone.

CREATE TABLE account_deletions (
  user_id BIGINT UNSIGNED NOT NULL,
  requested_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  -- The stage last begun and the batches run, for operators; the job itself re-reads what is left.
  stage VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'queued',
  batches INT UNSIGNED NOT NULL DEFAULT 0,
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  lease_token CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
  lease_until DATETIME(3) NULL,
  last_error VARCHAR(500) NULL,
  finished_at DATETIME(3) NULL,
  PRIMARY KEY (user_id),
  KEY ix_account_deletions_pending (finished_at, lease_until),
  CONSTRAINT fk_account_deletions_user FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Files of deleted media rows, listed in the transaction that deletes the rows, removed from
-- storage after COMMIT when no row uses them: a crash in between leaves them listed, not lost.
CREATE TABLE orphan_files (
  storage_key VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (storage_key),
  KEY ix_orphan_files_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
