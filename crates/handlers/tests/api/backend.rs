//! The emulator, on a fresh database file per test, as the local server runs it (WAL, separate
//! reader connections).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use emulator::Emulator;
use models::device::{DeviceUpdate, JobsDataPlane};
use models::ids::{JobId, ThingName};
use models::job::ExecutionStatus;

use crate::helpers::{Device, Fresh};

/// Removes the test's database directory when the test ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The emulator's own device endpoint logic, as the local server's device port runs it.
struct EmulatedDevice(Arc<Emulator>);

#[async_trait::async_trait]
impl Device for EmulatedDevice {
    async fn report(&self, job: JobId, thing: ThingName, status: ExecutionStatus) {
        self.0
            .update_device_execution(DeviceUpdate {
                job_id: job,
                thing_name: thing,
                status,
                status_details: None,
                step_timeout_in_minutes: None,
                expected_version: None,
                execution_number: None,
                include_job_execution_state: false,
                include_job_document: false,
            })
            .await
            .expect("the device's report is taken");
    }
}

pub fn fresh() -> Fresh {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "iot-api-tests-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let storage = emulator::Storage::File(dir.join("api.db"));
    let backend =
        Arc::new(Emulator::open(&storage, emulator::default_location()).expect("emulator opens"));
    let device = Arc::new(EmulatedDevice(Arc::clone(&backend)));
    Fresh {
        objects: Some(server::objects::router(Arc::clone(&backend))),
        backend,
        device,
        isolation: Box::new(TempDir(dir)),
    }
}
