//! The firmware catalog on AWS: metadata in one DynamoDB table, bytes in the stack's S3 bucket.
//!
//! Items of the table, keyed by `pk`:
//! - `category#<id>`: a category, with `childCount` and `fileCount`, kept in the transactions that
//!   add or remove children and files, so a category in use cannot be deleted even by a request
//!   racing another. Index `ByParent` (`parentKey`, `createdKey`) lists children and roots.
//! - `file#<id>`: a file, with `jobs`, the ids of jobs that deliver it. Index `ByCategory`
//!   (`fileCategory`, `createdKey`) lists a category's files, `ByKind` (`fileKind`, `createdKey`)
//!   all files.
//! - `version#<checksum>#<version>`: the claim of a checksum and version, written in the same
//!   transaction as its file, so two files never share them however requests race.
//!
//! Bytes live at `files/<fileId>`. Uploads are presigned PUTs that carry the declared sha256 in
//! `x-amz-checksum-sha256`, which S3 checks against the body; completing an upload reads the
//! object's checksum back with HeadObject before the file becomes DRAFT.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update,
};
use aws_sdk_s3::error::ProvideErrorMetadata;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use models::files::{
    Category, CategoryDetail, CategoryId, Checksum, CreateCategory, Description, Download, File,
    FileFilter, FileId, FileState, FileUpdate, FileVersion, MultipartUpload, NewFile, PartPlan,
    PresignedRequest, Transition, Upload, UploadPart,
};
use models::ids::JobId;
use models::{DomainError, NextToken, Page, PageRequest, Result};
use time::OffsetDateTime;

use crate::error::map_storage_error;

type Item = HashMap<String, AttributeValue>;

/// Where the catalog lives: the stack's table and bucket, and the role AWS IoT assumes to
/// presign the URLs of job documents. The deployed functions read them from the environment.
#[derive(Clone, Debug)]
pub struct FileStorage {
    pub table: String,
    pub bucket: String,
    pub presign_role_arn: String,
    /// Address the bucket in the path (`https://endpoint/bucket/key`), as S3 stand-ins need.
    pub path_style: bool,
}

/// The environment variables `cargo xtask synth` sets on each function.
pub const TABLE_VARIABLE: &str = "IOT_API_FILES_TABLE";
pub const BUCKET_VARIABLE: &str = "IOT_API_FILES_BUCKET";
pub const PRESIGN_ROLE_VARIABLE: &str = "IOT_API_PRESIGN_ROLE_ARN";

/// The largest object one PUT may carry (S3's limit).
pub const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;

impl FileStorage {
    /// The storage the environment names, or None when it names none.
    pub fn from_env() -> Option<FileStorage> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        Some(FileStorage {
            table: var(TABLE_VARIABLE)?,
            bucket: var(BUCKET_VARIABLE)?,
            presign_role_arn: var(PRESIGN_ROLE_VARIABLE)?,
            path_style: false,
        })
    }
}

/// The catalog's clients, built on first use.
pub(crate) struct Catalog {
    pub(crate) storage: FileStorage,
    dynamodb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    region: String,
}

fn key(pk: String) -> Item {
    HashMap::from([("pk".to_owned(), AttributeValue::S(pk))])
}

fn category_pk(id: &CategoryId) -> String {
    format!("category#{id}")
}

fn file_pk(id: &FileId) -> String {
    format!("file#{id}")
}

fn version_pk(checksum: &Checksum, version: &FileVersion) -> String {
    format!("version#{checksum}#{version}")
}

fn object_key(id: &FileId) -> String {
    format!("files/{id}")
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// A sort key that orders items by creation, ties broken by id.
fn created_key(now: i64, id: &str) -> AttributeValue {
    s(format!("{now:015}#{id}"))
}

fn stored_fault(what: &str) -> DomainError {
    DomainError::Internal(format!("a stored catalog item does not read back: {what}"))
}

fn text(item: &Item, name: &str) -> Result<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(stored_fault(name)),
    }
}

fn text_opt(item: &Item, name: &str) -> Result<Option<String>> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
        _ => Err(stored_fault(name)),
    }
}

fn number(item: &Item, name: &str) -> Result<i64> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|_| stored_fault(name)),
        _ => Err(stored_fault(name)),
    }
}

fn parsed<T>(
    value: String,
    parse: fn(String) -> std::result::Result<T, String>,
    name: &str,
) -> Result<T> {
    parse(value).map_err(|e| stored_fault(&format!("{name}: {e}")))
}

fn time_of(item: &Item, name: &str) -> Result<OffsetDateTime> {
    let ms = number(item, name)?;
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| stored_fault(name))
}

fn category_from(item: &Item) -> Result<Category> {
    Ok(Category {
        category_id: parsed(text(item, "categoryId")?, CategoryId::parse, "categoryId")?,
        name: parsed(
            text(item, "name")?,
            models::files::CategoryName::parse,
            "name",
        )?,
        parent_id: text_opt(item, "parentId")?
            .map(|p| parsed(p, CategoryId::parse, "parentId"))
            .transpose()?,
        description: text_opt(item, "description")?
            .map(|d| parsed(d, Description::parse, "description"))
            .transpose()?,
        created_at: time_of(item, "createdAt")?,
        updated_at: time_of(item, "updatedAt")?,
    })
}

/// A query's filter: its expression, with the values and names it uses.
struct Filter {
    expression: String,
    values: Vec<(&'static str, AttributeValue)>,
    names: Vec<(&'static str, &'static str)>,
}

/// What a transaction's refusal was: which item's condition failed.
enum Refusal {
    /// The condition of the item at this position failed.
    Condition(usize),
    Other(DomainError),
}

impl Catalog {
    pub(crate) fn new(config: &aws_config::SdkConfig, storage: FileStorage) -> Catalog {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(storage.path_style)
            .build();
        Catalog {
            region: config
                .region()
                .map(ToString::to_string)
                .unwrap_or_else(|| "us-east-1".into()),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            storage,
        }
    }

    pub(crate) fn from_clients(
        storage: FileStorage,
        dynamodb: aws_sdk_dynamodb::Client,
        s3: aws_sdk_s3::Client,
        region: String,
    ) -> Catalog {
        Catalog {
            storage,
            dynamodb,
            s3,
            region,
        }
    }

    fn table(&self) -> &str {
        &self.storage.table
    }

    /// The placeholder that stands for a file's object in a job document.
    fn document_url(&self, id: &FileId) -> String {
        models::files::placeholder(&format!(
            "https://s3.{}.amazonaws.com/{}/{}",
            self.region,
            self.storage.bucket,
            object_key(id)
        ))
    }

    fn file_from(&self, item: &Item) -> Result<File> {
        let file_id = parsed(text(item, "fileId")?, FileId::parse, "fileId")?;
        let location = text_opt(item, "location")?
            .map(|l| models::files::ExternalLocation::try_from(l).map_err(|e| stored_fault(&e)))
            .transpose()?;
        let state = text(item, "state")?;
        Ok(File {
            category_id: parsed(
                text(item, "fileCategory")?,
                CategoryId::parse,
                "fileCategory",
            )?,
            version: parsed(text(item, "version")?, FileVersion::parse, "version")?,
            locale: parsed(
                text(item, "locale")?,
                models::files::Locale::parse,
                "locale",
            )?,
            checksum: parsed(text(item, "checksum")?, Checksum::parse, "checksum")?,
            checksum_type: models::files::ChecksumType::parse(&text(item, "checksumType")?)
                .ok_or_else(|| stored_fault("checksumType"))?,
            summary: parsed(
                text(item, "summary")?,
                models::files::Summary::parse,
                "summary",
            )?,
            description: parsed(
                text(item, "description")?,
                Description::parse,
                "description",
            )?,
            state: FileState::parse(&state).ok_or_else(|| stored_fault("state"))?,
            verified: matches!(item.get("verified"), Some(AttributeValue::Bool(true))),
            size: match item.get("size") {
                Some(_) => Some(number(item, "size")? as u64),
                None => None,
            },
            upload_error: text_opt(item, "uploadError")?,
            document_url: match &location {
                Some(location) => location.as_str().to_owned(),
                None => self.document_url(&file_id),
            },
            location,
            created_at: time_of(item, "createdAt")?,
            updated_at: time_of(item, "updatedAt")?,
            file_id,
        })
    }

    async fn get(&self, operation: &'static str, pk: String) -> Result<Option<Item>> {
        let output = self
            .dynamodb
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(pk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| map_storage_error(operation, e))?;
        Ok(output.item)
    }

    async fn category_item(&self, operation: &'static str, id: &CategoryId) -> Result<Item> {
        self.get(operation, category_pk(id))
            .await?
            .ok_or_else(|| DomainError::NotFound(format!("category {id} does not exist")))
    }

    pub(crate) async fn describe_file(&self, id: &FileId) -> Result<File> {
        self.file_from(&self.file_item(id).await?)
    }

    async fn file_item(&self, id: &FileId) -> Result<Item> {
        self.get("GetItem", file_pk(id))
            .await?
            .ok_or_else(|| DomainError::NotFound(format!("file {id} does not exist")))
    }

    /// Runs a transaction; a failed condition is reported with the position of its item.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> std::result::Result<(), Refusal> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        match self
            .dynamodb
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) =
                    err.as_service_error()
                {
                    let failed = canceled
                        .cancellation_reasons()
                        .iter()
                        .position(|r| r.code() == Some("ConditionalCheckFailed"));
                    if let Some(position) = failed {
                        return Err(Refusal::Condition(position));
                    }
                }
                Err(Refusal::Other(map_storage_error("TransactWriteItems", err)))
            }
        }
    }

    fn put(&self, item: Item, condition: &str) -> Result<TransactWriteItem> {
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(self.table())
                    .set_item(Some(item))
                    .condition_expression(condition)
                    .build()
                    .map_err(|e| DomainError::Internal(e.to_string()))?,
            )
            .build())
    }

    fn update(
        &self,
        pk: String,
        expression: &str,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
        names: Vec<(&str, &str)>,
    ) -> Result<TransactWriteItem> {
        let mut update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key(pk)))
            .update_expression(expression)
            .condition_expression(condition);
        for (name, value) in values {
            update = update.expression_attribute_values(name, value);
        }
        for (name, attribute) in names {
            update = update.expression_attribute_names(name, attribute);
        }
        Ok(TransactWriteItem::builder()
            .update(
                update
                    .build()
                    .map_err(|e| DomainError::Internal(e.to_string()))?,
            )
            .build())
    }

    pub(crate) async fn create_category(&self, new: CreateCategory) -> Result<Category> {
        let id = CategoryId::derive(&new.name, new.parent_id.as_ref());
        let now = millis(OffsetDateTime::now_utc());
        let mut item = HashMap::from([
            ("pk".to_owned(), s(category_pk(&id))),
            ("categoryId".to_owned(), s(id.as_str())),
            ("name".to_owned(), s(new.name.as_str())),
            (
                "parentKey".to_owned(),
                s(new
                    .parent_id
                    .as_ref()
                    .map_or("ROOT".to_owned(), |p| p.to_string())),
            ),
            ("createdKey".to_owned(), created_key(now, id.as_str())),
            ("createdAt".to_owned(), n(now)),
            ("updatedAt".to_owned(), n(now)),
            ("childCount".to_owned(), n(0)),
            ("fileCount".to_owned(), n(0)),
        ]);
        if let Some(parent) = &new.parent_id {
            item.insert("parentId".into(), s(parent.as_str()));
        }
        if let Some(description) = &new.description {
            item.insert("description".into(), s(description.as_str()));
        }
        let mut items = vec![self.put(item, "attribute_not_exists(pk)")?];
        if let Some(parent) = &new.parent_id {
            items.push(self.update(
                category_pk(parent),
                "ADD childCount :one",
                "attribute_exists(pk)",
                vec![(":one", n(1))],
                vec![],
            )?);
        }
        match self.transact(items).await {
            Ok(()) => {}
            Err(Refusal::Condition(0)) => {
                return Err(DomainError::AlreadyExists(format!(
                    "category {:?} already exists under this parent (id {id})",
                    new.name.as_str()
                )))
            }
            Err(Refusal::Condition(_)) => {
                return Err(DomainError::NotFound(format!(
                    "parentId: category {} does not exist",
                    new.parent_id.as_ref().map_or("", |p| p.as_str())
                )))
            }
            Err(Refusal::Other(e)) => return Err(e),
        }
        category_from(&self.category_item("GetItem", &id).await?)
    }

    pub(crate) async fn describe_category(&self, id: &CategoryId) -> Result<CategoryDetail> {
        let category = category_from(&self.category_item("GetItem", id).await?)?;
        let children = match category.parent_id {
            None => Some(
                self.query_categories(id.as_str(), CategoryDetail::children_page())
                    .await?,
            ),
            Some(_) => None,
        };
        Ok(CategoryDetail::new(category, children))
    }

    pub(crate) async fn list_categories(
        &self,
        parent: Option<CategoryId>,
        page: PageRequest,
    ) -> Result<Page<Category>> {
        let parent_key = match &parent {
            Some(parent) => {
                self.category_item("GetItem", parent).await.map_err(|_| {
                    DomainError::NotFound(format!("parentId: category {parent} does not exist"))
                })?;
                parent.to_string()
            }
            None => "ROOT".to_owned(),
        };
        self.query_categories(&parent_key, page).await
    }

    async fn query_categories(
        &self,
        parent_key: &str,
        page: PageRequest,
    ) -> Result<Page<Category>> {
        let items = self
            .query(
                "ByParent",
                "parentKey",
                s(parent_key),
                None,
                &format!("categories-{parent_key}"),
                &page,
            )
            .await?;
        Ok(Page {
            items: items
                .items
                .iter()
                .map(category_from)
                .collect::<Result<_>>()?,
            next_token: items.next_token,
        })
    }

    /// One page of an index, oldest first, filtered; keeps querying until the page is full or
    /// the index ends, so a filter never answers an empty page with a token.
    async fn query(
        &self,
        index: &str,
        hash_name: &str,
        hash_value: AttributeValue,
        filter: Option<Filter>,
        list: &str,
        page: &PageRequest,
    ) -> Result<Page<Item>> {
        let wanted = page.max_results.get() as usize;
        let mut start = match &page.next_token {
            Some(token) => Some(decode_token(list, token)?),
            None => None,
        };
        let mut items: Vec<Item> = Vec::new();
        loop {
            let mut query = self
                .dynamodb
                .query()
                .table_name(self.table())
                .index_name(index)
                .key_condition_expression("#h = :h")
                .expression_attribute_names("#h", hash_name)
                .expression_attribute_values(":h", hash_value.clone())
                .limit((wanted + 1 - items.len().min(wanted)) as i32)
                .set_exclusive_start_key(start.take());
            if let Some(filter) = &filter {
                query = query.filter_expression(&filter.expression);
                for (name, value) in &filter.values {
                    query = query.expression_attribute_values(*name, value.clone());
                }
                for (name, attribute) in &filter.names {
                    query = query.expression_attribute_names(*name, *attribute);
                }
            }
            let output = query
                .send()
                .await
                .map_err(|e| map_storage_error("Query", e))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(last) if items.len() <= wanted => start = Some(last),
                _ => break,
            }
        }
        let next_token = if items.len() > wanted {
            items.truncate(wanted);
            let last = items
                .last()
                .ok_or_else(|| DomainError::Internal("empty page".into()))?;
            Some(encode_token(list, last, hash_name)?)
        } else {
            None
        };
        Ok(Page { items, next_token })
    }

    pub(crate) async fn update_category(
        &self,
        id: &CategoryId,
        description: Description,
    ) -> Result<()> {
        let item = self.update(
            category_pk(id),
            "SET description = :d, updatedAt = :now",
            "attribute_exists(pk)",
            vec![
                (":d", s(description.as_str())),
                (":now", n(millis(OffsetDateTime::now_utc()))),
            ],
            vec![],
        )?;
        match self.transact(vec![item]).await {
            Ok(()) => Ok(()),
            Err(Refusal::Condition(_)) => Err(DomainError::NotFound(format!(
                "category {id} does not exist"
            ))),
            Err(Refusal::Other(e)) => Err(e),
        }
    }

    pub(crate) async fn delete_category(&self, id: &CategoryId) -> Result<()> {
        let item = self.category_item("GetItem", id).await?;
        let category = category_from(&item)?;
        let mut items = vec![TransactWriteItem::builder()
            .delete(
                Delete::builder()
                    .table_name(self.table())
                    .set_key(Some(key(category_pk(id))))
                    .condition_expression(
                        "attribute_exists(pk) AND childCount = :zero AND fileCount = :zero",
                    )
                    .expression_attribute_values(":zero", n(0))
                    .build()
                    .map_err(|e| DomainError::Internal(e.to_string()))?,
            )
            .build()];
        if let Some(parent) = &category.parent_id {
            items.push(self.update(
                category_pk(parent),
                "ADD childCount :minus",
                "attribute_exists(pk)",
                vec![(":minus", n(-1))],
                vec![],
            )?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(Refusal::Condition(_)) => {
                let item = self.category_item("GetItem", id).await?;
                Err(DomainError::Conflict(format!(
                    "category {id} still has {} child categories and {} files; delete them first",
                    number(&item, "childCount")?,
                    number(&item, "fileCount")?
                )))
            }
            Err(Refusal::Other(e)) => Err(e),
        }
    }

    pub(crate) async fn create_files(&self, files: Vec<NewFile>) -> Result<Vec<File>> {
        let now = millis(OffsetDateTime::now_utc());
        let mut items = Vec::new();
        let mut ids = Vec::new();
        // What each position of the transaction stands for, to name the refused item.
        let mut positions = Vec::new();
        let mut per_category: BTreeMap<CategoryId, (usize, i64)> = BTreeMap::new();
        for (i, file) in files.iter().enumerate() {
            let id = FileId::from_uuid(&uuid_v4()).map_err(DomainError::Internal)?;
            let state = if file.location.is_some() {
                FileState::Draft
            } else {
                FileState::PendingUpload
            };
            let mut item = HashMap::from([
                ("pk".to_owned(), s(file_pk(&id))),
                ("fileId".to_owned(), s(id.as_str())),
                ("fileCategory".to_owned(), s(file.category_id.as_str())),
                ("fileKind".to_owned(), s("file")),
                ("version".to_owned(), s(file.version.as_str())),
                ("locale".to_owned(), s(file.locale.as_str())),
                ("checksum".to_owned(), s(file.checksum.as_str())),
                ("checksumType".to_owned(), s(file.checksum_type.as_str())),
                (
                    "summary".to_owned(),
                    s(file.summary.as_ref().map_or("", |v| v.as_str())),
                ),
                (
                    "description".to_owned(),
                    s(file.description.as_ref().map_or("", |v| v.as_str())),
                ),
                ("state".to_owned(), s(state.as_str())),
                ("verified".to_owned(), AttributeValue::Bool(false)),
                ("createdKey".to_owned(), created_key(now, id.as_str())),
                ("createdAt".to_owned(), n(now)),
                ("updatedAt".to_owned(), n(now)),
            ]);
            if let Some(location) = &file.location {
                item.insert("location".into(), s(location.as_str()));
            }
            items.push(self.put(item, "attribute_not_exists(pk)")?);
            positions.push(Position::File);
            items.push(self.put(
                HashMap::from([
                    (
                        "pk".to_owned(),
                        s(version_pk(&file.checksum, &file.version)),
                    ),
                    ("fileId".to_owned(), s(id.as_str())),
                ]),
                "attribute_not_exists(pk)",
            )?);
            positions.push(Position::Version(i));
            per_category
                .entry(file.category_id.clone())
                .or_insert((i, 0))
                .1 += 1;
            ids.push(id);
        }
        for (category, (first, count)) in &per_category {
            items.push(self.update(
                category_pk(category),
                "ADD fileCount :n",
                "attribute_exists(pk)",
                vec![(":n", n(*count))],
                vec![],
            )?);
            positions.push(Position::Category(*first));
        }
        match self.transact(items).await {
            Ok(()) => {}
            Err(Refusal::Condition(at)) => {
                return Err(match positions.get(at) {
                    Some(Position::Version(i)) => DomainError::AlreadyExists(format!(
                        "files[{i}]: a file with checksum {} and version {} already exists",
                        files[*i].checksum, files[*i].version
                    )),
                    Some(Position::Category(i)) => DomainError::NotFound(format!(
                        "files[{i}].categoryId: category {} does not exist",
                        files[*i].category_id
                    )),
                    Some(Position::File) | None => {
                        DomainError::Conflict("a new file id was taken; retry".into())
                    }
                })
            }
            Err(Refusal::Other(e)) => return Err(e),
        }
        let mut created = Vec::with_capacity(ids.len());
        for id in &ids {
            created.push(self.describe_file(id).await?);
        }
        Ok(created)
    }

    pub(crate) async fn list_files(
        &self,
        filter: FileFilter,
        page: PageRequest,
    ) -> Result<Page<File>> {
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        let mut names = Vec::new();
        if let Some(locale) = &filter.locale {
            conditions.push("locale = :locale");
            values.push((":locale", s(locale.as_str())));
        }
        if let Some(state) = filter.state {
            conditions.push("#state = :state");
            values.push((":state", s(state.as_str())));
            names.push(("#state", "state"));
        }
        let filter_expression = (!conditions.is_empty()).then(|| Filter {
            expression: conditions.join(" AND "),
            values,
            names,
        });
        let items = match &filter.category_id {
            Some(category) => {
                self.category_item("GetItem", category).await?;
                self.query(
                    "ByCategory",
                    "fileCategory",
                    s(category.as_str()),
                    filter_expression,
                    &format!("files-{category}"),
                    &page,
                )
                .await?
            }
            None => {
                self.query(
                    "ByKind",
                    "fileKind",
                    s("file"),
                    filter_expression,
                    "files",
                    &page,
                )
                .await?
            }
        };
        Ok(Page {
            items: items
                .items
                .iter()
                .map(|i| self.file_from(i))
                .collect::<Result<_>>()?,
            next_token: items.next_token,
        })
    }

    pub(crate) async fn find_file(
        &self,
        checksum: &Checksum,
        version: &FileVersion,
    ) -> Result<File> {
        let not_found = || {
            DomainError::NotFound(format!(
                "no file has checksum {checksum} and version {version}"
            ))
        };
        let claim = self
            .get("GetItem", version_pk(checksum, version))
            .await?
            .ok_or_else(not_found)?;
        let id = parsed(text(&claim, "fileId")?, FileId::parse, "fileId")?;
        self.describe_file(&id).await.map_err(|e| match e {
            DomainError::NotFound(_) => not_found(),
            other => other,
        })
    }

    pub(crate) async fn update_files(&self, updates: Vec<FileUpdate>) -> Result<()> {
        let now = n(millis(OffsetDateTime::now_utc()));
        let mut items = Vec::new();
        for update in &updates {
            let mut sets = vec!["updatedAt = :now"];
            let mut values = vec![(":now", now.clone())];
            if let Some(summary) = &update.summary {
                sets.push("summary = :summary");
                values.push((":summary", s(summary.as_str())));
            }
            if let Some(description) = &update.description {
                sets.push("description = :description");
                values.push((":description", s(description.as_str())));
            }
            items.push(self.update(
                file_pk(&update.file_id),
                &format!("SET {}", sets.join(", ")),
                "attribute_exists(pk)",
                values,
                vec![],
            )?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(Refusal::Condition(i)) => Err(DomainError::NotFound(format!(
                "files[{i}].fileId: file {} does not exist",
                updates[i].file_id
            ))),
            Err(Refusal::Other(e)) => Err(e),
        }
    }

    /// Deletes files whose delivering jobs have all ended (`job_running` says which have not);
    /// the rows in one transaction, then the bytes.
    pub(crate) async fn delete_files<F, Fut>(&self, ids: Vec<FileId>, job_running: F) -> Result<()>
    where
        F: Fn(JobId) -> Fut,
        Fut: std::future::Future<Output = Result<bool>>,
    {
        let mut items = Vec::new();
        let mut per_category: BTreeMap<CategoryId, i64> = BTreeMap::new();
        for (i, id) in ids.iter().enumerate() {
            let item = self.get("GetItem", file_pk(id)).await?.ok_or_else(|| {
                DomainError::NotFound(format!("files[{i}].fileId: file {id} does not exist"))
            })?;
            let file = self.file_from(&item)?;
            let jobs = match item.get("jobs") {
                Some(AttributeValue::Ss(jobs)) => jobs.clone(),
                _ => Vec::new(),
            };
            for job in &jobs {
                let Ok(job_id) = JobId::parse(job.clone()) else {
                    continue;
                };
                if job_running(job_id).await? {
                    return Err(DomainError::Conflict(format!(
                        "files[{i}]: file {id} is delivered by job {job:?}, which is not \
                         COMPLETED or CANCELED; cancel the job or wait for it to end"
                    )));
                }
            }
            // A job that starts delivering the file meanwhile fails this condition.
            let mut delete = Delete::builder()
                .table_name(self.table())
                .set_key(Some(key(file_pk(id))));
            delete = if jobs.is_empty() {
                delete.condition_expression("attribute_exists(pk) AND attribute_not_exists(jobs)")
            } else {
                delete
                    .condition_expression("attribute_exists(pk) AND size(jobs) = :jobs")
                    .expression_attribute_values(":jobs", n(jobs.len()))
            };
            items.push(
                TransactWriteItem::builder()
                    .delete(
                        delete
                            .build()
                            .map_err(|e| DomainError::Internal(e.to_string()))?,
                    )
                    .build(),
            );
            items.push(
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(self.table())
                            .set_key(Some(key(version_pk(&file.checksum, &file.version))))
                            .build()
                            .map_err(|e| DomainError::Internal(e.to_string()))?,
                    )
                    .build(),
            );
            *per_category.entry(file.category_id).or_default() += 1;
        }
        for (category, count) in per_category {
            items.push(self.update(
                category_pk(&category),
                "ADD fileCount :minus",
                "attribute_exists(pk)",
                vec![(":minus", n(-count))],
                vec![],
            )?);
        }
        match self.transact(items).await {
            Ok(()) => {}
            Err(Refusal::Condition(_)) => {
                return Err(DomainError::Conflict(
                    "the files changed while they were being deleted (a job started delivering one); retry".into(),
                ))
            }
            Err(Refusal::Other(e)) => return Err(e),
        }
        for id in &ids {
            if let Err(error) = self
                .s3
                .delete_object()
                .bucket(&self.storage.bucket)
                .key(object_key(id))
                .send()
                .await
            {
                tracing::warn!(%id, error = ?error, "removing a deleted file's bytes failed");
            }
        }
        Ok(())
    }

    /// An update moving file `id` from `from` to `to` and answering its new item.
    fn state_update(
        &self,
        id: &FileId,
        from: FileState,
        to: FileState,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.dynamodb
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(file_pk(id))))
            .update_expression("SET #state = :to, updatedAt = :now")
            .condition_expression("#state = :from")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":now", n(millis(OffsetDateTime::now_utc())))
            .return_values(ReturnValue::AllNew)
    }

    pub(crate) async fn transition(&self, id: &FileId, step: Transition) -> Result<File> {
        let (from, to) = step.states();
        let output = self.state_update(id, from, to).send().await;
        match output {
            Ok(output) => self.file_from(&output.attributes.unwrap_or_default()),
            Err(err) if is_condition_failure(&err) => {
                let file = self.describe_file(id).await?;
                Err(step.refuse(id, file.state).unwrap_or_else(|| {
                    DomainError::Conflict(format!("file {id} changed meanwhile; retry"))
                }))
            }
            Err(err) => Err(map_storage_error("UpdateItem", err)),
        }
    }

    pub(crate) async fn start_upload(&self, id: &FileId, size: u64) -> Result<Upload> {
        let item = self.file_item(id).await?;
        let file = self.file_from(&item)?;
        if let Some(refused) = file.refuse_upload() {
            return Err(refused);
        }
        if size > MAX_SINGLE_PUT {
            return Err(DomainError::LimitExceeded(format!(
                "size: {size} bytes is more than one PUT to S3 carries ({MAX_SINGLE_PUT} bytes); \
                 use POST /files/by-id/{id}/multipart-upload"
            )));
        }
        let earlier = multipart_of(&item)?;
        self.record_upload(id, None, earlier.as_ref().map(|(u, _)| u.as_str()))
            .await?;
        if let Some((upload_id, _)) = earlier {
            self.abort_multipart(id, &upload_id).await;
        }
        let expires_in = Duration::from_secs(models::files::DEFAULT_URL_EXPIRY_SECONDS as u64);
        let presigned = self
            .s3
            .put_object()
            .bucket(&self.storage.bucket)
            .key(object_key(id))
            .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
            .checksum_sha256(models::files::sha256_header_value(&file.checksum)?)
            .presigned(presigning(expires_in)?)
            .await
            .map_err(|e| DomainError::Internal(format!("presigning the upload: {e}")))?;
        Ok(Upload {
            file_id: id.clone(),
            size,
            request: presigned_request(&presigned, expires_in),
        })
    }

    /// Records on a PENDING_UPLOAD file the upload its bytes now come through (a multipart
    /// upload's id and plan, or None for a single PUT) and forgets the last refusal, provided
    /// the upload in progress is still `earlier`.
    async fn record_upload(
        &self,
        id: &FileId,
        multipart: Option<(&str, PartPlan)>,
        earlier: Option<&str>,
    ) -> Result<()> {
        let mut update = self
            .dynamodb
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(file_pk(id))))
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s(FileState::PendingUpload.as_str()))
            .expression_attribute_values(":now", n(millis(OffsetDateTime::now_utc())));
        update = match multipart {
            Some((upload_id, plan)) => update
                .update_expression(
                    "SET uploadId = :upload, uploadSize = :size, partSize = :part, \
                     updatedAt = :now REMOVE uploadError",
                )
                .expression_attribute_values(":upload", s(upload_id))
                .expression_attribute_values(":size", n(plan.size))
                .expression_attribute_values(":part", n(plan.part_size)),
            None => update.update_expression(
                "SET updatedAt = :now REMOVE uploadId, uploadSize, partSize, uploadError",
            ),
        };
        update = match earlier {
            Some(earlier) => update
                .condition_expression("#state = :pending AND uploadId = :earlier")
                .expression_attribute_values(":earlier", s(earlier)),
            None => {
                update.condition_expression("#state = :pending AND attribute_not_exists(uploadId)")
            }
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(err) if is_condition_failure(&err) => Err(DomainError::Conflict(format!(
                "file {id}: another request started or completed its upload meanwhile; retry"
            ))),
            Err(err) => Err(map_storage_error("UpdateItem", err)),
        }
    }

    /// Aborts a multipart upload whose parts are no longer wanted. A failure is logged only:
    /// the bucket's lifecycle rule aborts what is left after seven days.
    async fn abort_multipart(&self, id: &FileId, upload_id: &str) {
        let aborted = self
            .s3
            .abort_multipart_upload()
            .bucket(&self.storage.bucket)
            .key(object_key(id))
            .upload_id(upload_id)
            .send()
            .await;
        if let Err(error) = aborted {
            tracing::warn!(%id, %upload_id, error = %aws_sdk_s3::error::DisplayErrorContext(&error), "aborting a replaced multipart upload failed");
        }
    }

    pub(crate) async fn start_multipart_upload(
        &self,
        id: &FileId,
        plan: PartPlan,
    ) -> Result<MultipartUpload> {
        let item = self.file_item(id).await?;
        if let Some(refused) = self.file_from(&item)?.refuse_upload() {
            return Err(refused);
        }
        let upload_id = match multipart_of(&item)? {
            Some((upload_id, current)) if current == plan => upload_id,
            earlier => {
                let created = self
                    .s3
                    .create_multipart_upload()
                    .bucket(&self.storage.bucket)
                    .key(object_key(id))
                    .send()
                    .await
                    .map_err(|e| map_storage_error("CreateMultipartUpload", e))?;
                let upload_id = created
                    .upload_id()
                    .ok_or_else(|| {
                        DomainError::Internal(
                            "CreateMultipartUpload: S3 returned no UploadId".into(),
                        )
                    })?
                    .to_owned();
                let earlier_id = earlier.as_ref().map(|(u, _)| u.as_str());
                if let Err(refused) = self
                    .record_upload(id, Some((&upload_id, plan)), earlier_id)
                    .await
                {
                    self.abort_multipart(id, &upload_id).await;
                    return Err(refused);
                }
                if let Some((earlier, _)) = earlier {
                    self.abort_multipart(id, &earlier).await;
                }
                upload_id
            }
        };
        let expires_in = Duration::from_secs(models::files::DEFAULT_URL_EXPIRY_SECONDS as u64);
        let mut parts = Vec::with_capacity(plan.part_count as usize);
        for number in 1..=plan.part_count {
            let presigned = self
                .s3
                .upload_part()
                .bucket(&self.storage.bucket)
                .key(object_key(id))
                .upload_id(&upload_id)
                .part_number(number as i32)
                .presigned(presigning(expires_in)?)
                .await
                .map_err(|e| DomainError::Internal(format!("presigning part {number}: {e}")))?;
            parts.push(UploadPart {
                part_number: number,
                size: plan.part_len(number),
                request: presigned_request(&presigned, expires_in),
            });
        }
        Ok(MultipartUpload::new(id.clone(), upload_id, plan, parts))
    }

    /// The parts S3 holds of a multipart upload: (number, bytes, ETag), ascending.
    async fn uploaded_parts(
        &self,
        id: &FileId,
        upload_id: &str,
    ) -> Result<Vec<(u64, u64, String)>> {
        let mut parts = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .s3
                .list_parts()
                .bucket(&self.storage.bucket)
                .key(object_key(id))
                .upload_id(upload_id)
                .set_part_number_marker(marker)
                .send()
                .await;
            let page = match page {
                Ok(page) => page,
                Err(err)
                    if err.as_service_error().and_then(|e| e.code()) == Some("NoSuchUpload") =>
                {
                    return Err(DomainError::Conflict(format!(
                        "file {id}: multipart upload {upload_id} no longer exists (it was \
                         aborted); start a new one"
                    )))
                }
                Err(err) => return Err(map_storage_error("ListParts", err)),
            };
            for part in page.parts() {
                parts.push((
                    part.part_number().unwrap_or(0) as u64,
                    part.size().unwrap_or(0) as u64,
                    part.e_tag().unwrap_or_default().to_owned(),
                ));
            }
            marker = page.next_part_number_marker().map(str::to_owned);
            if !page.is_truncated().unwrap_or(false) || marker.is_none() {
                break;
            }
        }
        parts.sort_unstable();
        Ok(parts)
    }

    /// Puts a multipart upload's parts together in S3 and leaves the file VERIFYING: S3 then
    /// tells the verifier function ([`Catalog::verify_upload`]), which hashes the object. The
    /// file is VERIFYING before the object exists, so the verifier always finds it so.
    async fn complete_multipart(
        &self,
        file: &File,
        upload_id: &str,
        plan: PartPlan,
    ) -> Result<File> {
        let id = &file.file_id;
        let parts = self.uploaded_parts(id, upload_id).await?;
        let sizes: Vec<(u64, u64)> = parts.iter().map(|(n, size, _)| (*n, *size)).collect();
        if let Some(refused) = plan.refuse_parts(id, &sizes) {
            return Err(refused);
        }
        let verifying = self
            .set_upload_state(
                id,
                upload_id,
                FileState::PendingUpload,
                FileState::Verifying,
            )
            .await?;
        let completed: Vec<_> = parts
            .iter()
            .filter(|(number, _, _)| *number <= plan.part_count)
            .map(|(number, _, etag)| {
                aws_sdk_s3::types::CompletedPart::builder()
                    .part_number(*number as i32)
                    .e_tag(etag)
                    .build()
            })
            .collect();
        let output = self
            .s3
            .complete_multipart_upload()
            .bucket(&self.storage.bucket)
            .key(object_key(id))
            .upload_id(upload_id)
            .multipart_upload(
                aws_sdk_s3::types::CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await;
        if let Err(err) = output {
            self.set_upload_state(
                id,
                upload_id,
                FileState::Verifying,
                FileState::PendingUpload,
            )
            .await?;
            return Err(match err.as_service_error().and_then(|e| e.code()) {
                Some(
                    code @ ("InvalidPart" | "InvalidPartOrder" | "EntityTooSmall" | "NoSuchUpload"),
                ) => DomainError::Conflict(format!(
                    "file {id}: S3 refused to put the parts together ({code}): {}; send \
                         the parts again, or start a new multipart upload",
                    err.as_service_error()
                        .and_then(|e| e.message())
                        .unwrap_or("")
                )),
                _ => map_storage_error("CompleteMultipartUpload", err),
            });
        }
        Ok(verifying)
    }

    /// Moves a file whose multipart upload is `upload_id` from `from` to `to`.
    async fn set_upload_state(
        &self,
        id: &FileId,
        upload_id: &str,
        from: FileState,
        to: FileState,
    ) -> Result<File> {
        let output = self
            .state_update(id, from, to)
            .condition_expression("#state = :from AND uploadId = :upload")
            .expression_attribute_values(":upload", s(upload_id))
            .send()
            .await;
        match output {
            Ok(output) => self.file_from(&output.attributes.unwrap_or_default()),
            Err(err) if is_condition_failure(&err) => Err(DomainError::Conflict(format!(
                "file {id}: another request completed or replaced upload {upload_id} meanwhile"
            ))),
            Err(err) => Err(map_storage_error("UpdateItem", err)),
        }
    }

    /// What S3's notification of a completed multipart upload starts: reads `object` (its key)
    /// back, hashes it, and moves its VERIFYING file to DRAFT when the sha256 is the file's, or
    /// back to PENDING_UPLOAD with `uploadError` (and the object deleted) when it is not.
    pub(crate) async fn verify_upload(&self, object: &str) -> Result<Verification> {
        let Some(id) = object
            .strip_prefix("files/")
            .and_then(|id| FileId::parse(id).ok())
        else {
            return Ok(Verification::Ignored(format!(
                "{object} is not a file's object"
            )));
        };
        let Some(item) = self.get("GetItem", file_pk(&id)).await? else {
            return Ok(Verification::Ignored(format!("file {id} no longer exists")));
        };
        let file = self.file_from(&item)?;
        if file.state != FileState::Verifying {
            return Ok(Verification::Ignored(format!(
                "file {id} is {}, not VERIFYING",
                file.state.as_str()
            )));
        }
        let fetched = self
            .s3
            .get_object()
            .bucket(&self.storage.bucket)
            .key(object)
            .send()
            .await
            .map_err(|e| map_storage_error("GetObject", e))?;
        let mut body = fetched.body;
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        let mut size = 0u64;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| DomainError::Unavailable(format!("reading {object}: {e}")))?
        {
            size += chunk.len() as u64;
            sha2::Digest::update(&mut hasher, &chunk);
        }
        let actual = models::digest::hex(&sha2::Digest::finalize(hasher));
        let matches = actual == file.checksum.as_str();
        let mut update = self
            .dynamodb
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(file_pk(&id))))
            .condition_expression("#state = :verifying")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":verifying", s(FileState::Verifying.as_str()))
            .expression_attribute_values(":now", n(millis(OffsetDateTime::now_utc())));
        let why = models::files::digest_mismatch(&actual, &file.checksum);
        update = if matches {
            update
                .update_expression(
                    "SET #state = :draft, #size = :size, verified = :true, updatedAt = :now \
                     REMOVE uploadId, uploadSize, partSize, uploadError",
                )
                .expression_attribute_names("#size", "size")
                .expression_attribute_values(":draft", s(FileState::Draft.as_str()))
                .expression_attribute_values(":size", n(size))
                .expression_attribute_values(":true", AttributeValue::Bool(true))
        } else {
            self.s3
                .delete_object()
                .bucket(&self.storage.bucket)
                .key(object)
                .send()
                .await
                .map_err(|e| map_storage_error("DeleteObject", e))?;
            update
                .update_expression(
                    "SET #state = :pending, uploadError = :why, updatedAt = :now \
                     REMOVE uploadId, uploadSize, partSize",
                )
                .expression_attribute_values(":pending", s(FileState::PendingUpload.as_str()))
                .expression_attribute_values(":why", s(why.clone()))
        };
        match update.send().await {
            Ok(_) if matches => Ok(Verification::Verified { size }),
            Ok(_) => Ok(Verification::Refused(why)),
            Err(err) if is_condition_failure(&err) => Ok(Verification::Ignored(format!(
                "file {id} changed while its bytes were read"
            ))),
            Err(err) => Err(map_storage_error("UpdateItem", err)),
        }
    }

    pub(crate) async fn complete_upload(&self, id: &FileId) -> Result<File> {
        let item = self.file_item(id).await?;
        let file = self.file_from(&item)?;
        if file.state != FileState::PendingUpload {
            return Err(DomainError::InvalidStateTransition(format!(
                "file {id} is {}: its upload was completed already",
                file.state.as_str()
            )));
        }
        if let Some((upload_id, plan)) = multipart_of(&item)? {
            return self.complete_multipart(&file, &upload_id, plan).await;
        }
        let no_bytes = || {
            DomainError::Conflict(format!(
                "file {id} has no verified bytes yet: PUT them to the URL of \
                 POST /files/by-id/{id}/upload (bytes whose sha256 is not the file's checksum \
                 are refused) and complete again"
            ))
        };
        let head = self
            .s3
            .head_object()
            .bucket(&self.storage.bucket)
            .key(object_key(id))
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await;
        let head = match head {
            Ok(head) => head,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => {
                return Err(no_bytes())
            }
            Err(err) => return Err(map_storage_error("HeadObject", err)),
        };
        let expected = models::files::sha256_header_value(&file.checksum)?;
        if head.checksum_sha256() != Some(expected.as_str()) {
            return Err(no_bytes());
        }
        let size = head.content_length().unwrap_or(0);
        let output = self
            .dynamodb
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(file_pk(id))))
            .update_expression(
                "SET #state = :draft, updatedAt = :now, #size = :size, verified = :true",
            )
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#size", "size")
            .expression_attribute_values(":draft", s(FileState::Draft.as_str()))
            .expression_attribute_values(":pending", s(FileState::PendingUpload.as_str()))
            .expression_attribute_values(":now", n(millis(OffsetDateTime::now_utc())))
            .expression_attribute_values(":size", n(size))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match output {
            Ok(output) => self.file_from(&output.attributes.unwrap_or_default()),
            Err(err) if is_condition_failure(&err) => Err(DomainError::InvalidStateTransition(
                format!("file {id}: its upload was completed already"),
            )),
            Err(err) => Err(map_storage_error("UpdateItem", err)),
        }
    }

    pub(crate) async fn download_file(&self, id: &FileId, expires_in_sec: i64) -> Result<Download> {
        if let Some(download) = self
            .describe_file(id)
            .await?
            .download_without_presigning()?
        {
            return Ok(download);
        }
        let expires_in = Duration::from_secs(expires_in_sec.max(1) as u64);
        let presigned = self
            .s3
            .get_object()
            .bucket(&self.storage.bucket)
            .key(object_key(id))
            .presigned(presigning(expires_in)?)
            .await
            .map_err(|e| DomainError::Internal(format!("presigning the download: {e}")))?;
        Ok(Download {
            url: presigned.uri().to_owned(),
            expires_at: Some(OffsetDateTime::now_utc() + expires_in),
        })
    }

    /// Records that `job` delivers `files`, each only while it is PUBLISHED or DEPRECATED.
    pub(crate) async fn deliver(&self, job: &JobId, files: &[FileId]) -> Result<()> {
        for id in files {
            let output = self
                .dynamodb
                .update_item()
                .table_name(self.table())
                .set_key(Some(key(file_pk(id))))
                .update_expression("ADD jobs :job")
                .condition_expression("#state IN (:published, :deprecated)")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":job", AttributeValue::Ss(vec![job.to_string()]))
                .expression_attribute_values(":published", s(FileState::Published.as_str()))
                .expression_attribute_values(":deprecated", s(FileState::Deprecated.as_str()))
                .send()
                .await;
            match output {
                Ok(_) => {}
                Err(err) if is_condition_failure(&err) => {
                    let file = self.describe_file(id).await.map_err(|e| match e {
                        DomainError::NotFound(_) => {
                            DomainError::NotFound(format!("files: file {id} does not exist"))
                        }
                        other => other,
                    })?;
                    return Err(models::files::refuse_delivery(&file).unwrap_or_else(|| {
                        DomainError::Conflict(format!("files: file {id} changed meanwhile; retry"))
                    }));
                }
                Err(err) => return Err(map_storage_error("UpdateItem", err)),
            }
        }
        Ok(())
    }
}

/// What one item of a create transaction stands for.
enum Position {
    /// A new file's item (whose id is fresh, so its condition fails only on a UUID collision).
    File,
    Version(usize),
    Category(usize),
}

/// What the verifier did with one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// The bytes have the file's sha256: the file is DRAFT.
    Verified { size: u64 },
    /// They do not: the object is deleted and the file PENDING_UPLOAD, with this reason.
    Refused(String),
    /// Nothing to verify (not a file's object, or its file is not VERIFYING), and why.
    Ignored(String),
}

/// A file's multipart upload in progress, as its item records it.
fn multipart_of(item: &Item) -> Result<Option<(String, PartPlan)>> {
    let Some(upload_id) = text_opt(item, "uploadId")? else {
        return Ok(None);
    };
    let size = number(item, "uploadSize")? as u64;
    let part_size = number(item, "partSize")? as u64;
    if part_size == 0 {
        return Err(stored_fault("partSize"));
    }
    Ok(Some((
        upload_id,
        PartPlan {
            size,
            part_size,
            part_count: size.div_ceil(part_size),
        },
    )))
}

fn presigned_request(
    presigned: &aws_sdk_s3::presigning::PresignedRequest,
    expires_in: Duration,
) -> PresignedRequest {
    PresignedRequest {
        method: presigned.method().to_owned(),
        url: presigned.uri().to_owned(),
        headers: presigned
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        expires_at: OffsetDateTime::now_utc() + expires_in,
    }
}

fn presigning(expires_in: Duration) -> Result<aws_sdk_s3::presigning::PresigningConfig> {
    aws_sdk_s3::presigning::PresigningConfig::expires_in(expires_in)
        .map_err(|e| DomainError::Internal(format!("presigning: {e}")))
}

fn is_condition_failure<R>(
    err: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::update_item::UpdateItemError,
        R,
    >,
) -> bool {
    err.as_service_error()
        .is_some_and(|e| e.is_conditional_check_failed_exception())
}

fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A page token: the list it belongs to and the last item's key in that index, as JSON.
fn encode_token(list: &str, item: &Item, hash_name: &str) -> Result<NextToken> {
    let mut key = serde_json::Map::new();
    for name in ["pk", hash_name, "createdKey"] {
        let value = text(item, name)?;
        key.insert(name.to_owned(), serde_json::Value::String(value));
    }
    let json = serde_json::json!({ "list": list, "key": key });
    Ok(NextToken::new(URL_SAFE_NO_PAD.encode(json.to_string())))
}

fn decode_token(list: &str, token: &NextToken) -> Result<Item> {
    let bytes = URL_SAFE_NO_PAD
        .decode(token.as_str())
        .map_err(|_| NextToken::invalid())?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| NextToken::invalid())?;
    if value["list"] != list {
        return Err(NextToken::invalid());
    }
    let key = value["key"].as_object().ok_or_else(NextToken::invalid)?;
    key.iter()
        .map(|(name, value)| {
            value
                .as_str()
                .map(|v| (name.clone(), s(v)))
                .ok_or_else(NextToken::invalid)
        })
        .collect()
}
