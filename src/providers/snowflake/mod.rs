//! The Snowflake SQL API v2 provider: its settings, named statements (or,
//! for direct invocations where enabled, ad-hoc SQL) run with typed
//! bindings, its HTTP route, key-pair/PAT/OAuth authentication, the client,
//! results decoded to natural JSON, downloaded partition by partition with
//! bounded parallelism, and paged with tamper-evident cursors when they
//! would not fit in one response.

pub(crate) mod auth;
pub(crate) mod client;
pub(crate) mod cursor;
pub(crate) mod decode;
pub(crate) mod page;
pub(crate) mod results;
pub(crate) mod routes;
pub(crate) mod settings;
pub(crate) mod statements;
pub(crate) mod task;

#[cfg(test)]
mod properties;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use self::auth::{Auth, Credential, JwtCache, Session};
use self::client::{Connection, ResultMeta, ResultSet, SnowflakeClient, StatementStatus, is_statement_gone};
use self::cursor::CursorState;
use self::results::{ResultStore, StoredMeta};
pub(crate) use self::settings::SnowflakeSettings;
use self::statements::Statements;
use self::task::Plan;
pub(crate) use self::task::SnowflakeTask;
use super::{Provider, Shared};
use crate::config::Env;
use crate::context::{CallerClass, Ctx};
use crate::deadline::Deadline;
use crate::error::{AppError, ErrorKind};
use crate::redact::Redactor;
use crate::output::ObjectWriter;
use crate::output::key::Placeholder;
use crate::response::{FetchResult, RenderedBody};
use crate::row_renderer::{RowRenderer, Tail};
use crate::table::Table;
use crate::secrets::refresh::{Attempt, RetryPolicy, with_credential};
use crate::secrets::{SecretRef, SecretSource, SecretValue};
use crate::telemetry::InvocationStats;

/// What identifies an execution for `cache_secs`: the statement, its
/// bindings, and the account, role, warehouse, database and schema it runs
/// as (never the credential).
fn execution_key(plan: &Plan, session: &Session, base_url: &str) -> String {
    let bindings = serde_json::to_string(&plan.bindings).unwrap_or_default();
    let field = |v: &Option<String>| v.clone().unwrap_or_default();
    format!(
        "{}\u{1f}{bindings}\u{1f}{base_url}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
        plan.key,
        field(&session.user),
        field(&session.role),
        field(&session.warehouse),
        field(&session.database),
        field(&session.schema)
    )
}

/// Time kept to cancel a statement that is still running as the deadline nears.
const CANCEL_RESERVE: Duration = Duration::from_millis(1500);
/// Polling starts this fast and slows to [`POLL_MAX`].
const POLL_FIRST: Duration = Duration::from_millis(200);
const POLL_MAX: Duration = Duration::from_secs(2);

/// One statement's submission: its `requestId`, and whether it was already
/// sent (a resubmission then says `retry=true`, so Snowflake never runs the
/// statement twice).
struct Submission {
    request_id: String,
    sent: AtomicBool,
}

impl Submission {
    fn new() -> Self {
        Submission {
            request_id: uuid::Uuid::new_v4().to_string(),
            sent: AtomicBool::new(false),
        }
    }

    /// Mark it sent; whether it had been sent before.
    fn resubmission(&self) -> bool {
        self.sent.swap(true, Ordering::SeqCst)
    }
}

/// The provider.
pub(crate) struct Snowflake {
    client: SnowflakeClient,
    settings: SnowflakeSettings,
    statements: Statements,
    jwt: JwtCache,
    parsed: Mutex<Option<(SecretValue, Arc<Credential>)>>,
    results: ResultStore,
}

impl Provider for Snowflake {
    const NAME: &'static str = "snowflake";
    const ROUTE: &'static str = "snowflake";
    const ROUTE_PARAM: &'static str = "query";
    type Settings = SnowflakeSettings;
    type Task = SnowflakeTask;

    fn settings(env: &Env<'_>) -> Result<Self::Settings, AppError> {
        SnowflakeSettings::from_env(env)
    }

    /// Load and check the statements file; partitions in flight are bounded
    /// by memory too (each may hold a body up to the cap while it is parsed).
    fn new(settings: &Self::Settings, shared: &Shared) -> Result<Self, AppError> {
        let statements = Statements::load(&settings.statements_file)?;
        if settings.secret.is_some() && statements.is_empty() && !settings.allow_ad_hoc {
            tracing::warn!(
                file = %settings.statements_file.display(),
                "SNOWFLAKE_SECRET is set but no named statements were found"
            );
        }
        let mut settings = settings.clone();
        settings.partition_concurrency = settings
            .partition_concurrency
            .min((shared.memory_mb / 64).max(1) as usize);
        Ok(Snowflake {
            client: SnowflakeClient::new(
                shared.http.clone(),
                settings.request_timeout,
                shared.body_cap,
            ),
            settings,
            statements,
            jwt: JwtCache::default(),
            parsed: Mutex::new(None),
            results: ResultStore::default(),
        })
    }

    fn task_from_route(name: &str, query: &[(String, String)]) -> Result<Self::Task, AppError> {
        routes::task_from_route(name, query)
    }

    fn check(&self, task: &SnowflakeTask, caller: CallerClass) -> Result<(), AppError> {
        whole_result_only(task)?;
        self.prepare(task, caller).map(|_| ())
    }

    fn placeholder(task: &SnowflakeTask, placeholder: Placeholder) -> Option<String> {
        match placeholder {
            Placeholder::Query => task.query.clone(),
            _ => None,
        }
    }

    async fn write<S: SecretSource>(
        &self,
        task: &SnowflakeTask,
        ctx: &Ctx<'_, S>,
        sink: &mut ObjectWriter<'_>,
    ) -> Result<FetchResult, AppError> {
        self.write_whole(task, ctx, sink).await
    }

    /// Run `task` for `ctx`'s caller; a page holds at most the caller's row
    /// budget.
    async fn fetch<S: SecretSource>(
        &self,
        task: &SnowflakeTask,
        ctx: &Ctx<'_, S>,
    ) -> Result<FetchResult, AppError> {
        let (plan, reference) = self.prepare(task, ctx.caller.class())?;
        let page_budget = ctx.caller.row_budget();
        let submission = Submission::new();
        with_credential(ctx, reference, &[], RetryPolicy::Always, async |secret, attempt| {
            let (credential, session, conn) = self.open(secret, reference, attempt, ctx.redactor)?;
            let run = self.execution(&conn, &plan, ctx);
            let mut reuse = None;
            let (rs, start) = match &task.cursor {
                Some(token) => {
                    let state = cursor::open(
                        token,
                        &credential.cursor_key(),
                        &plan.key,
                        plan.params_digest.as_deref(),
                    )?;
                    // Past partition 0, a result this sandbox paged before
                    // needs only its partitions.
                    let start = (state.partition, state.offset);
                    match self.results.meta(&state.handle).filter(|_| start.0 >= 1) {
                        Some(stored) => (Box::new(stored.result_set(&state.handle)), start),
                        None => (run.stored(&state.handle).await?, start),
                    }
                }
                None => {
                    let (rs, hit) = run.start(&session, &submission).await?;
                    reuse = hit;
                    (rs, (0, 0))
                }
            };
            let handle = rs.statement_handle.clone();
            let stored = (rs.result_set_meta_data.as_ref().is_some_and(|m| m.partition_info.len() > 1))
                .then(|| StoredMeta::of(&rs));
            let (mut result, renderer, next) = run.page(*rs, start, page_budget).await?;
            if let (Some(stored), Some(_)) = (stored, &next) {
                self.results.keep_meta(&handle, stored);
            }
            record_reuse(&mut result, reuse);
            result.next_cursor = next.map(|state| cursor::seal(state, &credential.cursor_key()));
            rendered(result, renderer).await
        })
        .await
    }
}

/// A task with `output` writes its whole result: a cursor cannot go with it.
fn whole_result_only(task: &SnowflakeTask) -> Result<(), AppError> {
    match task.cursor {
        Some(_) => Err(AppError::bad_request(
            "a task with output writes the whole result: drop 'cursor'",
        )),
        None => Ok(()),
    }
}

/// `result` with its body, which `renderer` has the rows of, rendered
/// whole: the page is complete and its cursor sealed.
async fn rendered(mut result: FetchResult, renderer: RowRenderer) -> Result<FetchResult, AppError> {
    let tail = Tail {
        row_count: result.row_count,
        meta: result.meta.clone(),
        next_cursor: result.next_cursor.clone(),
    };
    result.rendered = Some(RenderedBody(renderer.finish(tail).await?));
    Ok(result)
}

/// `meta.cache` for a statement with `cache_secs`: whether its stored
/// result was reused.
fn record_reuse(result: &mut FetchResult, reuse: Option<bool>) {
    if let Some(hit) = reuse {
        result
            .meta
            .insert("cache".into(), Value::from(if hit { "hit" } else { "miss" }));
    }
}

impl Snowflake {
    /// Run `task` and stream its whole result — every partition, up to
    /// `max_rows` — into `sink` (the `output` stage's writer).
    async fn write_whole<S: SecretSource>(
        &self,
        task: &SnowflakeTask,
        ctx: &Ctx<'_, S>,
        sink: &mut ObjectWriter<'_>,
    ) -> Result<FetchResult, AppError> {
        whole_result_only(task)?;
        let (plan, reference) = self.prepare(task, ctx.caller.class())?;
        let submission = Submission::new();
        // The credential is only needed until the statement has run (a
        // rejection then refreshes it once); partitions are fetched with
        // the same connection after.
        let (conn, rs, reuse) =
            with_credential(ctx, reference, &[], RetryPolicy::Always, async |secret, attempt| {
                let (_, session, conn) = self.open(secret, reference, attempt, ctx.redactor)?;
                let (rs, reuse) = self
                    .execution(&conn, &plan, ctx)
                    .start(&session, &submission)
                    .await?;
                Ok((conn, rs, reuse))
            })
            .await?;
        let mut result = self.execution(&conn, &plan, ctx).write_all(*rs, sink).await?;
        record_reuse(&mut result, reuse);
        Ok(result)
    }

    /// What `task` runs, checked for `caller` without any call, and where
    /// the credential lives.
    fn prepare(
        &self,
        task: &SnowflakeTask,
        caller: CallerClass,
    ) -> Result<(Plan, &SecretRef), AppError> {
        let plan = task.plan(&self.statements, caller, self.settings.allow_ad_hoc)?;
        let reference = self.settings.secret.as_ref().ok_or_else(|| {
            AppError::config(
                "SNOWFLAKE_SECRET is not set: this deployment cannot run Snowflake tasks",
            )
        })?;
        Ok((plan, reference))
    }

    /// The credential `secret` holds (its sensitive parts told to
    /// `redactor`), the session it runs as and a connection with it. After a
    /// refresh the cached JWT is dropped: it was minted from the credential
    /// just rejected.
    fn open(
        &self,
        secret: &SecretValue,
        reference: &SecretRef,
        attempt: Attempt,
        redactor: &Redactor,
    ) -> Result<(Arc<Credential>, Session, Connection), AppError> {
        if attempt == Attempt::AfterRefresh {
            self.jwt.clear();
        }
        let credential = self.credential(secret, reference)?;
        for value in &credential.sensitive {
            redactor.add(value.expose());
        }
        let session = credential.session.or(&self.settings.session);
        let conn = self.connect(&credential.auth, &session, redactor)?;
        Ok((credential, session, conn))
    }

    /// One attempt at `plan` on `conn`, within `ctx`'s deadline.
    fn execution<'a, S>(
        &'a self,
        conn: &'a Connection,
        plan: &'a Plan,
        ctx: &'a Ctx<'_, S>,
    ) -> Execution<'a> {
        Execution {
            provider: self,
            conn,
            plan,
            deadline: ctx.deadline,
            stats: ctx.stats,
        }
    }

    /// The parsed credential, reparsed only when the secret changes.
    fn credential(
        &self,
        secret: &SecretValue,
        reference: &SecretRef,
    ) -> Result<Arc<Credential>, AppError> {
        let mut cached = self.parsed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((value, credential)) = cached.as_ref()
            && value == secret
        {
            return Ok(credential.clone());
        }
        let credential = Arc::new(Credential::parse(secret, &reference.to_string())?);
        *cached = Some((secret.clone(), credential.clone()));
        Ok(credential)
    }

    fn connect(
        &self,
        auth: &Auth,
        session: &Session,
        redactor: &Redactor,
    ) -> Result<Connection, AppError> {
        let account = session.account.as_deref().ok_or_else(|| {
            AppError::config(
                "the Snowflake account is not set (SNOWFLAKE_ACCOUNT or 'account' in the secret)",
            )
        })?;
        if !account
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(AppError::config(
                "the Snowflake account identifier has invalid characters",
            ));
        }
        let base_url = match &self.settings.base_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!(
                "https://{}.snowflakecomputing.com",
                account.to_ascii_lowercase()
            ),
        };
        let (bearer, token_type) = match auth {
            Auth::KeyPair(key) => {
                let user = session.user.as_deref().ok_or_else(|| {
                    AppError::config(
                        "the Snowflake user is not set (SNOWFLAKE_USER or 'user' in the secret)",
                    )
                })?;
                (self.jwt.token(key, account, user)?, "KEYPAIR_JWT")
            }
            Auth::Token { token, token_type } => (token.clone(), *token_type),
        };
        // The bearer token is what leaves the function: an upstream can only
        // echo this one back.
        redactor.add_sent(bearer.expose());
        Ok(Connection {
            base_url,
            bearer,
            token_type,
        })
    }
}

/// One attempt at a task with one connection (a statement run or resumed).
struct Execution<'a> {
    provider: &'a Snowflake,
    conn: &'a Connection,
    plan: &'a Plan,
    deadline: &'a Deadline,
    stats: &'a InvocationStats,
}

impl Execution<'_> {
    fn client(&self) -> &SnowflakeClient {
        &self.provider.client
    }

    /// Submit (or resubmit with `retry=true`) and wait for the result.
    async fn execute(
        &self,
        session: &Session,
        submission: &Submission,
    ) -> Result<Box<ResultSet>, AppError> {
        let settings = &self.provider.settings;
        let timeout = self
            .plan
            .timeout_secs
            .map(Duration::from_secs)
            .unwrap_or(settings.statement_timeout)
            .min(self.deadline.remaining())
            .as_secs()
            .max(1);
        let mut body = json!({
            "statement": self.plan.sql,
            "timeout": timeout,
            "parameters": {"query_tag": format!("secret-fetch:{}", self.plan.name.as_deref().unwrap_or("adhoc"))},
        });
        for (field, value) in [
            ("role", &session.role),
            ("warehouse", &session.warehouse),
            ("database", &session.database),
            ("schema", &session.schema),
        ] {
            if let Some(v) = value {
                body[field] = Value::String(v.clone());
            }
        }
        if !self.plan.bindings.is_empty() {
            body["bindings"] = serde_json::to_value(&self.plan.bindings)
                .map_err(|e| AppError::internal(format!("could not encode the bindings: {e}")))?;
        }
        let resubmission = submission.resubmission();
        let started = Instant::now();
        let mut outcome = self
            .client()
            .submit(
                self.conn,
                &body,
                &submission.request_id,
                resubmission,
                self.deadline,
            )
            .await;
        self.stats.record_upstream(started.elapsed());
        let mut wait = POLL_FIRST;
        loop {
            match outcome? {
                StatementStatus::Done(rs) => return Ok(rs),
                StatementStatus::Running { handle } => {
                    if self.deadline.remaining() < CANCEL_RESERVE + wait {
                        return Err(self.cancel(&handle).await);
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 3 / 2).min(POLL_MAX);
                    let started = Instant::now();
                    outcome = self
                        .client()
                        .status(self.conn, &handle, self.deadline)
                        .await;
                    self.stats.record_upstream(started.elapsed());
                }
            }
        }
    }

    async fn cancel(&self, handle: &str) -> AppError {
        let budget = self.deadline.remaining().min(Duration::from_secs(1));
        let cancelled = self
            .client()
            .cancel(self.conn, handle, &Deadline::after(budget))
            .await;
        // The handle is upstream text: log only the characters a query id has.
        let shown: String = handle
            .chars()
            .filter(|c| c.is_ascii_hexdigit() || *c == '-')
            .take(64)
            .collect();
        tracing::warn!(
            statement_handle = %shown,
            cancelled = cancelled.is_ok(),
            "Snowflake statement still running as the deadline nears"
        );
        AppError::new(
            ErrorKind::DeadlineExceeded,
            format!(
                "the Snowflake statement was still running when the invocation deadline neared; {}",
                if cancelled.is_ok() {
                    "it was cancelled"
                } else {
                    "cancelling it failed"
                }
            ),
        )
    }

    /// Run the statement — or, with `cache_secs`, reuse an identical
    /// execution's stored result (`Some(true)`: reused; `Some(false)`: run
    /// and stored; `None`: no `cache_secs`).
    async fn start(
        &self,
        session: &Session,
        submission: &Submission,
    ) -> Result<(Box<ResultSet>, Option<bool>), AppError> {
        match self.plan.cache_secs {
            Some(secs) => {
                let key = execution_key(self.plan, session, &self.conn.base_url);
                let (rs, hit) = self.execute_or_reuse(session, submission, &key, secs).await?;
                if hit {
                    self.stats.record_upstream_cache_hit();
                }
                Ok((rs, Some(hit)))
            }
            None => Ok((self.execute(session, submission).await?, None)),
        }
    }

    /// Run the statement, or page the stored result of the identical
    /// execution `key` from less than `secs` seconds ago (`true`: reused).
    async fn execute_or_reuse(
        &self,
        session: &Session,
        submission: &Submission,
        key: &str,
        secs: u64,
    ) -> Result<(Box<ResultSet>, bool), AppError> {
        let results = &self.provider.results;
        if let Some(handle) = results.result(key, Duration::from_secs(secs)) {
            match self.stored(&handle).await {
                Ok(rs) => return Ok((rs, true)),
                // Gone (or unreadable) upstream: run it again.
                Err(e) if e.kind() == ErrorKind::CursorExpired => results.forget_result(key),
                Err(e) => return Err(e),
            }
        }
        let rs = self.execute(session, submission).await?;
        if !rs.statement_handle.is_empty() {
            results.keep_result(key, &rs.statement_handle);
        }
        Ok((rs, false))
    }

    /// Load the stored result `handle` names (its answer, with partition 0).
    async fn stored(&self, handle: &str) -> Result<Box<ResultSet>, AppError> {
        let started = Instant::now();
        let outcome = self
            .client()
            .status(self.conn, handle, self.deadline)
            .await;
        self.stats.record_upstream(started.elapsed());
        let outcome = outcome.map_err(|e| {
            if is_statement_gone(&e) {
                AppError::new(
                    ErrorKind::CursorExpired,
                    "the cursor's result is no longer held by Snowflake (results are kept for 24 hours); run the query again without a cursor",
                )
            } else {
                e
            }
        });
        match outcome? {
            StatementStatus::Done(rs) => Ok(rs),
            StatementStatus::Running { .. } => Err(AppError::new(
                ErrorKind::UpstreamFailed,
                "the cursor's statement is unexpectedly still running",
            )),
        }
    }

    /// Rows from `start` until the end, `max_rows` or the byte budget.
    async fn page(
        &self,
        rs: ResultSet,
        start: (usize, usize),
        budget: usize,
    ) -> Result<(FetchResult, RowRenderer, Option<CursorState>), AppError> {
        let ResultSet {
            result_set_meta_data,
            data,
            statement_handle,
            sql_state,
            stats,
            code: _,
        } = rs;
        let meta = result_set_meta_data.unwrap_or_default();
        let concurrency = self.provider.settings.partition_concurrency;
        let fetch = |range: std::ops::Range<usize>| {
            page::fetch_partition_texts(
                self.client(),
                self.conn,
                &statement_handle,
                range,
                concurrency,
                self.deadline,
            )
        };
        // The body is rendered on a blocking thread as each partition is
        // taken, beside the decoding of the next ones.
        let columns = decode::columns(&meta.row_type);
        // Its buffer is sized for the page's budget up front (pages that fill
        // it are the ones where growing by copies would cost most).
        let mut rendered = RowRenderer::start("snowflake", columns.clone(), budget + 64 * 1024);
        let paged = page::collect(
            &meta,
            data,
            start,
            self.plan.max_rows,
            budget,
            fetch,
            &mut rendered,
        )
        .await?;
        if paged.fetched > 0 {
            self.stats.record_upstream_batch(paged.fetched, paged.waited);
        }
        let next = paged.next.map(|(partition, offset)| CursorState {
            query: self.plan.key.clone(),
            handle: statement_handle.clone(),
            partition,
            offset,
            issued: 0,
            params: self.plan.params_digest.clone(),
        });
        let mut out_meta = self.result_meta(&meta, statement_handle, sql_state, stats);
        out_meta.insert(
            "page".into(),
            json!({"partition": start.0, "offset": start.1}),
        );
        let mut result = FetchResult::new("snowflake", columns, Table::default(), out_meta);
        result.row_count = paged.rows;
        Ok((result, rendered, next))
    }

    /// Every row from the start, up to `max_rows`, written into `sink`
    /// partition by partition as they arrive (fetched in order with bounded
    /// parallelism): at most the partitions in flight are held at once.
    async fn write_all(
        &self,
        rs: ResultSet,
        sink: &mut ObjectWriter<'_>,
    ) -> Result<FetchResult, AppError> {
        let ResultSet {
            result_set_meta_data,
            data,
            statement_handle,
            sql_state,
            stats,
            code: _,
        } = rs;
        let meta = result_set_meta_data.unwrap_or_default();
        let columns = decode::columns(&meta.row_type);
        let max_rows = self.plan.max_rows;
        let total = usize::try_from(meta.num_rows).unwrap_or(usize::MAX).min(max_rows);
        sink.begin(&columns, total as u64)?;
        let concurrency = self.provider.settings.partition_concurrency;
        let fetch = |range: std::ops::Range<usize>| {
            page::fetch_partitions(
                self.client(),
                self.conn,
                &statement_handle,
                range,
                concurrency,
                self.deadline,
            )
        };
        let streamed = page::stream(&meta, data, max_rows, fetch, async |table| {
            sink.write(table).await
        })
        .await?;
        if streamed.fetched > 0 {
            self.stats
                .record_upstream_batch(streamed.fetched, streamed.waited);
        }
        let meta_map = self.result_meta(&meta, statement_handle, sql_state, stats);
        let mut result = FetchResult::new("snowflake", columns, Table::new(Vec::new()), meta_map);
        result.row_count = streamed.rows;
        Ok(result)
    }

    /// The result's `meta`: query, statement handle, row and partition
    /// counts, SQL state and DML stats.
    fn result_meta(
        &self,
        meta: &ResultMeta,
        statement_handle: String,
        sql_state: Option<String>,
        stats: Option<Map<String, Value>>,
    ) -> Map<String, Value> {
        let mut out_meta = Map::new();
        out_meta.insert(
            "query".into(),
            self.plan.name.clone().map_or(Value::Null, Value::String),
        );
        out_meta.insert("statement_handle".into(), Value::String(statement_handle));
        out_meta.insert("num_rows".into(), Value::from(meta.num_rows));
        out_meta.insert(
            "partitions".into(),
            Value::from(meta.partition_info.len().max(1)),
        );
        if let Some(state) = sql_state {
            out_meta.insert("sql_state".into(), Value::String(state));
        }
        if let Some(stats) = stats {
            let normalised: Map<String, Value> = stats
                .into_iter()
                .map(|(k, v)| (page::snake(&k), v))
                .collect();
            out_meta.insert("stats".into(), Value::Object(normalised));
        }
        out_meta
    }
}
