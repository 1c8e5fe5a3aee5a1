//! The versioned schema: SQL files embedded at build time, applied in order, recorded in
//! `schema_migrations`.
//!
//! Each backend has its own files (`migrations/sqlite/NNNN_name.sql`,
//! `migrations/postgres/NNNN_name.sql`) with the same versions, because the dialects differ
//! (identity columns, JSONB, triggers). Opening a store applies the versions it lacks, each in
//! its own transaction, and refuses a database whose newest version is unknown to this build:
//! an older binary writing into a newer schema could lose what the newer one relies on.

use crate::{Backend, StoreError};

/// One schema step.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "webhooks",
        sql: include_str!("../migrations/sqlite/0002_webhooks.sql"),
    },
    Migration {
        version: 3,
        name: "listing",
        sql: include_str!("../migrations/sqlite/0003_listing.sql"),
    },
    Migration {
        version: 4,
        name: "push_purpose",
        sql: include_str!("../migrations/sqlite/0004_push_purpose.sql"),
    },
];

pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "webhooks",
        sql: include_str!("../migrations/postgres/0002_webhooks.sql"),
    },
    Migration {
        version: 3,
        name: "listing",
        sql: include_str!("../migrations/postgres/0003_listing.sql"),
    },
    Migration {
        version: 4,
        name: "push_purpose",
        sql: include_str!("../migrations/postgres/0004_push_purpose.sql"),
    },
];

pub(crate) fn for_backend(backend: Backend) -> &'static [Migration] {
    match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    }
}

/// The migrations still to apply to a database at `current` (0 for a new one), or an error
/// when the database is newer than this build.
pub(crate) fn pending(backend: Backend, current: u32) -> Result<&'static [Migration], StoreError> {
    let all = for_backend(backend);
    let known = all.last().map_or(0, |m| m.version);
    if current > known {
        return Err(StoreError::Migrate {
            version: current,
            message: format!(
                "the {backend} database is at schema version {current} but this build of pushtrace \
                 knows versions up to {known}: run a newer pushtrace against it (or point this one \
                 at another database)"
            ),
        });
    }
    let start = all.partition_point(|m| m.version <= current);
    Ok(&all[start..])
}

pub(crate) fn failed(migration: &Migration, backend: Backend, message: String) -> StoreError {
    StoreError::Migrate {
        version: migration.version,
        message: format!(
            "{backend} migration {:04}_{}: {message} — the transaction was rolled back; fix the \
             database or report this as a bug",
            migration.version, migration.name
        ),
    }
}

/// Wall-clock time for `schema_migrations.applied_at` (informational only).
pub(crate) fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded lists must match the files on disk: a file added without its entry would
    /// never be applied.
    #[test]
    fn embedded_lists_match_the_migration_files() {
        for (dir, list) in [("sqlite", SQLITE), ("postgres", POSTGRES)] {
            let path = format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR"));
            let mut files: Vec<String> = std::fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.ends_with(".sql"))
                .collect();
            files.sort();
            let listed: Vec<String> = list
                .iter()
                .map(|m| format!("{:04}_{}.sql", m.version, m.name))
                .collect();
            assert_eq!(files, listed, "{path}");
            for pair in list.windows(2) {
                assert!(pair[0].version < pair[1].version);
            }
        }
        let versions = |l: &[Migration]| l.iter().map(|m| m.version).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES));
    }

    #[test]
    fn pending_skips_applied_and_refuses_newer() {
        assert_eq!(pending(Backend::Sqlite, 0).unwrap().len(), SQLITE.len());
        assert!(
            pending(Backend::Sqlite, SQLITE.len() as u32)
                .unwrap()
                .is_empty()
        );
        let err = pending(Backend::Postgres, 999).unwrap_err().to_string();
        assert!(err.contains("version 999"), "{err}");
        assert!(err.contains("newer pushtrace"), "{err}");
    }
}
