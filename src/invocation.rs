//! What one invocation carries down to every upstream call: its deadline,
//! its counters and its redactor (which learns each secret value as it is
//! read, so every upstream text can be cleaned of it).

use crate::deadline::Deadline;
use crate::redact::Redactor;
use crate::telemetry::InvocationStats;

/// The per-invocation context, passed by reference.
#[derive(Clone, Copy, Debug)]
pub struct InvocationCtx<'a> {
    /// When the work must be done.
    pub deadline: &'a Deadline,
    /// Counters for logs and metrics.
    pub stats: &'a InvocationStats,
    /// Every secret value this invocation holds.
    pub redactor: &'a Redactor,
}
