//! The windows key limits count in: the minute (requests and tokens per minute) and the credit
//! period of `limit_reset` (a UTC day, a Monday-to-Sunday week, a month, or all time), all read
//! from the app's clock so tests can move time.

use crate::config::LimitReset;
use crate::records::calendar::{MS_PER_DAY, period_starts};

/// Milliseconds in a minute.
const MS_PER_MINUTE: u64 = 60_000;

/// The windows `now_ms` falls in, for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Windows {
    /// The start of the minute (Unix ms).
    pub(crate) minute: u64,
    /// The start of the credit period (Unix ms); 0 without a reset.
    pub(crate) period: u64,
}

impl Windows {
    /// The windows of `now_ms` for a key that resets on `reset`.
    pub(crate) fn at(now_ms: u64, reset: Option<LimitReset>) -> Self {
        let starts = period_starts(now_ms);
        let period = match reset {
            None => 0,
            Some(LimitReset::Daily) => starts.day,
            Some(LimitReset::Weekly) => starts.week,
            Some(LimitReset::Monthly) => starts.month,
        };
        Self {
            minute: now_ms - now_ms % MS_PER_MINUTE,
            period,
        }
    }
}

/// When the credit period of `now_ms` ends (Unix ms); `None` without a reset.
pub(crate) fn period_end(now_ms: u64, reset: Option<LimitReset>) -> Option<u64> {
    let starts = period_starts(now_ms);
    Some(match reset? {
        LimitReset::Daily => starts.day + MS_PER_DAY,
        LimitReset::Weekly => starts.week + 7 * MS_PER_DAY,
        LimitReset::Monthly => period_starts(starts.month + 32 * MS_PER_DAY).month,
    })
}

/// Whole seconds from `now_ms` to the next minute (at least 1): a rate limit's `Retry-After`.
pub(crate) fn secs_to_next_minute(now_ms: u64) -> u64 {
    let left_ms = MS_PER_MINUTE - now_ms % MS_PER_MINUTE;
    left_ms.div_ceil(1000).max(1)
}

/// How long a credit counter of a period must outlive its start, in seconds (none: `0`, kept).
pub(crate) fn period_ttl_secs(reset: Option<LimitReset>) -> u64 {
    let days = match reset {
        None => return 0,
        Some(LimitReset::Daily) => 2,
        Some(LimitReset::Weekly) => 8,
        Some(LimitReset::Monthly) => 32,
    };
    days * MS_PER_DAY / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2023-11-14T22:13:20Z, a Tuesday.
    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn windows_follow_the_calendar() {
        let windows = Windows::at(NOW, Some(LimitReset::Daily));
        assert_eq!(windows.minute, 1_699_999_980_000);
        assert_eq!(windows.period, 1_699_920_000_000);
        assert_eq!(
            Windows::at(NOW, Some(LimitReset::Weekly)).period,
            1_699_833_600_000
        );
        assert_eq!(
            Windows::at(NOW, Some(LimitReset::Monthly)).period,
            1_698_796_800_000
        );
        assert_eq!(Windows::at(NOW, None).period, 0);
    }

    #[test]
    fn periods_end_at_the_next_start() {
        assert_eq!(period_end(NOW, None), None);
        assert_eq!(
            period_end(NOW, Some(LimitReset::Daily)),
            Some(1_700_006_400_000)
        );
        assert_eq!(
            period_end(NOW, Some(LimitReset::Weekly)),
            Some(1_700_438_400_000)
        );
        // 2023-12-01T00:00:00Z.
        assert_eq!(
            period_end(NOW, Some(LimitReset::Monthly)),
            Some(1_701_388_800_000)
        );
    }

    #[test]
    fn retry_after_counts_to_the_next_minute() {
        assert_eq!(secs_to_next_minute(NOW), 40);
        assert_eq!(secs_to_next_minute(NOW + 39_500), 1);
        assert_eq!(secs_to_next_minute(NOW + 40_000), 60);
    }
}
