//! The emulator, on a fresh database file per test, as the local server runs it (WAL, separate
//! reader connections).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use models::Backend;

/// Removes the test's database directory when the test ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn fresh() -> (Arc<dyn Backend>, Box<dyn std::any::Any + Send + Sync>) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "iot-api-tests-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let storage = emulator::Storage::File(dir.join("api.db"));
    let backend =
        emulator::Emulator::open(&storage, emulator::default_location()).expect("emulator opens");
    (Arc::new(backend), Box::new(TempDir(dir)))
}
