//! Times as people in the UK read them. The server keeps UTC; the UK is on
//! UTC in winter and on British Summer Time (UTC+1) from 01:00 UTC on the
//! last Sunday in March until 01:00 UTC on the last Sunday in October (the
//! Summer Time Order 2002). The rule is written out here rather than
//! bringing a time-zone database into the browser bundle for one zone.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Utc};

/// The last Sunday of a month, at 01:00 UTC: when the clocks change.
fn clock_change(year: i32, month: u32) -> Option<NaiveDateTime> {
    let first_of_next = NaiveDate::from_ymd_opt(year, month + 1, 1)?;
    let last_day = first_of_next.pred_opt()?;
    let back = last_day.weekday().num_days_from_sunday();
    let sunday = last_day - Duration::days(i64::from(back));
    sunday.and_hms_opt(1, 0, 0)
}

/// True while British Summer Time is in force at this instant.
pub fn is_british_summer_time(at: DateTime<Utc>) -> bool {
    let utc = at.naive_utc();
    match (clock_change(utc.year(), 3), clock_change(utc.year(), 10)) {
        (Some(starts), Some(ends)) => utc >= starts && utc < ends,
        _ => false,
    }
}

/// The wall-clock time in the UK at this instant.
pub fn uk_local(at: DateTime<Utc>) -> NaiveDateTime {
    let offset = if is_british_summer_time(at) { 1 } else { 0 };
    at.naive_utc() + Duration::hours(offset)
}

/// NHS.UK style: "27 March 2026 at 2:05pm", "1 January 2026 at midnight".
pub fn long_uk_date_time(at: DateTime<Utc>) -> String {
    let local = uk_local(at);
    let date = local.format("%-d %B %Y");
    let (hour, minute) = (local.hour(), local.minute());
    let time = match (hour, minute) {
        (0, 0) => "midnight".to_owned(),
        (12, 0) => "midday".to_owned(),
        _ => {
            let suffix = if hour < 12 { "am" } else { "pm" };
            let twelve = match hour % 12 {
                0 => 12,
                h => h,
            };
            if minute == 0 {
                format!("{twelve}{suffix}")
            } else {
                format!("{twelve}:{minute:02}{suffix}")
            }
        }
    };
    format!("{date} at {time}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().expect("a UTC time")
    }

    #[test]
    fn summer_time_starts_and_ends_at_one_in_the_morning_utc() {
        // 2026: the clocks go forward on 29 March and back on 25 October.
        assert!(!is_british_summer_time(utc("2026-03-29T00:59:59Z")));
        assert!(is_british_summer_time(utc("2026-03-29T01:00:00Z")));
        assert!(is_british_summer_time(utc("2026-10-25T00:59:59Z")));
        assert!(!is_british_summer_time(utc("2026-10-25T01:00:00Z")));
        // 2024: 31 March (the month's last day) and 27 October.
        assert!(is_british_summer_time(utc("2024-03-31T01:00:00Z")));
        assert!(!is_british_summer_time(utc("2024-10-27T01:00:00Z")));
        assert!(!is_british_summer_time(utc("2025-01-15T12:00:00Z")));
        assert!(is_british_summer_time(utc("2025-07-15T12:00:00Z")));
    }

    #[test]
    fn times_read_as_nhs_content_writes_them() {
        assert_eq!(
            long_uk_date_time(utc("2026-01-05T14:05:00Z")),
            "5 January 2026 at 2:05pm"
        );
        assert_eq!(
            long_uk_date_time(utc("2026-07-05T13:05:00Z")),
            "5 July 2026 at 2:05pm"
        );
        assert_eq!(
            long_uk_date_time(utc("2026-07-04T23:00:00Z")),
            "5 July 2026 at midnight"
        );
        assert_eq!(
            long_uk_date_time(utc("2026-02-01T12:00:00Z")),
            "1 February 2026 at midday"
        );
        assert_eq!(
            long_uk_date_time(utc("2026-02-01T09:00:00Z")),
            "1 February 2026 at 9am"
        );
        assert_eq!(
            long_uk_date_time(utc("2026-02-01T00:30:00Z")),
            "1 February 2026 at 12:30am"
        );
    }
}
