//! The local stand-in for the S3 bucket that holds firmware bytes: objects on disk, and the
//! presigned URLs that let a client put or get one without credentials.
//!
//! An object is written to a temporary file while it is hashed, checked against the sha256 its
//! URL was signed for, synced and then renamed into place, so a crash never leaves a partial
//! object where a reader finds it. An object lives at `<dir>/objects/<key>/<sha256>`: its name is
//! its digest (the ETag), and at most one version of a key is kept. URLs carry an expiry and an
//! HMAC-SHA256 of method, key, expiry and (for a PUT) the sha256, under a secret kept beside the
//! database, so they expire as S3's do and cannot be altered.
//!
//! A multipart upload's parts land under `<dir>/incoming/parts/<uploadId>/<partNumber>`, each
//! whole or not at all; completing the upload streams them in order into a new object, hashed
//! on the way and checked like a single PUT.

use std::path::{Path, PathBuf};

use hmac::{KeyInit, Mac};
use models::digest;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;

type HmacSha256 = hmac::Hmac<Sha256>;

/// The path prefix under which the local server serves objects.
pub const ROUTE_PREFIX: &str = "/_local/objects/";

/// The largest object the local store accepts unless told otherwise: S3's limit for one PUT.
pub const DEFAULT_MAX_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// Why an object request was refused, each with the status S3 answers.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("{0}")]
    Forbidden(String),
    #[error("the body's sha256 is {actual}, not the {expected} this upload was made for; the file stays PENDING_UPLOAD")]
    BadDigest { actual: String, expected: String },
    #[error("the object is larger than this server's limit of {0} bytes (--max-file-size)")]
    TooLarge(u64),
    #[error("no object is stored at {0}")]
    NotFound(String),
    #[error("no multipart upload {0} is in progress: ask the API for a new one")]
    NoSuchUpload(String),
    #[error("the local object store failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Which request a URL allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Get,
    Put,
}

impl Access {
    fn word(self) -> &'static str {
        match self {
            Access::Get => "GET",
            Access::Put => "PUT",
        }
    }
}

/// A stored object: its file, size and sha256 (hex, also its ETag).
#[derive(Clone, Debug)]
pub struct Stored {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

pub struct Objects {
    dir: PathBuf,
    secret: Vec<u8>,
    max_size: std::sync::atomic::AtomicU64,
    public_url: std::sync::RwLock<String>,
    /// A directory made for this process alone (in-memory state), removed when it ends.
    remove_on_drop: bool,
}

impl Drop for Objects {
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Objects {
    /// The store beside a database file: `<db stem>.files/` and the secret in `<db stem>.secret`
    /// (made on first use, readable by its owner only).
    pub(crate) fn beside(database: &Path) -> std::io::Result<Objects> {
        let dir = database.with_extension("files");
        let secret = read_or_make_secret(&database.with_extension("secret"))?;
        Objects::new(dir, secret, false)
    }

    /// A store in a fresh temporary directory, removed when the store is dropped.
    pub(crate) fn temporary() -> std::io::Result<Objects> {
        let dir = std::env::temp_dir().join(format!("iot-api-objects-{}", uuid::Uuid::new_v4()));
        Objects::new(dir, random_secret(), true)
    }

    fn new(dir: PathBuf, secret: Vec<u8>, remove_on_drop: bool) -> std::io::Result<Objects> {
        std::fs::create_dir_all(dir.join("objects"))?;
        std::fs::create_dir_all(dir.join("incoming"))?;
        Ok(Objects {
            dir,
            secret,
            max_size: std::sync::atomic::AtomicU64::new(DEFAULT_MAX_SIZE),
            public_url: std::sync::RwLock::new("http://127.0.0.1:8080".into()),
            remove_on_drop,
        })
    }

    /// Where clients reach the server that serves these objects, such as `http://127.0.0.1:8080`.
    pub fn set_public_url(&self, url: &str) {
        let mut public_url = self
            .public_url
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *public_url = url.trim_end_matches('/').to_owned();
    }

    pub fn set_max_size(&self, bytes: u64) {
        self.max_size
            .store(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn max_size(&self) -> u64 {
        self.max_size.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The unsigned URL of an object, as a job document's placeholder names it.
    pub fn object_url(&self, key: &str) -> String {
        let public_url = self
            .public_url
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        format!("{public_url}{ROUTE_PREFIX}{key}")
    }

    /// The key an object URL of this store names, whatever host and port it was made under.
    pub fn key_of(url: &str) -> Option<&str> {
        url.split_once(ROUTE_PREFIX).map(|(_, key)| key)
    }

    fn signature(&self, access: Access, key: &str, expires: i64, sha256: &str) -> HmacSha256 {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.secret)
            .expect("HMAC takes a key of any length");
        mac.update(format!("{}\n{key}\n{expires}\n{sha256}", access.word()).as_bytes());
        mac
    }

    /// A URL allowing a PUT of part `number` of multipart upload `upload_id` of `key`.
    pub fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u64,
        expires: OffsetDateTime,
    ) -> String {
        let url = self.presign(
            Access::Put,
            key,
            Some(&part_binding(upload_id, number)),
            expires,
        );
        url.replacen(
            '?',
            &format!("?uploadId={upload_id}&partNumber={number}&"),
            1,
        )
    }

    /// A URL allowing `access` to `key` until `expires`; a PUT's body must have `sha256` (hex).
    pub fn presign(
        &self,
        access: Access,
        key: &str,
        sha256: Option<&str>,
        expires: OffsetDateTime,
    ) -> String {
        let expires = expires.unix_timestamp();
        let signature = self
            .signature(access, key, expires, sha256.unwrap_or(""))
            .finalize()
            .into_bytes();
        format!(
            "{}?X-Expires={expires}&X-Signature={}",
            self.object_url(key),
            digest::hex(&signature)
        )
    }

    /// Checks a request's signature and expiry. `query` is the URL's query string; `sha256` is
    /// the digest (hex) a PUT declares in its checksum header, or [`part_binding`] for a part.
    pub fn authorize(
        &self,
        access: Access,
        key: &str,
        query: &str,
        sha256: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), ObjectError> {
        let mut expires = None;
        let mut signature = None;
        for (name, value) in query.split('&').filter_map(|pair| pair.split_once('=')) {
            match name {
                "X-Expires" => expires = value.parse::<i64>().ok(),
                "X-Signature" => signature = digest::from_hex(value),
                _ => {}
            }
        }
        let (Some(expires), Some(signature)) = (expires, signature) else {
            return Err(ObjectError::Forbidden(
                "this URL is not signed: ask the API for an upload or download URL".into(),
            ));
        };
        self.signature(access, key, expires, sha256.unwrap_or(""))
            .verify_slice(&signature)
            .map_err(|_| {
                ObjectError::Forbidden(match access {
                    Access::Put => "the signature does not match: this URL allows a PUT of \
                                    exactly the bytes whose sha256 it was made for, sent in the \
                                    x-amz-checksum-sha256 header"
                        .into(),
                    Access::Get => {
                        "the signature does not match this URL's object and method".into()
                    }
                })
            })?;
        if now.unix_timestamp() > expires {
            return Err(ObjectError::Forbidden(
                "request has expired: ask the API for a new URL".into(),
            ));
        }
        Ok(())
    }

    fn key_dir(&self, key: &str) -> Result<PathBuf, ObjectError> {
        let safe = !key.is_empty()
            && key.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            });
        if !safe {
            return Err(ObjectError::NotFound(key.to_owned()));
        }
        Ok(self.dir.join("objects").join(key))
    }

    /// The object stored at `key`, if any.
    pub async fn stat(&self, key: &str) -> Result<Stored, ObjectError> {
        let dir = self.key_dir(key)?;
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ObjectError::NotFound(key.to_owned()))
            }
            Err(e) => return Err(e.into()),
        };
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.len() == 64 {
                let size = entry.metadata().await?.len();
                return Ok(Stored {
                    path: entry.path(),
                    size,
                    sha256: name,
                });
            }
        }
        Err(ObjectError::NotFound(key.to_owned()))
    }

    /// Starts writing `key`, whose bytes must hash to `sha256` (hex).
    pub async fn start_put(&self, key: &str, sha256: &str) -> Result<Incoming, ObjectError> {
        let target = self.key_dir(key)?;
        self.incoming(target, Some(sha256.to_owned()), self.max_size())
            .await
    }

    async fn incoming(
        &self,
        target: PathBuf,
        expected: Option<String>,
        max_size: u64,
    ) -> Result<Incoming, ObjectError> {
        let temp = self
            .dir
            .join("incoming")
            .join(uuid::Uuid::new_v4().to_string());
        let file = tokio::fs::File::create(&temp).await?;
        Ok(Incoming {
            file: Some(file),
            temp,
            target,
            expected,
            hasher: Sha256::new(),
            size: 0,
            max_size,
        })
    }

    fn parts_dir(&self, upload_id: &str) -> Result<PathBuf, ObjectError> {
        if uuid::Uuid::try_parse(upload_id).is_err() {
            return Err(ObjectError::NoSuchUpload(upload_id.to_owned()));
        }
        Ok(self.dir.join("incoming").join("parts").join(upload_id))
    }

    /// Starts writing part `number` of multipart upload `upload_id`; a part written again
    /// replaces the earlier one.
    pub async fn start_part(&self, upload_id: &str, number: u64) -> Result<Incoming, ObjectError> {
        let target = self.parts_dir(upload_id)?.join(number.to_string());
        let max_size = self.max_size().min(models::files::MAX_PART_SIZE);
        self.incoming(target, None, max_size).await
    }

    /// The parts of `upload_id` stored so far: (number, bytes), ascending.
    pub async fn parts(&self, upload_id: &str) -> Result<Vec<(u64, u64)>, ObjectError> {
        let mut parts = Vec::new();
        let mut entries = match tokio::fs::read_dir(self.parts_dir(upload_id)?).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(parts),
            Err(e) => return Err(e.into()),
        };
        while let Some(entry) = entries.next_entry().await? {
            if let Ok(number) = entry.file_name().to_string_lossy().parse::<u64>() {
                parts.push((number, entry.metadata().await?.len()));
            }
        }
        parts.sort_unstable();
        Ok(parts)
    }

    /// Streams parts 1 to `part_count` of `upload_id`, in order, into the object `key`, which
    /// lands only if the whole hashes to `sha256` (hex).
    pub async fn assemble(
        &self,
        key: &str,
        upload_id: &str,
        part_count: u64,
        sha256: &str,
    ) -> Result<Stored, ObjectError> {
        let dir = self.parts_dir(upload_id)?;
        let mut object = self.start_put(key, sha256).await?;
        let mut buffer = vec![0; 1024 * 1024];
        for number in 1..=part_count {
            let mut part = tokio::fs::File::open(dir.join(number.to_string())).await?;
            loop {
                let read = tokio::io::AsyncReadExt::read(&mut part, &mut buffer).await?;
                if read == 0 {
                    break;
                }
                object.write(&buffer[..read]).await?;
            }
        }
        object.finish().await
    }

    /// Removes what an earlier run left in `incoming/`: bytes of PUTs it did not finish, and the
    /// parts of multipart uploads not in `live` (completed, replaced or given up meanwhile).
    pub(crate) fn remove_leftovers(&self, live: &[String]) -> std::io::Result<()> {
        let incoming = self.dir.join("incoming");
        for entry in std::fs::read_dir(&incoming)? {
            let entry = entry?;
            if entry.file_name() != "parts" {
                std::fs::remove_file(entry.path())?;
            }
        }
        let parts = incoming.join("parts");
        if let Ok(uploads) = std::fs::read_dir(&parts) {
            for upload in uploads {
                let upload = upload?;
                let id = upload.file_name().to_string_lossy().into_owned();
                if !live.contains(&id) {
                    std::fs::remove_dir_all(upload.path())?;
                }
            }
        }
        Ok(())
    }

    /// Removes the parts of `upload_id`; none there is no error.
    pub async fn discard_parts(&self, upload_id: &str) -> Result<(), ObjectError> {
        match tokio::fs::remove_dir_all(self.parts_dir(upload_id)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Removes `key`'s object; nothing there is no error.
    pub async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        match tokio::fs::remove_dir_all(self.key_dir(key)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// What a part's URL is signed for besides method, key and expiry.
pub fn part_binding(upload_id: &str, number: u64) -> String {
    format!("part:{upload_id}:{number}")
}

/// An object (or a part) being written. Dropped before [`Incoming::finish`], it leaves nothing
/// behind.
pub struct Incoming {
    file: Option<tokio::fs::File>,
    temp: PathBuf,
    /// An object's key directory (the object is named by its digest), or a part's own path.
    target: PathBuf,
    /// The sha256 an object must have; None for a part, checked when the parts are assembled.
    expected: Option<String>,
    hasher: Sha256,
    size: u64,
    max_size: u64,
}

impl Incoming {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), ObjectError> {
        self.size += chunk.len() as u64;
        if self.size > self.max_size {
            return Err(ObjectError::TooLarge(self.max_size));
        }
        self.hasher.update(chunk);
        if let Some(file) = self.file.as_mut() {
            file.write_all(chunk).await?;
        }
        Ok(())
    }

    /// Checks the digest, syncs the bytes and moves them into place.
    pub async fn finish(mut self) -> Result<Stored, ObjectError> {
        let actual = digest::hex(&std::mem::take(&mut self.hasher).finalize());
        if let Some(expected) = self.expected.as_ref().filter(|e| **e != actual) {
            return Err(ObjectError::BadDigest {
                expected: expected.clone(),
                actual,
            });
        }
        let Some(mut file) = self.file.take() else {
            return Err(ObjectError::Io(std::io::Error::other("written twice")));
        };
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        let path = match self.expected {
            Some(_) => self.target.join(&actual),
            None => self.target.clone(),
        };
        let dir = path.parent().unwrap_or(&self.target).to_owned();
        tokio::fs::create_dir_all(&dir).await?;
        tokio::fs::rename(&self.temp, &path).await?;
        sync_dir(&dir).await?;
        Ok(Stored {
            path,
            size: self.size,
            sha256: actual,
        })
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Makes a rename durable: the directory entry is synced too.
async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    tokio::fs::File::open(dir).await?.sync_all().await
}

fn random_secret() -> Vec<u8> {
    let mut secret = Vec::with_capacity(32);
    secret.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    secret.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    secret
}

fn read_or_make_secret(path: &Path) -> std::io::Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(secret) if secret.len() >= 32 => return Ok(secret),
        Ok(_) => {
            return Err(std::io::Error::other(format!(
                "{} holds fewer than 32 bytes; delete it to make a new secret (URLs made \
                 with the old one stop working)",
                path.display()
            )))
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    let secret = random_secret();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, &secret)?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(bytes: &[u8]) -> String {
        digest::hex(&Sha256::digest(bytes))
    }

    #[tokio::test]
    async fn a_put_lands_whole_only_when_its_digest_matches() {
        let store = Objects::temporary().unwrap();
        let mut wrong = store.start_put("files/a", &sha(b"good")).await.unwrap();
        wrong.write(b"evil").await.unwrap();
        let refused = wrong.finish().await.unwrap_err().to_string();
        assert!(refused.contains("PENDING_UPLOAD"), "{refused}");
        assert!(matches!(
            store.stat("files/a").await,
            Err(ObjectError::NotFound(_))
        ));
        let mut good = store.start_put("files/a", &sha(b"good")).await.unwrap();
        good.write(b"go").await.unwrap();
        good.write(b"od").await.unwrap();
        let stored = good.finish().await.unwrap();
        assert_eq!(stored.size, 4);
        assert_eq!(store.stat("files/a").await.unwrap().sha256, sha(b"good"));
        let incoming = std::fs::read_dir(store.dir.join("incoming"))
            .unwrap()
            .count();
        assert_eq!(incoming, 0, "no temporary file is left behind");
    }

    #[tokio::test]
    async fn parts_are_assembled_in_order_and_checked_whole() {
        let store = Objects::temporary().unwrap();
        let upload = uuid::Uuid::new_v4().to_string();
        for (number, bytes) in [(2, b"dle".as_slice()), (1, b"mid"), (3, b"!")] {
            let mut part = store.start_part(&upload, number).await.unwrap();
            part.write(bytes).await.unwrap();
            part.finish().await.unwrap();
        }
        assert_eq!(
            store.parts(&upload).await.unwrap(),
            [(1, 3), (2, 3), (3, 1)]
        );
        let wrong = store.assemble("files/p", &upload, 3, &sha(b"middle")).await;
        assert!(matches!(wrong, Err(ObjectError::BadDigest { .. })));
        assert!(
            store.stat("files/p").await.is_err(),
            "no object from wrong bytes"
        );
        let stored = store
            .assemble("files/p", &upload, 3, &sha(b"middle!"))
            .await
            .unwrap();
        assert_eq!((stored.size, stored.sha256), (7, sha(b"middle!")));
        let mut left = store.start_part(&upload, 4).await.unwrap();
        left.write(b"?").await.unwrap();
        std::mem::forget(left);
        store
            .remove_leftovers(std::slice::from_ref(&upload))
            .unwrap();
        assert_eq!(
            store.parts(&upload).await.unwrap().len(),
            3,
            "live parts stay"
        );
        let temporary = std::fs::read_dir(store.dir.join("incoming"))
            .unwrap()
            .count();
        assert_eq!(temporary, 1, "only the parts folder is left");
        store.remove_leftovers(&[]).unwrap();
        assert!(store.parts(&upload).await.unwrap().is_empty());
        assert!(
            store.start_part("../x", 1).await.is_err(),
            "upload ids are UUIDs"
        );
    }

    #[tokio::test]
    async fn a_put_beyond_the_size_limit_is_refused() {
        let store = Objects::temporary().unwrap();
        store.set_max_size(3);
        let mut put = store.start_put("files/b", &sha(b"four")).await.unwrap();
        assert!(matches!(
            put.write(b"four").await,
            Err(ObjectError::TooLarge(3))
        ));
    }

    #[test]
    fn urls_are_bound_to_method_key_digest_and_time() {
        let store = Objects::temporary().unwrap();
        let now = OffsetDateTime::now_utc();
        let later = now + time::Duration::minutes(5);
        let url = store.presign(Access::Put, "files/c", Some("ab"), later);
        let query = url.split_once('?').unwrap().1;
        assert_eq!(
            Objects::key_of(&store.object_url("files/c")),
            Some("files/c")
        );
        store
            .authorize(Access::Put, "files/c", query, Some("ab"), now)
            .unwrap();
        for (access, key, digest, at) in [
            (Access::Get, "files/c", Some("ab"), now),
            (Access::Put, "files/d", Some("ab"), now),
            (Access::Put, "files/c", Some("cd"), now),
            (
                Access::Put,
                "files/c",
                Some("ab"),
                later + time::Duration::seconds(1),
            ),
        ] {
            assert!(
                matches!(
                    store.authorize(access, key, query, digest, at),
                    Err(ObjectError::Forbidden(_))
                ),
                "{access:?} {key} {digest:?}"
            );
        }
    }

    #[test]
    fn a_part_url_allows_only_its_own_part() {
        let store = Objects::temporary().unwrap();
        let now = OffsetDateTime::now_utc();
        let upload = uuid::Uuid::new_v4().to_string();
        let url = store.presign_part("files/e", &upload, 2, now + time::Duration::minutes(5));
        let query = url.split_once('?').unwrap().1;
        assert!(
            query.starts_with(&format!("uploadId={upload}&partNumber=2&")),
            "{url}"
        );
        let allowed = |number: u64, key: &str| {
            let binding = part_binding(&upload, number);
            store.authorize(Access::Put, key, query, Some(&binding), now)
        };
        allowed(2, "files/e").unwrap();
        assert!(matches!(
            allowed(3, "files/e"),
            Err(ObjectError::Forbidden(_))
        ));
        assert!(matches!(
            allowed(2, "files/f"),
            Err(ObjectError::Forbidden(_))
        ));
    }

    #[test]
    fn keys_cannot_leave_the_store() {
        let store = Objects::temporary().unwrap();
        for key in ["../x", "files/../../x", "", "files//x", "a b"] {
            assert!(store.key_dir(key).is_err(), "{key}");
        }
    }
}
