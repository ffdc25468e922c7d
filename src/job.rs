//! A task document as the handler runs it: the provider's task, plus the
//! fields that apply to every provider — `output` (write the rows to S3)
//! and `as_of` (the time its key's `{date}` and `{time}` stand for).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::AppError;
use crate::output::{OutputSpec, parse_as_of};
use crate::providers::Task;

/// A task and where its rows go.
#[derive(Debug)]
pub(crate) struct Job {
    /// The provider's task.
    pub(crate) task: Task,
    /// Where to write the rows instead of returning them.
    pub(crate) output: Option<OutputSpec>,
    /// The occurrence the task stands for (a schedule's scheduled time).
    pub(crate) as_of: Option<DateTime<Utc>>,
}

impl Job {
    /// A task whose rows are returned.
    pub(crate) fn of(task: Task) -> Self {
        Job {
            task,
            output: None,
            as_of: None,
        }
    }

    /// Parse a task document; the error says what is wrong with it. `output`
    /// and `as_of` set to `null` count as absent.
    pub(crate) fn parse(value: Value) -> Result<Self, AppError> {
        let Value::Object(mut map) = value else {
            return Task::parse(value).map(Job::of);
        };
        let mut take = |name: &str| map.remove(name).filter(|v| !v.is_null());
        let output = take("output").map(OutputSpec::parse).transpose()?;
        let as_of = take("as_of").map(|v| parse_as_of(&v)).transpose()?;
        Ok(Job {
            task: Task::parse(Value::Object(map))?,
            output,
            as_of,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn output_and_as_of_are_taken_before_the_provider_sees_the_task() {
        let job = Job::parse(json!({
            "provider": "alpha_vantage", "function": "TIME_SERIES_DAILY", "symbol": "IBM",
            "output": {"uri": "s3://lake/av/{date}.csv"}, "as_of": "2024-03-22T18:59:43Z"
        }))
        .unwrap();
        assert_eq!(job.task.provider(), "alpha_vantage");
        assert!(job.output.is_some());
        assert_eq!(job.as_of.unwrap().to_rfc3339(), "2024-03-22T18:59:43+00:00");
        let plain =
            Job::parse(json!({"provider": "snowflake", "query": "q", "output": null})).unwrap();
        assert!(plain.output.is_none() && plain.as_of.is_none());
        for bad in [
            json!({"provider": "snowflake", "query": "q", "output": {"uri": "http://x/y.csv"}}),
            json!({"provider": "snowflake", "query": "q", "as_of": "yesterday"}),
            json!({"provider": "snowflake", "query": "q", "outptu": {}}),
            json!([1]),
        ] {
            assert_eq!(
                Job::parse(bad).unwrap_err().kind(),
                crate::error::ErrorKind::BadRequest
            );
        }
    }
}
