//! UTC calendar arithmetic on Unix milliseconds: the start of the day, week (weeks run Monday to
//! Sunday, as OpenRouter's key usage does) and month, and ISO-8601 timestamps.
//!
//! Dates use Howard Hinnant's `civil_from_days` algorithm (proleptic Gregorian calendar), so no
//! date crate is needed.

/// Milliseconds in a UTC day.
pub(crate) const MS_PER_DAY: u64 = 86_400_000;

/// The start (Unix ms) of the periods `now` falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeriodStarts {
    /// Midnight UTC today.
    pub(crate) day: u64,
    /// Monday 00:00 UTC of this week.
    pub(crate) week: u64,
    /// The first of this month, 00:00 UTC.
    pub(crate) month: u64,
}

/// The day, week and month that `now_ms` falls in.
pub(crate) fn period_starts(now_ms: u64) -> PeriodStarts {
    let days = now_ms / MS_PER_DAY;
    // 1970-01-01 was a Thursday: three days after a Monday.
    let days_since_monday = (days + 3) % 7;
    let (_, _, day_of_month) = civil_from_days(days);
    PeriodStarts {
        day: days * MS_PER_DAY,
        week: (days - days_since_monday.min(days)) * MS_PER_DAY,
        month: (days + 1 - u64::from(day_of_month)) * MS_PER_DAY,
    }
}

/// `2025-01-15T12:00:00.000Z`.
pub(crate) fn iso8601(ms: u64) -> String {
    let days = ms / MS_PER_DAY;
    let (year, month, day) = civil_from_days(days);
    let in_day = ms % MS_PER_DAY;
    let (hours, minutes) = (in_day / 3_600_000, in_day / 60_000 % 60);
    let (seconds, millis) = (in_day / 1000 % 60, in_day % 1000);
    format!("{year:04}-{month:02}-{day:02}T{hours:02}:{minutes:02}:{seconds:02}.{millis:03}Z")
}

/// (year, month 1–12, day 1–31) of the day `days` after 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u32, u32) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of the (March-based) year.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Now, in Unix milliseconds of the system clock (the clock records are stamped with).
pub(crate) fn system_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |it| u64::try_from(it.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Days from 1970-01-01 to the given date: the inverse of `civil_from_days`, written
    /// independently to check it.
    fn days_from_civil(year: u64, month: u32, day: u32) -> u64 {
        let year = year - u64::from(month <= 2);
        let era = year / 400;
        let year_of_era = year % 400;
        let month = u64::from(month);
        let month_from_march = if month > 2 { month - 3 } else { month + 9 };
        let day_of_year = (153 * month_from_march + 2) / 5 + u64::from(day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        (era * 146_097 + day_of_era).saturating_sub(719_468)
    }

    #[test]
    fn formats_iso8601() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_736_942_400_000), "2025-01-15T12:00:00.000Z");
        assert_eq!(iso8601(1_709_251_199_999), "2024-02-29T23:59:59.999Z");
        assert_eq!(iso8601(951_868_800_000), "2000-03-01T00:00:00.000Z");
    }

    #[test]
    fn periods_start_at_midnight_monday_and_the_first() {
        // Wednesday 2025-01-15 12:00 UTC.
        let starts = period_starts(1_736_942_400_000);
        assert_eq!(iso8601(starts.day), "2025-01-15T00:00:00.000Z");
        assert_eq!(iso8601(starts.week), "2025-01-13T00:00:00.000Z");
        assert_eq!(iso8601(starts.month), "2025-01-01T00:00:00.000Z");
        // A Monday is its own week start; a Sunday belongs to the week before.
        let monday = period_starts(1_736_730_000_000);
        assert_eq!(iso8601(monday.week), "2025-01-13T00:00:00.000Z");
        let sunday = period_starts(1_736_722_800_000);
        assert_eq!(iso8601(sunday.week), "2025-01-06T00:00:00.000Z");
        // A leap day.
        let leap = period_starts(1_709_251_199_999);
        assert_eq!(iso8601(leap.month), "2024-02-01T00:00:00.000Z");
        assert_eq!(iso8601(leap.week), "2024-02-26T00:00:00.000Z");
    }

    #[test]
    fn civil_round_trips() {
        for days in (0..200_000).step_by(37) {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }
}
