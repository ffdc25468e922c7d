//! The time budget of one invocation.
//!
//! Built from the runtime's deadline (`lambda-runtime-deadline-ms`, epoch
//! milliseconds) minus a safety margin that leaves time to post the response,
//! optionally capped (API Gateway gives up after 29–30 s whatever the Lambda
//! timeout). Every upstream call runs under [`Deadline::run`].
//!
//! Local emulators sometimes send a constant instead of an epoch time
//! (cargo-lambda sends `600000`, i.e. 1970): a deadline that is not a
//! plausible epoch time is replaced by a configured fallback budget, and one
//! absurdly far away is capped at Lambda's 15-minute maximum.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::error::AppError;

/// Deadlines before this (2001-09-09) are not epoch times.
const MIN_PLAUSIBLE_EPOCH_MS: u64 = 1_000_000_000_000;
/// Lambda's maximum timeout.
const MAX_BUDGET: Duration = Duration::from_secs(900);

/// Where a deadline came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeadlineSource {
    /// The runtime's deadline header.
    Runtime,
    /// The header was not a plausible epoch time; the fallback budget applies.
    Fallback,
}

/// The instant by which the invocation's work must be done.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    at: Instant,
    source: DeadlineSource,
}

impl Deadline {
    /// From the runtime's epoch-millisecond deadline, less `margin`.
    pub(crate) fn from_epoch_ms(deadline_ms: u64, fallback: Duration, margin: Duration) -> Self {
        let now_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let (budget, source) = if deadline_ms >= MIN_PLAUSIBLE_EPOCH_MS {
            let left = Duration::from_millis(deadline_ms).saturating_sub(now_epoch);
            (left.min(MAX_BUDGET), DeadlineSource::Runtime)
        } else {
            (fallback.min(MAX_BUDGET), DeadlineSource::Fallback)
        };
        Deadline {
            at: Instant::now() + budget.saturating_sub(margin),
            source,
        }
    }

    /// A deadline `budget` from now (tests, tools).
    pub(crate) fn after(budget: Duration) -> Self {
        Deadline {
            at: Instant::now() + budget,
            source: DeadlineSource::Runtime,
        }
    }

    /// This deadline, or `max` from now if that comes first.
    pub(crate) fn capped(self, max: Duration) -> Self {
        Deadline {
            at: self.at.min(Instant::now() + max),
            ..self
        }
    }

    /// Where the deadline came from.
    pub(crate) fn source(&self) -> DeadlineSource {
        self.source
    }

    /// Time left (zero once passed).
    pub(crate) fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// `configured`, shortened to the time left.
    pub(crate) fn bound(&self, configured: Duration) -> Duration {
        configured.min(self.remaining())
    }

    /// Run `step` (described by `what` in the error) unless the deadline
    /// passes first.
    pub(crate) async fn run<T, F>(&self, what: &str, step: F) -> Result<T, AppError>
    where
        F: Future<Output = Result<T, AppError>>,
    {
        let left = self.remaining();
        if left.is_zero() {
            return Err(AppError::deadline(what));
        }
        tokio::time::timeout(left, step)
            .await
            .unwrap_or_else(|_| Err(AppError::deadline(what)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn epoch_ms_in(d: Duration) -> u64 {
        (SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + d).as_millis() as u64
    }

    #[tokio::test(start_paused = true)]
    async fn real_deadline_less_margin() {
        let d = Deadline::from_epoch_ms(
            epoch_ms_in(Duration::from_secs(10)),
            Duration::from_secs(99),
            Duration::from_millis(500),
        );
        assert_eq!(d.source(), DeadlineSource::Runtime);
        let left = d.remaining();
        assert!(
            left <= Duration::from_millis(9_500) && left > Duration::from_millis(9_000),
            "{left:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn emulator_constant_uses_fallback() {
        let d =
            Deadline::from_epoch_ms(600_000, Duration::from_secs(30), Duration::from_millis(500));
        assert_eq!(d.source(), DeadlineSource::Fallback);
        assert_eq!(d.remaining(), Duration::from_millis(29_500));
    }

    #[tokio::test(start_paused = true)]
    async fn far_future_is_capped_and_past_is_zero() {
        let d = Deadline::from_epoch_ms(u64::MAX / 2, Duration::from_secs(30), Duration::ZERO);
        assert_eq!(d.remaining(), MAX_BUDGET);
        let d = Deadline::from_epoch_ms(
            epoch_ms_in(Duration::ZERO) - 5_000,
            Duration::from_secs(30),
            Duration::ZERO,
        );
        assert_eq!(d.remaining(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn capped_and_bound() {
        let d = Deadline::after(Duration::from_secs(60)).capped(Duration::from_secs(29));
        assert_eq!(d.remaining(), Duration::from_secs(29));
        assert_eq!(d.bound(Duration::from_secs(5)), Duration::from_secs(5));
        assert_eq!(d.bound(Duration::from_secs(50)), Duration::from_secs(29));
    }

    #[tokio::test(start_paused = true)]
    async fn run_times_out_with_a_deadline_error() {
        let d = Deadline::after(Duration::from_secs(1));
        let ok = d
            .run("fast step", async { Ok::<_, AppError>(7) })
            .await
            .unwrap();
        assert_eq!(ok, 7);
        let err = d
            .run("slow step", async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok::<_, AppError>(())
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
        assert!(err.message().contains("slow step"));
        let err = d
            .run("late step", async { Ok::<_, AppError>(()) })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    }
}
