//! Calendar dates as callers write them.

use chrono::NaiveDate;

/// Exactly `YYYY-MM-DD`: ten ASCII characters, digits and two dashes, a
/// real calendar date. No sign, no white space, no one-digit month or day,
/// no other digits than ASCII ones.
pub(crate) fn strict_date(v: &str) -> Option<NaiveDate> {
    let b = v.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    if !shaped {
        return None;
    }
    let number = |r: std::ops::Range<usize>| v.get(r)?.parse::<u32>().ok();
    let year = i32::try_from(number(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_canonical_form() {
        assert_eq!(
            strict_date("2024-02-29"),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        for bad in [
            "+2025-12-1",
            " 2025-12-1",
            "2025-12-1",
            "2025-12-01 ",
            "-2025-12-01",
            "2023-02-29",
            "2025-13-01",
            "2025/12/01",
            "２０２５-1-01",
            "",
        ] {
            assert_eq!(strict_date(bad), None, "{bad:?}");
        }
    }
}
