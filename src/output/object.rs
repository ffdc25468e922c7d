//! One object being written: rows encoded into a buffer that goes to S3 in
//! one conditional PutObject when the object is small, or as a multipart
//! upload — a part whenever the buffer reaches the part size, completed
//! with `If-None-Match: *` — when it is not. A part is uploaded while the
//! next one's rows are fetched and encoded; memory stays bounded by two
//! parts plus the rows handed in at once, whatever the object's size.

use super::format::{Encoder, Format, encoder};
use super::key::ObjectUri;
use super::s3::{ObjectMeta, S3Client, Written};
use crate::deadline::Deadline;
use crate::error::AppError;
use crate::redact::Redactor;
use crate::response::Column;
use crate::table::Table;

/// A part on its way to S3 (its number and ETag once there).
type PartUpload = tokio::task::JoinHandle<Result<(u32, String), AppError>>;

/// A multipart upload in progress: the parts S3 has, and the one on its
/// way — uploaded while the next part's rows are fetched and encoded.
struct Upload {
    id: String,
    parts: Vec<(u32, String)>,
    in_flight: Option<PartUpload>,
}

impl Upload {
    /// Wait for the part on its way, if any.
    async fn settle(&mut self) -> Result<(), AppError> {
        if let Some(part) = self.in_flight.take() {
            let done = part
                .await
                .map_err(|e| AppError::internal(format!("a part upload did not finish: {e}")))??;
            self.parts.push(done);
        }
        Ok(())
    }
}

/// What writing the object did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Finished {
    /// Whether this invocation created the object (`false`: one was there).
    pub(crate) written: bool,
    /// Its `ETag` (when written).
    pub(crate) etag: Option<String>,
    /// Rows encoded.
    pub(crate) rows: u64,
    /// Bytes encoded.
    pub(crate) bytes: u64,
}

/// Writes one object; see the module doc.
pub(crate) struct ObjectWriter<'a> {
    s3: &'a S3Client,
    redactor: &'a Redactor,
    uri: &'a ObjectUri,
    format: Format,
    deadline: &'a Deadline,
    part_bytes: usize,
    meta: ObjectMeta,
    encoder: Option<Box<dyn Encoder>>,
    buf: Vec<u8>,
    upload: Option<Upload>,
    rows: u64,
    bytes: u64,
}

impl<'a> ObjectWriter<'a> {
    pub(crate) fn new(
        s3: &'a S3Client,
        uri: &'a ObjectUri,
        format: Format,
        meta: ObjectMeta,
        part_bytes: usize,
        deadline: &'a Deadline,
        redactor: &'a Redactor,
    ) -> Self {
        ObjectWriter {
            s3,
            redactor,
            uri,
            format,
            deadline,
            part_bytes,
            meta,
            encoder: None,
            buf: Vec::new(),
            upload: None,
            rows: 0,
            bytes: 0,
        }
    }

    /// Start the object: rows will come under `columns`; `rows` is the
    /// count recorded on the object (`x-amz-meta-rows`), known before the
    /// first row (a multipart upload's metadata is set when it starts).
    pub(crate) fn begin(&mut self, columns: &[Column], rows: u64) -> Result<(), AppError> {
        self.encoder = Some(encoder(self.format, columns)?);
        self.meta.user.push(("x-amz-meta-rows", rows.to_string()));
        Ok(())
    }

    /// Append `table`'s rows; ship a part when the buffer is full.
    pub(crate) async fn write(&mut self, table: &Table) -> Result<(), AppError> {
        let encoder = self
            .encoder
            .as_mut()
            .ok_or_else(|| AppError::internal("rows written before the object was begun"))?;
        // A credential an upstream echoed into its rows is masked, as in a
        // response: an object is output too.
        let masked;
        let table = if table.any_text(|t| self.redactor.echoes_sent(t)) {
            masked = table.cleaned(|t| self.redactor.clean_json(t));
            &masked
        } else {
            table
        };
        let before = self.buf.len();
        encoder.write(table, &mut self.buf)?;
        self.bytes += (self.buf.len() - before) as u64;
        self.rows += table.rows() as u64;
        if self.buf.len() >= self.part_bytes {
            self.ship_part().await?;
        }
        Ok(())
    }

    async fn ship_part(&mut self) -> Result<(), AppError> {
        self.start_part().await?;
        let Some(upload) = self.upload.as_mut() else {
            return Err(AppError::internal("no upload in progress"));
        };
        // One part in flight at a time: memory holds at most the part being
        // sent and the one being filled.
        upload.settle().await?;
        let number = upload.parts.len() as u32 + 1;
        if number > 10_000 {
            return Err(AppError::new(
                crate::error::ErrorKind::OutputFailed,
                format!(
                    "the object would need more than S3's 10,000 parts; raise OUTPUT_PART_BYTES (now {})",
                    self.part_bytes
                ),
            ));
        }
        let body = std::mem::replace(&mut self.buf, Vec::with_capacity(self.part_bytes));
        let (s3, uri, id, deadline) = (
            self.s3.clone(),
            self.uri.clone(),
            upload.id.clone(),
            *self.deadline,
        );
        upload.in_flight = Some(tokio::spawn(async move {
            let etag = s3.upload_part(&uri, &id, number, body, &deadline).await?;
            Ok((number, etag))
        }));
        Ok(())
    }

    /// Start the multipart upload, unless it is started.
    async fn start_part(&mut self) -> Result<(), AppError> {
        if self.upload.is_none() {
            let id = self
                .s3
                .create_upload(self.uri, &self.meta, self.deadline)
                .await?;
            self.upload = Some(Upload {
                id,
                parts: Vec::new(),
                in_flight: None,
            });
        }
        Ok(())
    }

    /// End the object and write it (or complete the upload), unless an
    /// object with its key appeared meanwhile.
    pub(crate) async fn finish(&mut self) -> Result<Finished, AppError> {
        let encoder = self
            .encoder
            .take()
            .ok_or_else(|| AppError::internal("an object finished before it was begun"))?;
        let before = self.buf.len();
        encoder.finish(&mut self.buf)?;
        self.bytes += (self.buf.len() - before) as u64;
        let written = match &self.upload {
            None => {
                let body = std::mem::take(&mut self.buf);
                self.s3
                    .put_if_absent(self.uri, body, &self.meta, self.deadline)
                    .await?
            }
            Some(_) => {
                if !self.buf.is_empty() {
                    self.ship_part().await?;
                }
                let Some(upload) = self.upload.as_mut() else {
                    return Err(AppError::internal("no upload in progress"));
                };
                upload.settle().await?;
                let done = self
                    .s3
                    .complete_if_absent(self.uri, &upload.id, &upload.parts, self.deadline)
                    .await?;
                if done == Written::AlreadyThere {
                    self.abort().await;
                } else {
                    self.upload = None;
                }
                done
            }
        };
        Ok(Finished {
            written: matches!(written, Written::Created(_)),
            etag: match written {
                Written::Created(etag) => Some(etag),
                Written::AlreadyThere => None,
            },
            rows: self.rows,
            bytes: self.bytes,
        })
    }

    /// Abandon a multipart upload in progress (after a failure).
    pub(crate) async fn abort(&mut self) {
        if let Some(mut upload) = self.upload.take() {
            if let Some(part) = upload.in_flight.take() {
                part.abort();
                let _ = part.await;
            }
            self.s3.abort(self.uri, &upload.id, self.deadline).await;
        }
    }
}
