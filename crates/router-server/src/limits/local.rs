//! In-process counters of key limits: the only counters without `[redis]`, and the fallback
//! (with `[limits] local_share` of each limit) while Redis cannot be reached.
//!
//! One mutex-guarded table by key name, kept across config reloads. A check and its hold are
//! one step under the lock, so concurrent requests of one replica never both take the last of a
//! limit.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::window::Windows;
use super::{Ask, Refusal};

/// Every key's counters in this process.
#[derive(Debug, Default)]
pub(crate) struct LocalCounts {
    keys: Mutex<HashMap<Box<str>, Counters>>,
}

/// One key's counters in its current windows.
#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    /// The credit period counted.
    period: u64,
    /// USD spent in it.
    used: f64,
    /// USD held by requests in flight.
    held: f64,
    /// The minute counted.
    minute: u64,
    /// Requests in it.
    requests: u64,
    /// Tokens charged in it.
    tokens: u64,
    /// Tokens held by requests in flight.
    held_tokens: u64,
}

impl Counters {
    /// Whether `ask` fits limits scaled by `share`.
    fn check(&self, ask: &Ask, share: f64) -> Result<(), Refusal> {
        if let Some(limit) = ask.limit
            && self.used + self.held >= limit * share
        {
            return Err(Refusal::Credit);
        }
        if let Some(rpm) = ask.rpm
            && self.requests >= scaled(rpm, share)
        {
            return Err(Refusal::Requests);
        }
        if let Some(tpm) = ask.tpm {
            let counted = self.tokens + self.held_tokens;
            if counted > 0 && counted + ask.tokens > scaled(tpm, share) {
                return Err(Refusal::Tokens);
            }
        }
        Ok(())
    }

    /// Starts new windows when `windows` moved on.
    fn roll(&mut self, windows: Windows) {
        if self.period != windows.period {
            self.period = windows.period;
            self.used = 0.0;
            self.held = 0.0;
        }
        if self.minute != windows.minute {
            self.minute = windows.minute;
            self.requests = 0;
            self.tokens = 0;
            self.held_tokens = 0;
        }
    }
}

impl LocalCounts {
    /// Checks `ask` of key `name` against limits scaled by `share` (`None`: counts without
    /// checking, Redis having admitted it); when it fits, counts the request and holds its
    /// estimates.
    pub(crate) fn admit(&self, name: &str, ask: &Ask, share: Option<f64>) -> Result<(), Refusal> {
        let mut keys = self.lock();
        let counters = match keys.get_mut(name) {
            Some(counters) => counters,
            None => keys.entry(Box::from(name)).or_default(),
        };
        counters.roll(ask.windows);
        if let Some(share) = share {
            counters.check(ask, share)?;
        }
        counters.requests += 1;
        counters.held += ask.cost;
        counters.held_tokens += ask.tokens;
        Ok(())
    }

    /// Releases what `ask` held and charges the real `cost` and `tokens` (to the windows the
    /// request was admitted in, while they last).
    pub(crate) fn settle(&self, name: &str, ask: &Ask, cost: f64, tokens: u64) {
        let mut keys = self.lock();
        let Some(counters) = keys.get_mut(name) else {
            return;
        };
        if counters.period == ask.windows.period {
            counters.held = (counters.held - ask.cost).max(0.0);
            counters.used += cost;
        }
        if counters.minute == ask.windows.minute {
            counters.held_tokens = counters.held_tokens.saturating_sub(ask.tokens);
            counters.tokens += tokens;
        }
    }

    /// Starts key `name`'s count of the credit period `period` at `used` at least (what the
    /// generation records say it spent there), so a restarted process does not forget it.
    pub(crate) fn seed(&self, name: &str, period: u64, used: f64) {
        let mut keys = self.lock();
        let counters = keys.entry(Box::from(name)).or_default();
        if counters.period != period {
            counters.period = period;
            counters.used = 0.0;
            counters.held = 0.0;
        }
        counters.used = counters.used.max(used);
    }

    /// Seeds every key of `keys` that has a credit limit from what `records` say it spent in
    /// its current credit period (`records_now_ms` on the records' clock, `now_ms` on the
    /// limits' clock: the same in production). A key whose records cannot be read starts at
    /// zero, with a warning.
    pub(crate) fn seed_from_records<'a>(
        &self,
        records: &crate::records::Records,
        keys: impl IntoIterator<Item = &'a crate::config::ClientKey>,
        records_now_ms: u64,
        now_ms: u64,
    ) {
        for key in keys {
            if key.limits.limit.is_none() {
                continue;
            }
            let usage = match records.key_usage(&key.name, records_now_ms) {
                Ok(usage) => usage,
                Err(err) => {
                    tracing::warn!(
                        key = %key.name,
                        error = %err,
                        "cannot read what a key spent: its credit count starts at zero"
                    );
                    continue;
                }
            };
            let reset = key.limits.limit_reset;
            let period = Windows::at(now_ms, reset).period;
            self.seed(&key.name, period, usage.in_period(reset));
        }
    }

    /// USD key `name` spent in the credit period `period`, as this process counted it.
    pub(crate) fn used(&self, name: &str, period: u64) -> f64 {
        self.lock()
            .get(name)
            .filter(|it| it.period == period)
            .map_or(0.0, |it| it.used)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Box<str>, Counters>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `limit * share`, at least 1.
fn scaled(limit: u64, share: f64) -> u64 {
    if share >= 1.0 {
        return limit;
    }
    ((limit as f64 * share).floor() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(minute: u64) -> Ask {
        Ask {
            windows: Windows { minute, period: 0 },
            reset: None,
            limit: Some(1.0),
            rpm: Some(4),
            tpm: None,
            cost: 0.1,
            tokens: 10,
        }
    }

    #[test]
    fn a_share_of_the_limits_holds_until_the_minute_turns() {
        let counts = LocalCounts::default();
        // Half of 4 requests a minute.
        assert_eq!(counts.admit("k", &ask(0), Some(0.5)), Ok(()));
        assert_eq!(counts.admit("k", &ask(0), Some(0.5)), Ok(()));
        assert_eq!(
            counts.admit("k", &ask(0), Some(0.5)),
            Err(Refusal::Requests)
        );
        // Counting without checking (Redis admitted it) never refuses.
        assert_eq!(counts.admit("k", &ask(0), None), Ok(()));
        assert_eq!(counts.admit("k", &ask(60_000), Some(1.0)), Ok(()));
        // $0.1 held by each request in flight this period, then charged $0.5 each.
        counts.settle("k", &ask(60_000), 0.5, 10);
        assert!((counts.used("k", 0) - 0.5).abs() < 1e-9);
        assert_eq!(counts.admit("k", &ask(60_000), Some(1.0)), Ok(()));
        counts.settle("k", &ask(60_000), 0.5, 10);
        assert_eq!(
            counts.admit("k", &ask(120_000), Some(1.0)),
            Err(Refusal::Credit)
        );
        assert_eq!(counts.used("other", 0), 0.0);
    }

    #[test]
    fn a_seeded_spend_counts_against_the_limit_of_its_period_only() {
        let counts = LocalCounts::default();
        let period = |period| Ask {
            windows: Windows { minute: 0, period },
            ..ask(0)
        };
        counts.seed("k", 7, 1.0);
        assert_eq!(counts.used("k", 7), 1.0);
        assert_eq!(
            counts.admit("k", &period(7), Some(1.0)),
            Err(Refusal::Credit)
        );
        // A seed never lowers what was counted; the next period starts again.
        counts.seed("k", 7, 0.2);
        assert_eq!(counts.used("k", 7), 1.0);
        assert_eq!(counts.admit("k", &period(8), Some(1.0)), Ok(()));
    }
}
