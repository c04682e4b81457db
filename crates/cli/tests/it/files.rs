//! Files on disk (issue #8): the data directory Trustgate creates is 0700, and the database, its
//! write-ahead log and shared-memory files and the server key are 0600, whatever the umask.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use trustgate_core::access::Access;
use trustgate_store::SqliteStore;

use crate::harness::{TempDir, TestApp};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

#[tokio::test]
async fn the_data_directory_is_0700_and_every_database_and_key_file_0600() {
    let parent = TempDir::new();
    let dir = parent.path().join("data");
    let store = SqliteStore::open(&dir).await.unwrap();
    let key = trustgate::commands::server_key(&dir).unwrap();
    let app = TestApp::start(Arc::new(store), key, TempDir::new(), None).await;
    let customer = app.customer().await;
    let owner = app.admin(&customer, Access::Full).await;
    app.token(&app.client(&customer, &owner).await).await;
    assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    for file in ["trustgate.db", "trustgate.db-wal", "trustgate.db-shm", "server.key"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
}

#[tokio::test]
async fn files_an_older_version_left_readable_by_others_are_made_private() {
    let dir = TempDir::new();
    drop(SqliteStore::open(dir.path()).await.unwrap());
    trustgate::commands::server_key(dir.path()).unwrap();
    for file in ["trustgate.db", "server.key"] {
        std::fs::set_permissions(dir.path().join(file), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    // Issue #20: a data directory an operator made 0777 beforehand is tightened too.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let _store = SqliteStore::open(dir.path()).await.unwrap();
    trustgate::commands::server_key(dir.path()).unwrap();
    for file in ["trustgate.db", "server.key"] {
        assert_eq!(mode(&dir.path().join(file)), 0o600, "{file}");
    }
    assert_eq!(mode(dir.path()), 0o700);
}
