//! Moving a firmware file's bytes through the URLs the API hands out: a streamed upload with a
//! progress bar, and a streamed download checked against the file's checksum. Neither holds a
//! file in memory.

use std::path::Path;

use anyhow::{bail, Context};
use sha2::Digest;
use tokio::io::AsyncWriteExt;

/// The HTTP client for presigned URLs: rustls on ring, the workspace's one TLS stack.
pub fn http() -> anyhow::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .build()
        .context("building the HTTP client")
}

/// A running digest of one of the checksum types the catalog knows.
pub enum Hasher {
    Sha256(sha2::Sha256),
    Sha1(sha1::Sha1),
    Md5(md5::Md5),
    Crc32(crc32fast::Hasher),
}

impl Hasher {
    /// A hasher for `checksum_type` (`sha256`, `sha1`, `md5` or `crc32`).
    pub fn new(checksum_type: &str) -> anyhow::Result<Hasher> {
        Ok(match checksum_type {
            "sha256" => Hasher::Sha256(sha2::Sha256::new()),
            "sha1" => Hasher::Sha1(sha1::Sha1::new()),
            "md5" => Hasher::Md5(md5::Md5::new()),
            "crc32" => Hasher::Crc32(crc32fast::Hasher::new()),
            other => bail!("checksum type {other:?} is not one this device can check"),
        })
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha1(h) => h.update(bytes),
            Hasher::Md5(h) => h.update(bytes),
            Hasher::Crc32(h) => h.update(bytes),
        }
    }

    /// The digest in lowercase hex, as the catalog keeps checksums.
    pub fn finish(self) -> String {
        match self {
            Hasher::Sha256(h) => hex(&h.finalize()),
            Hasher::Sha1(h) => hex(&h.finalize()),
            Hasher::Md5(h) => hex(&h.finalize()),
            Hasher::Crc32(h) => format!("{:08x}", h.finalize()),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sha256 and size of a file on disk, read in chunks.
pub async fn sha256_of(path: &Path) -> anyhow::Result<(String, u64)> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Hasher::new("sha256")?;
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
    Ok((hasher.finish(), size))
}

/// What a download brought: its size and digest.
pub struct Downloaded {
    pub size: u64,
    pub digest: String,
}

/// Downloads `url` into `destination`, hashing it with `checksum_type` on the way.
pub async fn download(
    http: &reqwest::Client,
    url: &str,
    destination: &Path,
    checksum_type: &str,
) -> anyhow::Result<Downloaded> {
    let mut response = http
        .get(url)
        .send()
        .await
        .with_context(|| format!("downloading {url}"))?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        bail!("downloading {url}: {status} {body}");
    }
    let mut file = tokio::fs::File::create(destination)
        .await
        .with_context(|| format!("creating {}", destination.display()))?;
    let mut hasher = Hasher::new(checksum_type)?;
    let mut size = 0u64;
    while let Some(chunk) = response.chunk().await.context("reading the download")? {
        hasher.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    Ok(Downloaded {
        size,
        digest: hasher.finish(),
    })
}

/// PUTs `length` bytes of the file at `path` from `offset` (a part, or the whole file) to a
/// presigned `url` with exactly `headers`, calling `sent` with the size of each chunk that
/// leaves.
pub async fn upload(
    http: &reqwest::Client,
    url: &str,
    headers: &std::collections::HashMap<String, String>,
    path: &Path,
    (offset, length): (u64, u64),
    sent: impl Fn(u64) + Send + Sync + 'static,
) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let mut file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    file.seek(std::io::SeekFrom::Start(offset)).await?;
    let stream = tokio_util::io::ReaderStream::with_capacity(file.take(length), 1 << 20);
    let stream = futures_util::StreamExt::map(stream, move |chunk| {
        if let Ok(bytes) = &chunk {
            sent(bytes.len() as u64);
        }
        chunk
    });
    let mut request = http
        .put(url)
        .header(reqwest::header::CONTENT_LENGTH, length)
        .body(reqwest::Body::wrap_stream(stream));
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("uploading to {url}"))?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        bail!("the storage refused the upload: {status} {body}");
    }
    Ok(())
}
