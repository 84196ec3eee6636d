//! The AWS backend against the moto server of `IOT_API_MOTO_URL`, reset before each test. moto
//! is one shared server, so tests take turns.

use std::sync::{Arc, Condvar, Mutex};

use aws_backend::AwsIot;
use models::ids::{JobId, Location, ThingName};
use models::job::ExecutionStatus;

use crate::helpers::{Device, Fresh};

static TURN: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());

/// Holds moto for one test; the next test may start when it is dropped.
struct Turn;

impl Turn {
    fn take() -> Turn {
        let (busy, freed) = &TURN;
        let mut busy = busy.lock().unwrap_or_else(|p| p.into_inner());
        while *busy {
            busy = freed.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
        *busy = true;
        Turn
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let (busy, freed) = &TURN;
        *busy.lock().unwrap_or_else(|p| p.into_inner()) = false;
        freed.notify_one();
    }
}

fn moto_url() -> String {
    std::env::var("IOT_API_MOTO_URL")
        .expect("IOT_API_MOTO_URL is not set: run the tests with `cargo xtask test`, which starts a moto server")
}

/// Empties moto: `POST /moto-api/reset`.
fn reset(url: &str) {
    use std::io::{Read, Write};
    let address = url.trim_start_matches("http://");
    let mut stream =
        std::net::TcpStream::connect(address).unwrap_or_else(|e| panic!("moto at {url}: {e}"));
    write!(stream, "POST /moto-api/reset HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(
        reply.starts_with("HTTP/1.1 200"),
        "moto reset failed: {reply}"
    );
}

/// The SDK configuration that reaches moto.
fn moto_config(url: String) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .http_client(aws_backend::http_client())
        .credentials_provider(aws_sdk_iot::config::SharedCredentialsProvider::new(
            aws_sdk_iot::config::Credentials::new("moto", "moto", None, None, "moto"),
        ))
        .build()
}

/// S3 and DynamoDB clients on moto, to do what moto keeps the API from doing there.
pub fn moto_catalog_clients() -> (aws_sdk_s3::Client, aws_sdk_dynamodb::Client) {
    let config = moto_config(moto_url());
    (s3_client(&config), aws_sdk_dynamodb::Client::new(&config))
}

/// An IoT client on moto, to set up what the API cannot make there.
pub fn moto_iot() -> aws_sdk_iot::Client {
    aws_sdk_iot::Client::new(&moto_config(moto_url()))
}

/// A device speaking AWS's jobs data plane (moto has none: the tests that need a device are
/// ignored on moto, and `mocked` covers what they check).
/// It also plays S3's notification of a completed multipart upload, which starts the verifier.
struct DataPlaneDevice(aws_sdk_iotjobsdataplane::Client, Arc<AwsIot>);

#[async_trait::async_trait]
impl Device for DataPlaneDevice {
    async fn report(&self, job: JobId, thing: ThingName, status: ExecutionStatus) {
        self.0
            .update_job_execution()
            .job_id(job.as_str())
            .thing_name(thing.as_str())
            .status(aws_sdk_iotjobsdataplane::types::JobExecutionStatus::from(
                status.as_str(),
            ))
            .send()
            .await
            .expect("the device's report is taken");
    }

    async fn upload_completed(&self, file_id: &str) {
        let verdict = self.1.verify_upload(&format!("files/{file_id}")).await;
        assert!(
            !matches!(verdict, Ok(aws_backend::Verification::Ignored(_)) | Err(_)),
            "the verifier did nothing: {verdict:?}"
        );
    }
}

/// The catalog's table and bucket on moto for this test.
pub const TABLE: &str = "iot-api-files";
pub const BUCKET: &str = "iot-api-files";
const PRESIGN_ROLE: &str = "arn:aws:iam::000000000000:role/iot-api-presign";

/// Creates the catalog's table as the stack's template defines it (keys, indexes, billing), and
/// its bucket, on moto. Runs on a thread of its own: tests are already inside a runtime.
fn create_catalog(config: aws_config::SdkConfig) {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let template: serde_json::Value =
                serde_json::from_str(include_str!("../../../../infra/template.json")).unwrap();
            let properties = &template["Resources"]["FilesTable"]["Properties"];
            let dynamodb = aws_sdk_dynamodb::Client::new(&config);
            crate::catalog_table::create_table(&dynamodb, TABLE, properties).await;
            let s3 = s3_client(&config);
            s3.create_bucket().bucket(BUCKET).send().await.unwrap();
        });
    })
    .join()
    .unwrap();
}

/// An S3 client on moto, which addresses buckets in the path.
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

pub fn fresh() -> Fresh {
    let url = moto_url();
    let turn = Turn::take();
    reset(&url);
    let config = moto_config(url);
    create_catalog(config.clone());
    let location = Location {
        region: "us-east-1".into(),
        account: "000000000000".into(),
    };
    let jobs = aws_sdk_iotjobsdataplane::Client::new(&config);
    let backend = Arc::new(
        AwsIot::new(config, location).with_files(aws_backend::FileStorage {
            table: TABLE.into(),
            bucket: BUCKET.into(),
            presign_role_arn: PRESIGN_ROLE.into(),
            path_style: true,
        }),
    );
    let device = DataPlaneDevice(jobs, Arc::clone(&backend));
    Fresh {
        backend,
        device: Arc::new(device),
        isolation: Box::new(turn),
        objects: None,
    }
}
