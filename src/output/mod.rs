//! The output stage: a task's rows written to S3 as one object, exactly
//! once, instead of returned.

// Wired into the handler in the commits that follow.
#![allow(dead_code)]

pub(crate) mod format;
