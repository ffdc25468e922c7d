//! What one invocation carries down to every provider and upstream call,
//! passed by reference: its deadline, counters, redactor, the shared secret
//! cache, and who called (the caller's kind and what it may do).

use crate::deadline::Deadline;
use crate::redact::Redactor;
use crate::secrets::SecretCache;
use crate::telemetry::InvocationStats;
use crate::trigger::TriggerKind;

/// A class of caller, as statements and rights see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CallerClass {
    /// Console, CLI or SDK invocations (and rules/schedules with constant Input).
    Direct,
    /// EventBridge rules and Scheduler schedules delivering their envelope.
    Schedule,
    /// API Gateway and Function URL requests.
    Http,
}

impl CallerClass {
    /// The word used in statements files and messages.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CallerClass::Direct => "direct",
            CallerClass::Schedule => "schedule",
            CallerClass::Http => "http",
        }
    }
}

/// Who called, and what that allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Caller {
    /// The trigger.
    pub(crate) trigger: TriggerKind,
    /// The largest response this caller can receive, in bytes.
    pub(crate) response_limit: usize,
}

impl Caller {
    /// The caller's class.
    pub(crate) fn class(&self) -> CallerClass {
        match self.trigger {
            TriggerKind::EventBridge | TriggerKind::Scheduler => CallerClass::Schedule,
            t if t.is_http() => CallerClass::Http,
            _ => CallerClass::Direct,
        }
    }

    /// Bytes of rows a page may hold: the response limit less room for the
    /// envelope and, for HTTP callers, for escaping a JSON body inside the
    /// JSON proxy response.
    pub(crate) fn row_budget(&self) -> usize {
        let usable = if self.trigger.is_http() {
            self.response_limit / 10 * 7
        } else {
            self.response_limit / 10 * 9
        };
        usable.saturating_sub(16 * 1024).max(1024)
    }
}

/// The per-invocation context.
pub(crate) struct Ctx<'a, S> {
    /// When the work must be done.
    pub(crate) deadline: &'a Deadline,
    /// Counters for logs and metrics.
    pub(crate) stats: &'a InvocationStats,
    /// Every secret value this invocation holds.
    pub(crate) redactor: &'a Redactor,
    /// The process-wide secret cache.
    pub(crate) secrets: &'a SecretCache<S>,
    /// Who called.
    pub(crate) caller: Caller,
    /// The Lambda request id.
    pub(crate) request_id: &'a str,
    /// The time the invocation stands for: an EventBridge envelope's
    /// `time`, else when the invocation started (UTC).
    pub(crate) occurred: chrono::DateTime<chrono::Utc>,
}
