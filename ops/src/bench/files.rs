//! `cargo xtask bench files`: a large firmware file up and down through the release local
//! server's signed URLs, with the server's memory watched. The bytes are generated as they are
//! sent (no file of that size is written by the bench itself) and the download is counted and
//! hashed as it arrives, so the figures are the server's streaming, hashing and disk.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use sha2::Digest;

use super::{machine, prepare};
use crate::transfer;
use xtask::local_server::{LocalServer, Profile};

#[derive(clap::Args)]
pub struct Args {
    /// Size of the file, in MiB.
    #[arg(long, default_value_t = 1024)]
    size_mib: u64,
}

const MIB: u64 = 1024 * 1024;

/// Deterministic bytes: chunk `i` of 1 MiB is a fixed pseudo-random block with `i` in its
/// first 8 bytes, so no two chunks are alike and nothing compresses.
fn chunk(block: &[u8], i: u64) -> bytes::Bytes {
    let mut chunk = block.to_vec();
    chunk[..8].copy_from_slice(&i.to_le_bytes());
    bytes::Bytes::from(chunk)
}

fn block() -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..MIB)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn mb_per_second(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64()
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = prepare()?;
    let server = LocalServer::start(Profile::Release)?;
    println!(
        "Command: `cargo xtask bench files` ({} MiB file, release server, database and files in the temporary directory)\n",
        args.size_mib
    );
    runtime.block_on(measure(&server, args.size_mib))
}

async fn post(
    http: &reqwest::Client,
    url: String,
    body: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let reply = http.post(&url).json(&body).send().await?;
    let status = reply.status();
    let value: serde_json::Value = reply.json().await?;
    if !status.is_success() {
        bail!("{url}: {status} {value}");
    }
    Ok(value)
}

async fn measure(server: &LocalServer, size_mib: u64) -> anyhow::Result<()> {
    let url = server.url();
    let http = transfer::http()?;
    let block = block();
    let size = size_mib * MIB;
    let mut sha = sha2::Sha256::new();
    for i in 0..size_mib {
        sha.update(chunk(&block, i));
    }
    let checksum: String = sha.finalize().iter().map(|b| format!("{b:02x}")).collect();

    let category = post(
        &http,
        format!("{url}/categories"),
        serde_json::json!({"name": "bench"}),
    )
    .await?;
    let category = category["category"]["categoryId"].clone();
    let files = post(
        &http,
        format!("{url}/files"),
        serde_json::json!({"files": [{"categoryId": category, "version": "1.0", "locale": "en", "checksum": checksum}]}),
    )
    .await?;
    let id = files["files"][0]["fileId"]
        .as_str()
        .context("no fileId")?
        .to_owned();
    let upload = post(
        &http,
        format!("{url}/files/by-id/{id}/upload"),
        serde_json::json!({"size": size}),
    )
    .await?;
    let upload = &upload["upload"];
    let put_url = upload["url"].as_str().context("no upload url")?;

    let rss_before = super::memory_kib(server.pid(), "VmRSS")?;
    let block_for_stream = block.clone();
    let stream = futures_util::stream::iter(
        (0..size_mib).map(move |i| Ok::<_, std::io::Error>(chunk(&block_for_stream, i))),
    );
    let mut request = http
        .put(put_url)
        .header(reqwest::header::CONTENT_LENGTH, size)
        .body(reqwest::Body::wrap_stream(stream));
    for (name, value) in upload["headers"].as_object().context("no headers")? {
        request = request.header(name.as_str(), value.as_str().unwrap_or_default());
    }
    let started = Instant::now();
    let reply = request.send().await?;
    let upload_time = started.elapsed();
    if !reply.status().is_success() {
        bail!(
            "the upload was refused: {} {}",
            reply.status(),
            reply.text().await?
        );
    }
    let completed = http
        .post(format!("{url}/files/by-id/{id}/upload/complete"))
        .send()
        .await?;
    if !completed.status().is_success() {
        bail!("completing the upload: {}", completed.text().await?);
    }

    let download: serde_json::Value = http
        .get(format!("{url}/files/by-id/{id}/download"))
        .send()
        .await?
        .json()
        .await?;
    let get_url = download["download"]["url"]
        .as_str()
        .context("no download url")?;
    let started = Instant::now();
    let mut response = http.get(get_url).send().await?;
    let mut received = 0u64;
    let mut sha = sha2::Sha256::new();
    while let Some(piece) = response.chunk().await? {
        received += piece.len() as u64;
        sha.update(&piece);
    }
    let download_time = started.elapsed();
    let received_checksum: String = sha.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if received != size || received_checksum != checksum {
        bail!("the download brought {received} bytes with sha256 {received_checksum}, not the file uploaded");
    }
    let peak = super::memory_kib(server.pid(), "VmHWM")?;

    println!("{}\n", machine());
    println!("| {size_mib} MiB file | time | throughput |");
    println!("|---|---|---|");
    println!(
        "| upload (PUT, hashed and synced by the server) | {:.2} s | {:.0} MB/s |",
        upload_time.as_secs_f64(),
        mb_per_second(size, upload_time)
    );
    println!(
        "| download (GET, hashed by the client) | {:.2} s | {:.0} MB/s |",
        download_time.as_secs_f64(),
        mb_per_second(size, download_time)
    );
    println!(
        "\nServer memory: {:.1} MB resident before the upload, {:.1} MB at its peak (growth {:.1} MB).",
        rss_before as f64 / 1024.0,
        peak as f64 / 1024.0,
        peak.saturating_sub(rss_before) as f64 / 1024.0
    );
    Ok(())
}
