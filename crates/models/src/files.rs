//! The firmware catalog: categories, files and their lifecycle, the bodies that change them, and
//! how a file's bytes travel (presigned uploads and downloads, and job documents that name them).

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::DomainError;

/// Most items one batch body (`POST`, `PUT` or `DELETE /files`) may carry; a batch is applied
/// whole or not at all, and DynamoDB's transactions hold at most 100 items (two per file).
pub const MAX_BATCH: usize = 25;

/// The shortest and longest time a download URL may live, as AWS IoT's `presignedUrlConfig`.
pub const URL_EXPIRY_SECONDS: std::ops::RangeInclusive<i64> = 60..=3600;

/// How long an upload or download URL lives when the request names no time.
pub const DEFAULT_URL_EXPIRY_SECONDS: i64 = 3600;

/// The AWS IoT placeholder a job document carries where a device is to find a presigned URL:
/// `${aws:iot:s3-presigned-url-v2:<object url>}`. AWS IoT (and the local device endpoint) replace
/// it with a presigned GET when a device reads the job, if the job has a `presignedUrlConfig`.
pub const PLACEHOLDER_PREFIX: &str = "${aws:iot:s3-presigned-url-v2:";

/// Checks a value's length in characters and that `allowed` takes each character, `rule` saying
/// which ones it takes.
fn check_text(
    value: &str,
    (min, max): (usize, usize),
    allowed: fn(char) -> bool,
    rule: &str,
) -> Result<(), String> {
    let len = value.chars().count();
    if !(min..=max).contains(&len) {
        return Err(format!("must be {min} to {max} characters long, got {len}"));
    }
    if let Some(bad) = value.chars().find(|c| !allowed(*c)) {
        return Err(format!("must be {rule} (found {bad:?})"));
    }
    Ok(())
}

macro_rules! text_field {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr, $allowed:expr, $rule:literal) => {
        checked_string!($(#[$doc])* $name, $max, |v| check_text(v, ($min, $max), $allowed, $rule));
    };
}

fn is_lower_hex(c: char) -> bool {
    c.is_ascii_digit() || ('a'..='f').contains(&c)
}

text_field!(
    /// A category's id: the md5 of its name (a root) or of `parentId-name`, in lowercase hex, as
    /// the original package made it, so clients that computed ids still find their categories.
    CategoryId, 32, 32, is_lower_hex, "32 lowercase hexadecimal digits (an md5)"
);
text_field!(
    /// A file's id: a UUID in lowercase, given by the API when the file is registered.
    FileId, 36, 36, |c| is_lower_hex(c) || c == '-', "a lowercase UUID"
);
text_field!(
    /// A category's name: 1 to 128 characters, no control characters.
    CategoryName, 1, 128, |c| !c.is_control(), "free of control characters"
);
text_field!(
    /// A file's version: 1 to 64 of `[A-Za-z0-9._+-]`, so it is one path segment as it is.
    FileVersion, 1, 64, |c| c.is_ascii_alphanumeric() || "._+-".contains(c), "of [A-Za-z0-9._+-]"
);
text_field!(
    /// A locale such as `en-US`: 1 to 35 of `[A-Za-z0-9_-]`.
    Locale, 1, 35, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_', "of [A-Za-z0-9_-]"
);
text_field!(
    /// A file's summary: up to 256 characters, empty allowed, no control characters.
    Summary, 0, 256, |c| !c.is_control(), "free of control characters"
);
text_field!(
    /// A category's or file's description: up to 2048 characters, empty allowed, no control
    /// characters.
    Description, 0, 2048, |c| !c.is_control(), "free of control characters"
);

impl CategoryId {
    /// The deterministic id of a category named `name` under `parent` (or at the root).
    pub fn derive(name: &CategoryName, parent: Option<&CategoryId>) -> CategoryId {
        let input = match parent {
            Some(parent) => format!("{parent}-{name}"),
            None => name.to_string(),
        };
        CategoryId(crate::digest::md5_hex(input.as_bytes()))
    }
}

impl FileId {
    /// Wraps a freshly generated UUID's text.
    pub fn from_uuid(uuid: &str) -> Result<FileId, String> {
        FileId::parse(uuid.to_ascii_lowercase())
    }
}

/// How a file's checksum was computed. Files uploaded through the API are verified with sha256.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumType {
    Md5,
    Crc32,
    Sha1,
    #[default]
    Sha256,
}

impl ChecksumType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumType::Md5 => "md5",
            ChecksumType::Crc32 => "crc32",
            ChecksumType::Sha1 => "sha1",
            ChecksumType::Sha256 => "sha256",
        }
    }

    pub fn parse(text: &str) -> Option<ChecksumType> {
        [Self::Md5, Self::Crc32, Self::Sha1, Self::Sha256]
            .into_iter()
            .find(|t| t.as_str() == text)
    }

    /// How many hexadecimal digits a checksum of this type has.
    pub fn hex_len(self) -> usize {
        match self {
            ChecksumType::Md5 => 32,
            ChecksumType::Crc32 => 8,
            ChecksumType::Sha1 => 40,
            ChecksumType::Sha256 => 64,
        }
    }
}

text_field!(
    /// A checksum in lowercase hexadecimal; its length is checked against its type.
    Checksum, 8, 64, is_lower_hex, "lowercase hexadecimal"
);

/// Where a file stands. Uploaded files start PENDING_UPLOAD and become DRAFT once their bytes
/// are verified; a multipart upload on AWS is VERIFYING while its object is read back and hashed.
/// Files registered with an external location start DRAFT. Only PUBLISHED and DEPRECATED files
/// may be delivered by jobs; a published file's content and checksum are frozen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FileState {
    PendingUpload,
    Verifying,
    Draft,
    Published,
    Deprecated,
}

impl FileState {
    pub fn as_str(self) -> &'static str {
        match self {
            FileState::PendingUpload => "PENDING_UPLOAD",
            FileState::Verifying => "VERIFYING",
            FileState::Draft => "DRAFT",
            FileState::Published => "PUBLISHED",
            FileState::Deprecated => "DEPRECATED",
        }
    }

    pub fn parse(text: &str) -> Option<FileState> {
        [
            Self::PendingUpload,
            Self::Verifying,
            Self::Draft,
            Self::Published,
            Self::Deprecated,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether a job may deliver a file in this state.
    pub fn deliverable(self) -> bool {
        matches!(self, FileState::Published | FileState::Deprecated)
    }
}

/// A lifecycle step of `PUT /files/by-id/{fileId}/publish` or `.../deprecate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    Publish,
    Deprecate,
}

impl Transition {
    /// The state a file must be in for this step, and the state it moves to.
    pub fn states(self) -> (FileState, FileState) {
        match self {
            Transition::Publish => (FileState::Draft, FileState::Published),
            Transition::Deprecate => (FileState::Published, FileState::Deprecated),
        }
    }

    /// The refusal for a file in `state`, or None when the step applies.
    pub fn refuse(self, file_id: &FileId, state: FileState) -> Option<DomainError> {
        let (from, _) = self.states();
        if state == from {
            return None;
        }
        let why = match (self, state) {
            (Transition::Publish, FileState::PendingUpload) => {
                "its bytes have not been uploaded and verified yet; upload them first".to_owned()
            }
            (Transition::Publish, FileState::Verifying) => {
                "its uploaded bytes are still being verified; publish it once it is DRAFT"
                    .to_owned()
            }
            _ => format!("only a {} file can be", from.as_str()),
        };
        let verb = match self {
            Transition::Publish => "published",
            Transition::Deprecate => "deprecated",
        };
        Some(DomainError::InvalidStateTransition(format!(
            "file {file_id} is {} and cannot be {verb}: {why}",
            state.as_str()
        )))
    }
}

/// An external location of a file registered the original package's way: an absolute
/// `https://`, `http://` or `s3://` URL of at most 2048 characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ExternalLocation(String);

impl ExternalLocation {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ExternalLocation {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        let rest = ["https://", "http://", "s3://"]
            .iter()
            .find_map(|scheme| value.strip_prefix(scheme));
        match rest {
            _ if value.len() > 2048 => Err("must be at most 2048 characters long".into()),
            Some(rest)
                if !rest.is_empty()
                    && !rest.starts_with('/')
                    && value.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Ok(ExternalLocation(value))
            }
            _ => Err("must be an absolute https://, http:// or s3:// URL without spaces".into()),
        }
    }
}

impl From<ExternalLocation> for String {
    fn from(value: ExternalLocation) -> String {
        value.0
    }
}

/// A category as the API answers it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Category {
    pub category_id: CategoryId,
    pub name: CategoryName,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<CategoryId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Description>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// `GET /categories/{categoryId}`: the category, and for a root its children (the first
/// [`crate::MaxResults::MAX`]; `childrenNextToken` continues on `GET /categories?parentId=`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoryDetail {
    #[serde(flatten)]
    pub category: Category,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<Category>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub children_next_token: Option<crate::NextToken>,
}

impl CategoryDetail {
    /// The category, with `children` (the first page of its children) when it is a root.
    pub fn new(category: Category, children: Option<crate::Page<Category>>) -> CategoryDetail {
        let (children, children_next_token) = match children {
            Some(page) => (Some(page.items), page.next_token),
            None => (None, None),
        };
        CategoryDetail {
            category,
            children,
            children_next_token,
        }
    }

    /// The page of children a root's detail lists: the largest, from the start.
    pub fn children_page() -> crate::PageRequest {
        crate::PageRequest {
            max_results: crate::MaxResults::LARGEST,
            next_token: None,
        }
    }
}

/// A file as the API answers it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct File {
    pub file_id: FileId,
    pub category_id: CategoryId,
    pub version: FileVersion,
    pub locale: Locale,
    pub checksum: Checksum,
    pub checksum_type: ChecksumType,
    pub summary: Summary,
    pub description: Description,
    pub state: FileState,
    /// Whether the API itself checked the bytes against the checksum (uploaded files, once
    /// uploaded); files registered with an external location are not verified.
    pub verified: bool,
    /// Bytes, once known (after an upload).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Why the last upload's bytes were refused (their sha256 or size differed), while the file
    /// is PENDING_UPLOAD again; cleared when a new upload starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_error: Option<String>,
    /// Where an externally stored file lives; absent for files uploaded through the API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<ExternalLocation>,
    /// What to paste into a job document where a device is to find the file: AWS IoT's
    /// presigned-URL placeholder for an uploaded file, the location of an external one.
    pub document_url: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl File {
    /// Where to download the file when that needs no presigning: an external file's location.
    /// None for a file whose stored bytes are to be presigned; a refusal while it has none.
    pub fn download_without_presigning(&self) -> Result<Option<Download>, DomainError> {
        if let Some(location) = &self.location {
            return Ok(Some(Download {
                url: location.as_str().to_owned(),
                expires_at: None,
            }));
        }
        if matches!(self.state, FileState::PendingUpload | FileState::Verifying) {
            return Err(DomainError::InvalidStateTransition(format!(
                "file {} is {}: it has no verified bytes to download yet",
                self.file_id,
                self.state.as_str()
            )));
        }
        Ok(None)
    }

    /// The refusal of a new upload of this file's bytes, or None while it is PENDING_UPLOAD.
    pub fn refuse_upload(&self) -> Option<DomainError> {
        (self.state != FileState::PendingUpload).then(|| {
            DomainError::InvalidStateTransition(format!(
                "file {} is {}: its bytes are uploaded once, while it is PENDING_UPLOAD",
                self.file_id,
                self.state.as_str()
            ))
        })
    }
}

/// Body of `POST /categories`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCategory {
    pub name: CategoryName,
    pub parent_id: Option<CategoryId>,
    pub description: Option<Description>,
}

/// Body of `PUT /categories/{categoryId}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCategory {
    pub description: Description,
}

/// One file of `POST /files`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewFile {
    pub category_id: CategoryId,
    pub version: FileVersion,
    pub locale: Locale,
    pub checksum: Checksum,
    #[serde(default)]
    pub checksum_type: ChecksumType,
    pub location: Option<ExternalLocation>,
    pub summary: Option<Summary>,
    pub description: Option<Description>,
}

/// Body of `POST /files`: files registered together, all or none.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateFiles {
    pub files: Vec<NewFile>,
}

/// One file of `PUT /files`: its new summary and/or description.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileUpdate {
    pub file_id: FileId,
    pub summary: Option<Summary>,
    pub description: Option<Description>,
}

/// Body of `PUT /files`: updates applied together, all or none.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateFiles {
    pub files: Vec<FileUpdate>,
}

/// One file of `DELETE /files`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileRef {
    pub file_id: FileId,
}

/// Body of `DELETE /files`: files deleted together, all or none.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteFiles {
    pub files: Vec<FileRef>,
}

fn check_batch<T, K: std::hash::Hash + Eq + fmt::Display>(
    items: &[T],
    key: impl Fn(&T) -> K,
    what: &str,
) -> Result<(), DomainError> {
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(DomainError::validation(
            "files",
            format!("must hold 1 to {MAX_BATCH} items, got {}", items.len()),
        ));
    }
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let key = key(item);
        if !seen.insert(key.to_string()) {
            return Err(DomainError::validation(
                format!("files[{i}]"),
                format!("repeats {what} {key} of an earlier item; a batch names each once"),
            ));
        }
    }
    Ok(())
}

impl CreateFiles {
    /// The rules between fields: batch size, no (checksum, version) twice, checksum lengths
    /// by type, and sha256 for files whose bytes come through the API.
    pub fn check(&self) -> Result<(), DomainError> {
        check_batch(
            &self.files,
            |f| format!("{}/{}", f.checksum, f.version),
            "checksum/version",
        )?;
        for (i, file) in self.files.iter().enumerate() {
            let want = file.checksum_type.hex_len();
            if file.checksum.as_str().len() != want {
                return Err(DomainError::validation(
                    format!("files[{i}].checksum"),
                    format!(
                        "a {} checksum has {want} hexadecimal digits, got {}",
                        file.checksum_type.as_str(),
                        file.checksum.as_str().len()
                    ),
                ));
            }
            if file.location.is_none() && file.checksum_type != ChecksumType::Sha256 {
                return Err(DomainError::validation(
                    format!("files[{i}].checksumType"),
                    "files uploaded through the API are verified with sha256; give a location \
                     to register a file stored elsewhere with another checksum type",
                ));
            }
        }
        Ok(())
    }
}

impl UpdateFiles {
    /// Batch size, each file once, and something to change in each.
    pub fn check(&self) -> Result<(), DomainError> {
        check_batch(&self.files, |f| f.file_id.clone(), "fileId")?;
        for (i, file) in self.files.iter().enumerate() {
            if file.summary.is_none() && file.description.is_none() {
                return Err(DomainError::validation(
                    format!("files[{i}]"),
                    "must give summary, description or both",
                ));
            }
        }
        Ok(())
    }
}

impl DeleteFiles {
    pub fn check(&self) -> Result<(), DomainError> {
        check_batch(&self.files, |f| f.file_id.clone(), "fileId")
    }
}

/// Filters of `GET /files` and `GET /categories/{categoryId}/files`.
#[derive(Clone, Debug, Default)]
pub struct FileFilter {
    pub category_id: Option<CategoryId>,
    pub locale: Option<Locale>,
    pub state: Option<FileState>,
}

/// Body of `POST /files/by-id/{fileId}/upload`: how many bytes will come.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartUpload {
    pub size: u64,
}

/// One HTTP request that carries bytes: where to send them, with which headers, until when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresignedRequest {
    pub method: String,
    pub url: String,
    /// Headers the request must carry exactly (the signature covers them).
    pub headers: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// How to upload a file's bytes: one presigned PUT.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Upload {
    pub file_id: FileId,
    pub size: u64,
    #[serde(flatten)]
    pub request: PresignedRequest,
}

/// The smallest part of a multipart upload but the last (S3's limit).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// The largest part of a multipart upload (S3's limit).
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// The most parts one multipart upload has. S3 allows 10,000; 1,000 presigned parts keep the
/// answer under Lambda's 6 MB response limit and still reach S3's 5 TiB object limit.
pub const MAX_PARTS: u64 = 1000;
/// The part size a multipart upload gets when the request names none (grown for large files so
/// that they fit in [`MAX_PARTS`]).
pub const DEFAULT_PART_SIZE: u64 = 64 * 1024 * 1024;

/// Body of `POST /files/by-id/{fileId}/multipart-upload`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartMultipartUpload {
    pub size: u64,
    pub part_size: Option<u64>,
}

/// How a multipart upload cuts a file: `part_count` parts of `part_size` bytes, the last
/// holding the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartPlan {
    pub size: u64,
    pub part_size: u64,
    pub part_count: u64,
}

impl StartMultipartUpload {
    /// The plan this request asks for, or the rule it breaks.
    pub fn plan(&self) -> Result<PartPlan, DomainError> {
        let size = self.size;
        if size == 0 {
            return Err(DomainError::validation("size", "must be at least 1 byte"));
        }
        if size > MAX_PARTS * MAX_PART_SIZE {
            return Err(DomainError::validation(
                "size",
                format!(
                    "must be at most {} bytes ({MAX_PARTS} parts of {MAX_PART_SIZE} bytes)",
                    MAX_PARTS * MAX_PART_SIZE
                ),
            ));
        }
        let smallest = size.div_ceil(MAX_PARTS);
        let part_size = match self.part_size {
            Some(part_size) => {
                if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) {
                    return Err(DomainError::validation(
                        "partSize",
                        format!("must be {MIN_PART_SIZE} to {MAX_PART_SIZE} bytes (5 MiB to 5 GiB), got {part_size}"),
                    ));
                }
                if part_size < smallest {
                    return Err(DomainError::validation(
                        "partSize",
                        format!(
                            "must be at least {smallest} bytes for {size} bytes to fit in \
                             {MAX_PARTS} parts"
                        ),
                    ));
                }
                part_size
            }
            None => DEFAULT_PART_SIZE.max(smallest.div_ceil(1024 * 1024) * 1024 * 1024),
        };
        Ok(PartPlan {
            size,
            part_size,
            part_count: size.div_ceil(part_size),
        })
    }
}

impl PartPlan {
    /// The bytes part `number` (1-based) carries.
    pub fn part_len(&self, number: u64) -> u64 {
        if number < self.part_count {
            self.part_size
        } else {
            self.size - (self.part_count - 1) * self.part_size
        }
    }

    /// The refusal of a completed upload whose parts are not this plan's: a part missing or of
    /// another size. `parts` are (number, bytes), ascending.
    pub fn refuse_parts(&self, file_id: &FileId, parts: &[(u64, u64)]) -> Option<DomainError> {
        let refuse = |why: String| {
            Some(DomainError::Conflict(format!(
                "file {file_id}: {why}; PUT it to its URL from POST \
                 /files/by-id/{file_id}/multipart-upload and complete again"
            )))
        };
        for number in 1..=self.part_count {
            let want = self.part_len(number);
            match parts.iter().find(|(n, _)| *n == number) {
                None => {
                    return refuse(format!(
                        "part {number} of {} was not uploaded",
                        self.part_count
                    ))
                }
                Some((_, got)) if *got != want => {
                    return refuse(format!("part {number} holds {got} bytes, not {want}"))
                }
                Some(_) => {}
            }
        }
        None
    }
}

/// One part's presigned PUT.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadPart {
    pub part_number: u64,
    pub size: u64,
    #[serde(flatten)]
    pub request: PresignedRequest,
}

/// How to upload a file's bytes in parts: a presigned PUT per part, then complete.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MultipartUpload {
    pub file_id: FileId,
    pub upload_id: String,
    pub size: u64,
    pub part_size: u64,
    pub part_count: u64,
    pub parts: Vec<UploadPart>,
}

impl MultipartUpload {
    pub fn new(
        file_id: FileId,
        upload_id: String,
        plan: PartPlan,
        parts: Vec<UploadPart>,
    ) -> MultipartUpload {
        MultipartUpload {
            file_id,
            upload_id,
            size: plan.size,
            part_size: plan.part_size,
            part_count: plan.part_count,
            parts,
        }
    }
}

/// Why bytes whose sha256 is not the file's were refused, as the file's `uploadError` says.
pub fn digest_mismatch(actual: &str, expected: &Checksum) -> String {
    format!(
        "the uploaded bytes' sha256 is {actual}, not the file's checksum {expected}; they were \
         discarded and the file is PENDING_UPLOAD: upload the right bytes again"
    )
}

/// `GET /files/by-id/{fileId}/download`: a presigned GET, or an external file's location.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Download {
    pub url: String,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub expires_at: Option<OffsetDateTime>,
}

/// The header S3 checks a body's sha256 against, base64 of the digest.
pub const SHA256_HEADER: &str = "x-amz-checksum-sha256";

/// A sha256 in hex as S3's checksum header wants it: base64 of the 32 bytes.
pub fn sha256_header_value(hex: &Checksum) -> Result<String, DomainError> {
    let bytes = crate::digest::from_hex(hex.as_str())
        .ok_or_else(|| DomainError::Internal(format!("stored checksum {hex} is not hex")))?;
    Ok(crate::digest::base64(&bytes))
}

/// The placeholder that stands for `object_url` in a job document.
pub fn placeholder(object_url: &str) -> String {
    format!("{PLACEHOLDER_PREFIX}{object_url}}}")
}

/// Replaces every placeholder in a job document, giving each object URL to `presign`.
pub fn replace_placeholders(
    document: &str,
    mut presign: impl FnMut(&str) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(document.len());
    let mut rest = document;
    while let Some(start) = rest.find(PLACEHOLDER_PREFIX) {
        let after = &rest[start + PLACEHOLDER_PREFIX.len()..];
        let Some(end) = after.find('}') else { break };
        out.push_str(&rest[..start]);
        match presign(&after[..end]) {
            Some(url) => out.push_str(&url),
            None => out.push_str(&rest[start..start + PLACEHOLDER_PREFIX.len() + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The document of a job that names `files`: the given one, with a `files` list added (each
/// file's id, version, checksum, size and document URL) when it is a JSON object that has none.
pub fn document_with_files(document: &str, files: &[File]) -> Result<String, DomainError> {
    let mut value: serde_json::Value = serde_json::from_str(document)
        .map_err(|e| DomainError::validation("document", format!("must be JSON: {e}")))?;
    if let Some(object) = value.as_object_mut() {
        if !object.contains_key("files") {
            let listed: Vec<serde_json::Value> = files
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "fileId": f.file_id,
                        "version": f.version,
                        "checksum": f.checksum,
                        "checksumType": f.checksum_type,
                        "size": f.size,
                        "url": f.document_url,
                    })
                })
                .collect();
            object.insert("files".into(), serde_json::Value::Array(listed));
        }
    }
    serde_json::to_string(&value).map_err(|e| DomainError::Internal(e.to_string()))
}

/// The refusal of a job naming `file`, or None when a job may deliver it.
pub fn refuse_delivery(file: &File) -> Option<DomainError> {
    (!file.state.deliverable()).then(|| {
        DomainError::InvalidStateTransition(format!(
            "files: file {} is {}; a job may deliver only PUBLISHED or DEPRECATED files",
            file.file_id,
            file.state.as_str()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_ids_are_the_original_md5s() {
        let root = CategoryName::parse("firmware").unwrap();
        let id = CategoryId::derive(&root, None);
        assert_eq!(id.as_str().len(), 32);
        let child = CategoryId::derive(&CategoryName::parse("lamps").unwrap(), Some(&id));
        assert_eq!(
            child.as_str(),
            crate::digest::md5_hex(format!("{id}-lamps").as_bytes())
        );
        // md5("abc"), from RFC 1321's test suite.
        assert_eq!(
            CategoryId::derive(&CategoryName::parse("abc").unwrap(), None).as_str(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
    }

    #[test]
    fn placeholders_are_replaced_where_a_url_is_given() {
        let doc = format!(
            "{{\"a\":\"{}\",\"b\":\"{}\"}}",
            placeholder("http://h/objects/1"),
            placeholder("https://elsewhere/x")
        );
        let out = replace_placeholders(&doc, |url| {
            url.starts_with("http://h/")
                .then(|| format!("{url}?signed"))
        });
        assert_eq!(
            out,
            format!(
                "{{\"a\":\"http://h/objects/1?signed\",\"b\":\"{}\"}}",
                placeholder("https://elsewhere/x")
            )
        );
    }

    #[test]
    fn multipart_plans_fit_s3_and_the_part_limit() {
        let mib = 1024 * 1024;
        let plan = |size, part_size| StartMultipartUpload { size, part_size }.plan();
        let small = plan(11 * mib, Some(5 * mib)).unwrap();
        assert_eq!(
            (small.part_count, small.part_len(1), small.part_len(3)),
            (3, 5 * mib, mib)
        );
        assert_eq!(plan(10, None).unwrap().part_count, 1);
        // 1 TiB in the default parts would need 16,384 of them: the size grows to fit 1,000.
        let big = plan(1024 * 1024 * mib, None).unwrap();
        assert!(
            big.part_count <= MAX_PARTS && big.part_size % mib == 0,
            "{big:?}"
        );
        for (size, part_size, field) in [
            (0, None, "size"),
            (10 * mib, Some(mib), "partSize"),
            (10 * mib, Some(6 * 1024 * mib), "partSize"),
            (10_000 * mib, Some(5 * mib), "partSize"),
            (MAX_PARTS * MAX_PART_SIZE + 1, None, "size"),
        ] {
            let refused = plan(size, part_size).unwrap_err().to_string();
            assert!(refused.contains(field), "{size} {part_size:?}: {refused}");
        }
        let id = FileId::parse("0a8e4b5c-1d2e-4f60-8a9b-0c1d2e3f4a5b").unwrap();
        assert!(small
            .refuse_parts(&id, &[(1, 5 * mib), (2, 5 * mib), (3, mib)])
            .is_none());
        let missing = small.refuse_parts(&id, &[(1, 5 * mib), (3, mib)]).unwrap();
        assert!(missing.to_string().contains("part 2 of 3"), "{missing}");
        let short = small
            .refuse_parts(&id, &[(1, 5 * mib), (2, mib), (3, mib)])
            .unwrap();
        assert!(short.to_string().contains("part 2 holds"), "{short}");
    }

    #[test]
    fn transitions_name_the_state_that_refuses_them() {
        let id = FileId::parse("0a8e4b5c-1d2e-4f60-8a9b-0c1d2e3f4a5b").unwrap();
        assert!(Transition::Publish.refuse(&id, FileState::Draft).is_none());
        let refused = Transition::Publish
            .refuse(&id, FileState::PendingUpload)
            .unwrap()
            .to_string();
        assert!(refused.contains("PENDING_UPLOAD"), "{refused}");
        assert!(Transition::Deprecate
            .refuse(&id, FileState::Draft)
            .is_some());
    }
}
