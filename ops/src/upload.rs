//! `cargo xtask upload`: a firmware file into the catalog, in one command. It hashes the file,
//! finds (or makes) its category, registers it, uploads its bytes through the presigned URL the
//! API gives with a progress bar (in parts, four at a time, when the file is larger than one PUT
//! carries or `--part-size` asks), has the API verify them, and publishes the file if asked;
//! against the local server or a deployed stack, through the typed client.

use std::path::PathBuf;

use anyhow::{bail, Context};
use client::types;
use models::files::{CategoryId, CategoryName};

use crate::api::ApiArgs;
use crate::transfer;

#[derive(clap::Args)]
pub struct Args {
    /// The firmware file to upload.
    file: PathBuf,
    /// The category, as a path of names from a root (`firmware/lamps`; missing ones are made)
    /// or a category id.
    #[arg(long)]
    category: String,
    /// The file's version (`[A-Za-z0-9._+-]`, 1 to 64 characters).
    #[arg(long)]
    version: String,
    /// The file's locale.
    #[arg(long, default_value = "en-US")]
    locale: String,
    /// A one-line summary of the file.
    #[arg(long, default_value = "")]
    summary: String,
    /// Publish the file once its bytes are verified, so jobs may deliver it.
    #[arg(long)]
    publish: bool,
    /// Upload in parts of this many bytes (5 MiB to 5 GiB), four at a time. Files larger than
    /// one PUT carries (5 GiB) are uploaded in parts of the API's choosing without it.
    #[arg(long)]
    part_size: Option<u64>,
    #[command(flatten)]
    api: ApiArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(async {
        let file = upload(&args.api.client().await?, &args).await?;
        println!("{}", serde_json::to_string_pretty(&file)?);
        Ok(())
    })
}

fn api_error<E: std::fmt::Debug>(
    doing: &str,
) -> impl FnOnce(client::Error<E>) -> anyhow::Error + '_ {
    move |e| match e {
        client::Error::ErrorResponse(reply) => {
            anyhow::anyhow!("{doing}: {} {:?}", reply.status(), reply.into_inner())
        }
        other => anyhow::anyhow!("{doing}: {other}"),
    }
}

/// The category a `--category` names, made when a name on its path is missing.
async fn category(api: &client::Client, given: &str) -> anyhow::Result<String> {
    if CategoryId::parse(given).is_ok() {
        api.describe_category()
            .category_id(given)
            .send()
            .await
            .map_err(api_error(&format!("finding category {given}")))?;
        return Ok(given.to_owned());
    }
    let mut parent: Option<CategoryId> = None;
    for name in given.split('/').filter(|n| !n.is_empty()) {
        let name =
            CategoryName::parse(name).map_err(|e| anyhow::anyhow!("--category: {name:?} {e}"))?;
        let id = CategoryId::derive(&name, parent.as_ref());
        let found = api
            .describe_category()
            .category_id(id.as_str())
            .send()
            .await;
        match found {
            Ok(_) => {}
            Err(client::Error::ErrorResponse(reply)) if reply.status() == 404 => {
                let parent_id = parent
                    .as_ref()
                    .map(|p| types::CategoryId::try_from(p.to_string()))
                    .transpose()
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                api.create_category()
                    .body_map(|b| b.name(name.to_string()).parent_id(parent_id))
                    .send()
                    .await
                    .map_err(api_error(&format!("creating category {name}")))?;
                eprintln!("created category {name} ({id})");
            }
            Err(e) => return Err(api_error(&format!("finding category {name}"))(e)),
        }
        parent = Some(id);
    }
    parent
        .map(|p| p.to_string())
        .context("--category names no category")
}

/// The most bytes one PUT carries (S3's limit); larger files go in parts.
const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// How many parts are in flight at once.
const PARALLEL_PARTS: usize = 4;

/// Sends the file in parts through the URLs of a multipart upload, a few at a time.
async fn upload_parts(
    api: &client::Client,
    file_id: &str,
    args: &Args,
    size: std::num::NonZeroU64,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<()> {
    use futures_util::{StreamExt, TryStreamExt};
    let part_size = args
        .part_size
        .map(i64::try_from)
        .transpose()
        .context("--part-size is larger than any part")?;
    let upload = api
        .start_multipart_upload()
        .file_id(file_id)
        .body_map(|b| b.size(size).part_size(part_size))
        .send()
        .await
        .map_err(api_error("starting the multipart upload"))?
        .into_inner()
        .upload;
    eprintln!(
        "uploading {} parts of {} bytes",
        upload.part_count, upload.part_size
    );
    let http = transfer::http()?;
    let part_size = upload.part_size as u64;
    futures_util::stream::iter(upload.parts)
        .map(|part| {
            let (http, shown) = (http.clone(), bar.clone());
            let offset = (part.part_number.get() - 1) * part_size;
            async move {
                transfer::upload(
                    &http,
                    &part.url,
                    &part.headers,
                    &args.file,
                    (offset, part.size.get()),
                    move |sent| shown.inc(sent),
                )
                .await
                .with_context(|| format!("part {}", part.part_number))
            }
        })
        .buffer_unordered(PARALLEL_PARTS)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

async fn upload(api: &client::Client, args: &Args) -> anyhow::Result<types::File> {
    eprintln!("hashing {}", args.file.display());
    let (sha256, size) = transfer::sha256_of(&args.file).await?;
    let Some(declared_size) = std::num::NonZeroU64::new(size) else {
        bail!(
            "{} is empty: a firmware file has at least one byte",
            args.file.display()
        );
    };
    let category = category(api, &args.category).await?;
    let new_file = types::NewFile::builder()
        .category_id(category)
        .version(args.version.clone())
        .locale(args.locale.clone())
        .checksum(sha256.clone())
        .checksum_type(types::ChecksumType::Sha256)
        .summary(Some(
            args.summary
                .clone()
                .try_into()
                .map_err(|e| anyhow::anyhow!("--summary: {e}"))?,
        ));
    let new_file = types::NewFile::try_from(new_file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let created = api
        .create_files()
        .body_map(|b| b.files(vec![new_file]))
        .send()
        .await
        .map_err(api_error("registering the file"))?
        .into_inner();
    let file_id = created
        .files
        .first()
        .context("the API registered no file")?
        .file_id
        .to_string();
    eprintln!("registered file {file_id} (sha256 {sha256}, {size} bytes)");
    let bar = indicatif::ProgressBar::new(size).with_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    if args.part_size.is_some() || size > MAX_SINGLE_PUT {
        upload_parts(api, &file_id, args, declared_size, &bar).await?;
    } else {
        let upload = api
            .start_file_upload()
            .file_id(file_id.as_str())
            .body_map(|b| b.size(declared_size))
            .send()
            .await
            .map_err(api_error("asking for the upload URL"))?
            .into_inner()
            .upload;
        let shown = bar.clone();
        transfer::upload(
            &transfer::http()?,
            &upload.url,
            &upload.headers,
            &args.file,
            (0, size),
            move |sent| shown.inc(sent),
        )
        .await?;
    }
    bar.finish();
    let mut file = api
        .complete_file_upload()
        .file_id(file_id.as_str())
        .send()
        .await
        .map_err(api_error("completing the upload"))?
        .into_inner()
        .file;
    while file.state == types::FileState::Verifying {
        eprintln!("the API is reading the parts back to check their sha256...");
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        file = api
            .describe_file()
            .file_id(file_id.as_str())
            .send()
            .await
            .map_err(api_error("reading the file"))?
            .into_inner()
            .file;
    }
    if let Some(why) = &file.upload_error {
        bail!("the API refused the bytes of file {file_id}: {why}");
    }
    eprintln!("verified: {} is {}", file_id, file.state);
    if args.publish {
        file = api
            .publish_file()
            .file_id(file_id.as_str())
            .send()
            .await
            .map_err(api_error("publishing the file"))?
            .into_inner()
            .file;
        eprintln!("published {file_id}");
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use aws_sdk_iotjobsdataplane::types::JobExecutionStatus;
    use clap::Parser;

    use super::*;
    use crate::device::{client as device_client, Device};
    use crate::testing::local_server;
    use client::Signer;

    /// The command's arguments, as a shell gives them.
    fn parsed(args: &[&str]) -> Args {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        Cli::parse_from(std::iter::once("upload").chain(args.iter().copied())).args
    }

    /// A file too large for one part, sent in parts of 5 MiB four at a time, put together and
    /// verified by the server.
    #[tokio::test]
    async fn a_file_goes_up_in_parts_when_asked() {
        let (url, _) = local_server().await;
        let dir = std::env::temp_dir().join(format!("iot-api-parts-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let firmware = dir.join("gateway-1.0.bin");
        let bytes: Vec<u8> = (0..(11 << 20) + 5u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&firmware, &bytes).unwrap();
        let args = parsed(&[
            firmware.to_str().unwrap(),
            "--category",
            "firmware/gateways",
            "--version",
            "1.0",
            "--part-size",
            "5242880",
        ]);
        let file = upload(&client::connect(&url, Signer::None), &args)
            .await
            .unwrap();
        assert_eq!(file.state, types::FileState::Draft);
        assert!(file.verified);
        assert_eq!(file.size, Some(bytes.len() as i64));
        let too_small = parsed(&[
            firmware.to_str().unwrap(),
            "--category",
            "firmware/gateways",
            "--version",
            "1.1",
            "--part-size",
            "1024",
        ]);
        let refused = upload(&client::connect(&url, Signer::None), &too_small)
            .await
            .unwrap_err();
        assert!(format!("{refused:#}").contains("partSize"), "{refused:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Upload, publish, a job naming the file, a device taking it through AWS's jobs SDK,
    /// downloading through the URL it was given and checking the sha256: SUCCEEDED.
    #[tokio::test]
    async fn an_uploaded_file_reaches_a_device_whole() {
        let (url, endpoint) = local_server().await;
        let dir = std::env::temp_dir().join(format!("iot-api-upload-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let firmware = dir.join("lamp-2.1.bin");
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&firmware, &bytes).unwrap();
        let args = parsed(&[
            firmware.to_str().unwrap(),
            "--category",
            "firmware/lamps",
            "--version",
            "2.1.0",
            "--publish",
        ]);
        let api_client = client::connect(&url, Signer::None);
        let file = upload(&api_client, &args).await.unwrap();
        assert_eq!(file.state, types::FileState::Published);
        assert!(file.verified);
        assert_eq!(file.size, Some(bytes.len() as i64));

        let http = transfer::http().unwrap();
        let call = |path: &'static str, body: serde_json::Value| {
            let request = http.post(format!("{url}{path}")).json(&body);
            async move {
                let reply = request.send().await.unwrap();
                let status = reply.status();
                let text = reply.text().await.unwrap();
                assert!(status.is_success(), "{path}: {status} {text}");
            }
        };
        let get = |address: String| {
            let request = http.get(address);
            async move {
                let reply: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
                reply
            }
        };
        call("/things", serde_json::json!({"thingName": "lamp-1"})).await;
        call(
            "/jobs",
            serde_json::json!({
                "jobId": "lamp-2-1",
                "targets": ["lamp-1"],
                "document": "{\"operation\":\"update\"}",
                "files": [file.file_id.to_string()],
            }),
        )
        .await;

        let data_plane = device_client(&endpoint);
        let device = Device {
            client: &data_plane,
            thing: "lamp-1",
            downloads: &dir.join("device"),
        };
        let mut lines = Vec::new();
        device
            .drive(JobExecutionStatus::Succeeded, 1, &mut |l| lines.push(l))
            .await
            .unwrap();
        assert!(
            lines.iter().any(|l| l.contains("sha256 verified")),
            "{lines:?}"
        );
        assert_eq!(
            std::fs::read(dir.join("device").join(file.file_id.to_string())).unwrap(),
            bytes
        );
        let execution = get(format!("{url}/jobs/lamp-2-1/things/lamp-1")).await;
        assert_eq!(execution["execution"]["status"], "SUCCEEDED");

        // A document whose checksum does not match the bytes: the device fails the job, saying why.
        let download = get(format!(
            "{url}/files/by-id/{}/download",
            file.file_id.as_str()
        ))
        .await;
        let document = serde_json::json!({"files": [{
            "fileId": file.file_id.to_string(),
            "url": download["download"]["url"],
            "checksum": "0".repeat(64),
            "checksumType": "sha256",
        }]});
        call(
            "/jobs",
            serde_json::json!({"jobId": "tampered", "targets": ["lamp-1"], "document": document.to_string()}),
        )
        .await;
        lines.clear();
        device
            .drive(JobExecutionStatus::Succeeded, 1, &mut |l| lines.push(l))
            .await
            .unwrap();
        assert!(lines.last().unwrap().contains("FAILED: file"), "{lines:?}");
        let execution = get(format!("{url}/jobs/tampered/things/lamp-1")).await;
        assert_eq!(execution["execution"]["status"], "FAILED");
        let reason = execution["execution"]["statusDetails"]["detailsMap"]["reason"]
            .as_str()
            .unwrap();
        assert!(reason.contains("expected 0000"), "{reason}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
