//! Endpoint health: a small state machine per endpoint, fed with the outcome of every call and
//! read by the planner.
//!
//! Time is an argument (milliseconds on any monotonic clock the caller keeps), so the machine is
//! pure and tests drive it with made-up instants. One [`EndpointHealth`] holds fixed-size
//! arrays only: recording an outcome never allocates.
//!
//! # States
//!
//! - **healthy**: answering, or no recent failure;
//! - **unstable**: it failed within the last [`HealthSettings::outage_window_ms`] (30 s) and has
//!   not answered since; default load balancing tries it after the stable endpoints;
//! - **cooling down**: [`HealthSettings::failures_to_cool_down`] (5) calls in a row failed, or a
//!   `429` said `Retry-After`; every plan puts it last until [`HealthSettings::cooldown_ms`] (or
//!   the `Retry-After`) has passed;
//! - **probe** (half-open): the cool-down after failures is over; one request at a time sees the
//!   endpoint as healthy and may call it. An answer makes it healthy again, a failure starts
//!   another cool-down. While a probe is out (for at most `cooldown_ms`) other requests still see
//!   it cooling down.
//!
//! Rate-limited calls count neither as failures nor in the uptime (as OpenRouter's uptime), and
//! failures that are the client's fault are not reported here at all.
//!
//! # Statistics
//!
//! Time to first token and output tokens per second of the last [`SAMPLES`] answers, and
//! answers and failures per minute over the last 30 minutes, give the percentiles and the uptime
//! of `GET /api/v1/models/{author}/{slug}/endpoints` ([`EndpointHealth::stats`]). The planner
//! reads the percentiles of the samples as last computed ([`Observed`]): after every answer
//! until [`SAMPLES`] are in, then at most once per [`REFRESH_MS`] of answers, so a busy
//! endpoint does not sort its samples on every answer (two sorts of 32 numbers each).

/// How many recent answers the latency and throughput percentiles are computed from.
pub const SAMPLES: usize = 32;

/// Once [`SAMPLES`] answers are in, the planner's percentiles are computed again at most this
/// often (by the time of the answers recorded).
pub const REFRESH_MS: u64 = 1_000;

/// Minutes of answers and failures kept for the uptime.
const MINUTES: usize = 30;

const MINUTE_MS: u64 = 60_000;

/// The thresholds of the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthSettings {
    /// Failed calls in a row that start a cool-down. Default 5.
    pub failures_to_cool_down: u32,
    /// How long a cool-down lasts, in milliseconds; also the longest a probe stays claimed.
    /// Default 30,000.
    pub cooldown_ms: u64,
    /// How long a failure makes an endpoint unstable (unless it answers), in milliseconds.
    /// Default 30,000 (OpenRouter's "no significant outage in the last 30 seconds").
    pub outage_window_ms: u64,
}

/// What the planner sees of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    /// Answering, or not failing recently.
    #[default]
    Healthy,
    /// Failed recently and not answered since.
    Unstable,
    /// In cool-down: tried last.
    CoolingDown,
    /// Cool-down over, this request may probe it: planned as healthy.
    Probe,
}

/// An endpoint's state and measurements as the planner reads them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Observed {
    /// Where the endpoint stands.
    pub status: Status,
    /// Time to first token, seconds: p50, p75, p90, p99 of the recent answers.
    pub latency: Option<[f64; 4]>,
    /// Output tokens per second: p50, p75, p90, p99 of the recent answers.
    pub throughput: Option<[f64; 4]>,
}

/// How one call ended, as far as the endpoint's health is concerned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// It answered.
    Answered {
        /// Seconds from sending the request to the first output (or the whole answer).
        latency: Option<f64>,
        /// Output tokens per second after the first token, when known.
        throughput: Option<f64>,
    },
    /// It failed, and the failure is the provider's (5xx, timeout, refused connection, broken
    /// answer).
    Failed,
    /// It answered `429`; `retry_after_ms` keeps it out for that long.
    RateLimited {
        /// The `Retry-After`, in milliseconds.
        retry_after_ms: Option<u64>,
    },
}

/// The health of one endpoint.
#[derive(Debug, Clone)]
pub struct EndpointHealth {
    consecutive_failures: u32,
    last_failure_ms: Option<u64>,
    last_success_ms: Option<u64>,
    /// Until when the endpoint is cooling down (failures or `Retry-After`).
    cooldown_until_ms: Option<u64>,
    /// The cool-down came from failures: a probe must answer before it is healthy.
    probe_pending: bool,
    /// When a request was last given the probe.
    probe_claimed_ms: Option<u64>,
    minutes: [Minute; MINUTES],
    samples: [Sample; SAMPLES],
    next_sample: usize,
    n_samples: usize,
    latency: Option<[f64; 4]>,
    throughput: Option<[f64; 4]>,
    /// When `latency` and `throughput` were last computed.
    computed_at_ms: u64,
}

/// The statistics of `GET …/endpoints`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stats {
    /// Answers over answers plus failures, in percent, over the window; `None` without calls.
    pub uptime: Option<f64>,
    /// Time to first token percentiles (p50, p75, p90, p99), seconds.
    pub latency: Option<[f64; 4]>,
    /// Output tokens per second percentiles (p50, p75, p90, p99).
    pub throughput: Option<[f64; 4]>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Minute {
    /// Which minute (`now_ms / 60,000`) the counts are of.
    minute: u64,
    answered: u32,
    failed: u32,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at_ms: u64,
    latency: f64,
    /// NaN when unknown.
    throughput: f64,
}

// === impl HealthSettings ===

impl Default for HealthSettings {
    fn default() -> Self {
        Self {
            failures_to_cool_down: 5,
            cooldown_ms: 30_000,
            outage_window_ms: 30_000,
        }
    }
}

// === impl EndpointHealth ===

impl Default for EndpointHealth {
    fn default() -> Self {
        Self {
            consecutive_failures: 0,
            last_failure_ms: None,
            last_success_ms: None,
            cooldown_until_ms: None,
            probe_pending: false,
            probe_claimed_ms: None,
            minutes: [Minute::default(); MINUTES],
            samples: [Sample {
                at_ms: 0,
                latency: 0.0,
                throughput: f64::NAN,
            }; SAMPLES],
            next_sample: 0,
            n_samples: 0,
            latency: None,
            throughput: None,
            computed_at_ms: 0,
        }
    }
}

impl EndpointHealth {
    /// Records how a call that ended at `now_ms` went.
    pub fn record(&mut self, now_ms: u64, outcome: Outcome, settings: &HealthSettings) {
        match outcome {
            Outcome::Answered {
                latency,
                throughput,
            } => {
                self.consecutive_failures = 0;
                self.last_success_ms = Some(now_ms);
                self.cooldown_until_ms = None;
                self.probe_pending = false;
                self.probe_claimed_ms = None;
                self.minute(now_ms).answered += 1;
                if let Some(latency) = latency.filter(|it| it.is_finite() && *it >= 0.0) {
                    self.sample(Sample {
                        at_ms: now_ms,
                        latency,
                        throughput: throughput.filter(|it| it.is_finite()).unwrap_or(f64::NAN),
                    });
                }
            }
            Outcome::Failed => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                self.last_failure_ms = Some(now_ms);
                self.minute(now_ms).failed += 1;
                if self.probe_pending || self.consecutive_failures >= settings.failures_to_cool_down
                {
                    self.cooldown_until_ms = Some(now_ms.saturating_add(settings.cooldown_ms));
                    self.probe_pending = true;
                    self.probe_claimed_ms = None;
                }
            }
            Outcome::RateLimited { retry_after_ms } => {
                if let Some(wait) = retry_after_ms {
                    let until = now_ms.saturating_add(wait);
                    self.cooldown_until_ms =
                        Some(self.cooldown_until_ms.map_or(until, |it| it.max(until)));
                }
            }
        }
    }

    /// Where the endpoint stands at `now_ms`, without claiming its probe (for reports such as
    /// metrics; a plan uses [`EndpointHealth::observe`]).
    pub fn status(&self, now_ms: u64, settings: &HealthSettings) -> Status {
        if self.cooldown_until_ms.is_some_and(|until| now_ms < until) {
            Status::CoolingDown
        } else if self.probe_pending {
            let free = self
                .probe_claimed_ms
                .is_none_or(|at| now_ms.saturating_sub(at) >= settings.cooldown_ms);
            if free {
                Status::Probe
            } else {
                Status::CoolingDown
            }
        } else if self.last_failure_ms.is_some_and(|failed| {
            now_ms.saturating_sub(failed) < settings.outage_window_ms
                && self
                    .last_success_ms
                    .is_none_or(|answered| answered < failed)
        }) {
            Status::Unstable
        } else {
            Status::Healthy
        }
    }

    /// What a plan made at `now_ms` sees. Hands out the probe of a half-open endpoint (at most
    /// one request at a time, a claim lasting at most `cooldown_ms`), hence `&mut`.
    pub fn observe(&mut self, now_ms: u64, settings: &HealthSettings) -> Observed {
        let status = self.status(now_ms, settings);
        if status == Status::Probe {
            self.probe_claimed_ms = Some(now_ms);
        }
        Observed {
            status,
            latency: self.latency,
            throughput: self.throughput,
        }
    }

    /// [`EndpointHealth::status`] with a cool-down decided elsewhere (another replica's, shared
    /// through the server): until `shared_until_ms` the endpoint is cooling down whatever this
    /// machine saw. `0` (or any past instant) means no shared cool-down.
    pub fn status_shared(
        &self,
        now_ms: u64,
        shared_until_ms: u64,
        settings: &HealthSettings,
    ) -> Status {
        if now_ms < shared_until_ms {
            Status::CoolingDown
        } else {
            self.status(now_ms, settings)
        }
    }

    /// [`EndpointHealth::observe`] with a shared cool-down (see
    /// [`EndpointHealth::status_shared`]): while it lasts the probe is not handed out.
    pub fn observe_shared(
        &mut self,
        now_ms: u64,
        shared_until_ms: u64,
        settings: &HealthSettings,
    ) -> Observed {
        if now_ms < shared_until_ms {
            Observed {
                status: Status::CoolingDown,
                latency: self.latency,
                throughput: self.throughput,
            }
        } else {
            self.observe(now_ms, settings)
        }
    }

    /// Until when the endpoint cools down, by this machine's own observations (failures in a
    /// row or a `Retry-After`); `None` when it has not since it last answered. A caller that
    /// shares cool-downs compares it before and after [`EndpointHealth::record`] to see one
    /// start.
    pub fn cooldown_until_ms(&self) -> Option<u64> {
        self.cooldown_until_ms
    }

    /// Uptime over the last 30 minutes and the percentiles of the answers in that window.
    pub fn stats(&self, now_ms: u64) -> Stats {
        let current = now_ms / MINUTE_MS;
        let (answered, failed) = self
            .minutes
            .iter()
            .filter(|it| it.minute + (MINUTES as u64) > current && it.minute <= current)
            .fold((0u64, 0u64), |(answered, failed), it| {
                (
                    answered + u64::from(it.answered),
                    failed + u64::from(it.failed),
                )
            });
        let uptime =
            (answered + failed > 0).then(|| 100.0 * answered as f64 / (answered + failed) as f64);
        let window_start = now_ms.saturating_sub(MINUTES as u64 * MINUTE_MS);
        let recent = self.samples[..self.n_samples]
            .iter()
            .filter(|it| it.at_ms >= window_start);
        Stats {
            uptime,
            latency: percentiles(recent.clone().map(|it| it.latency)),
            throughput: percentiles(recent.map(|it| it.throughput)),
        }
    }

    /// Failed calls in a row.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    fn minute(&mut self, now_ms: u64) -> &mut Minute {
        let minute = now_ms / MINUTE_MS;
        let slot = &mut self.minutes[(minute % MINUTES as u64) as usize];
        if slot.minute != minute {
            *slot = Minute {
                minute,
                answered: 0,
                failed: 0,
            };
        }
        slot
    }

    fn sample(&mut self, sample: Sample) {
        self.samples[self.next_sample] = sample;
        self.next_sample = (self.next_sample + 1) % SAMPLES;
        let warming = self.n_samples < SAMPLES;
        self.n_samples = (self.n_samples + 1).min(SAMPLES);
        if !warming && sample.at_ms < self.computed_at_ms.saturating_add(REFRESH_MS) {
            return;
        }
        self.computed_at_ms = sample.at_ms;
        let samples = &self.samples[..self.n_samples];
        self.latency = percentiles(samples.iter().map(|it| it.latency));
        self.throughput = percentiles(samples.iter().map(|it| it.throughput));
    }
}

/// p50, p75, p90 and p99 (nearest rank) of the finite values, `None` without any.
fn percentiles(values: impl Iterator<Item = f64>) -> Option<[f64; 4]> {
    let mut sorted = [0.0f64; SAMPLES];
    let mut len = 0;
    for value in values.filter(|it| it.is_finite()).take(SAMPLES) {
        sorted[len] = value;
        len += 1;
    }
    if len == 0 {
        return None;
    }
    let sorted = &mut sorted[..len];
    sorted.sort_unstable_by(f64::total_cmp);
    let rank = |p: f64| sorted[((p * len as f64).ceil() as usize).clamp(1, len) - 1];
    Some([rank(0.5), rank(0.75), rank(0.9), rank(0.99)])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: HealthSettings = HealthSettings {
        failures_to_cool_down: 5,
        cooldown_ms: 10_000,
        outage_window_ms: 30_000,
    };

    fn answered(latency: f64) -> Outcome {
        Outcome::Answered {
            latency: Some(latency),
            throughput: Some(100.0 / latency),
        }
    }

    #[test]
    fn a_failure_makes_it_unstable_until_it_answers_or_the_window_passes() {
        let mut health = EndpointHealth::default();
        assert_eq!(health.observe(0, &SETTINGS).status, Status::Healthy);
        health.record(1_000, Outcome::Failed, &SETTINGS);
        assert_eq!(health.observe(2_000, &SETTINGS).status, Status::Unstable);
        assert_eq!(health.observe(31_000, &SETTINGS).status, Status::Healthy);
        health.record(32_000, Outcome::Failed, &SETTINGS);
        health.record(33_000, answered(0.5), &SETTINGS);
        assert_eq!(health.observe(34_000, &SETTINGS).status, Status::Healthy);
    }

    #[test]
    fn five_failures_cool_it_down_then_one_probe_brings_it_back() {
        let mut health = EndpointHealth::default();
        for at in 0..4 {
            health.record(at, Outcome::Failed, &SETTINGS);
        }
        assert_eq!(health.observe(5, &SETTINGS).status, Status::Unstable);
        health.record(10, Outcome::Failed, &SETTINGS);
        assert_eq!(health.observe(11, &SETTINGS).status, Status::CoolingDown);
        assert_eq!(
            health.observe(10_009, &SETTINGS).status,
            Status::CoolingDown
        );
        // The cool-down is over: one request gets the probe, the next does not.
        assert_eq!(health.observe(10_010, &SETTINGS).status, Status::Probe);
        assert_eq!(
            health.observe(10_011, &SETTINGS).status,
            Status::CoolingDown
        );
        // The probe fails: another cool-down at once.
        health.record(10_020, Outcome::Failed, &SETTINGS);
        assert_eq!(
            health.observe(20_019, &SETTINGS).status,
            Status::CoolingDown
        );
        assert_eq!(health.observe(20_020, &SETTINGS).status, Status::Probe);
        // A claimed probe that never reports is handed out again after `cooldown_ms`.
        assert_eq!(health.observe(30_020, &SETTINGS).status, Status::Probe);
        health.record(30_100, answered(0.2), &SETTINGS);
        assert_eq!(health.observe(30_101, &SETTINGS).status, Status::Healthy);
        assert_eq!(health.consecutive_failures(), 0);
    }

    #[test]
    fn retry_after_keeps_it_out_for_that_long_without_counting_as_down() {
        let mut health = EndpointHealth::default();
        health.record(
            1_000,
            Outcome::RateLimited {
                retry_after_ms: Some(3_000),
            },
            &SETTINGS,
        );
        assert_eq!(health.observe(3_999, &SETTINGS).status, Status::CoolingDown);
        assert_eq!(health.observe(4_000, &SETTINGS).status, Status::Healthy);
        assert_eq!(health.stats(4_000).uptime, None);
    }

    #[test]
    fn once_the_window_is_full_the_planner_s_percentiles_follow_at_most_every_refresh() {
        let mut health = EndpointHealth::default();
        // Until SAMPLES answers are in, every answer counts at once.
        for idx in 0..SAMPLES as u64 {
            health.record(idx, answered(1.0), &SETTINGS);
            assert_eq!(health.observe(idx, &SETTINGS).latency, Some([1.0; 4]));
        }
        // Then slower answers within REFRESH_MS of the last computation wait for the next one.
        let last = SAMPLES as u64 - 1;
        for at in last + 1..last + 33 {
            health.record(at, answered(5.0), &SETTINGS);
        }
        assert_eq!(health.observe(last + 33, &SETTINGS).latency, Some([1.0; 4]));
        health.record(last + REFRESH_MS, answered(5.0), &SETTINGS);
        assert_eq!(
            health.observe(last + REFRESH_MS, &SETTINGS).latency,
            Some([5.0; 4])
        );
        // The endpoints page computes its statistics when asked.
        assert_eq!(health.stats(last + REFRESH_MS).latency, Some([5.0; 4]));
    }

    #[test]
    fn a_shared_cooldown_keeps_it_out_without_taking_the_probe() {
        let mut health = EndpointHealth::default();
        for at in 0..5 {
            health.record(at, Outcome::Failed, &SETTINGS);
        }
        assert_eq!(health.cooldown_until_ms(), Some(10_004));
        // Cool-down over here, but another machine's lasts until 20,000.
        assert_eq!(
            health.observe_shared(10_004, 20_000, &SETTINGS).status,
            Status::CoolingDown
        );
        assert_eq!(
            health.status_shared(19_999, 20_000, &SETTINGS),
            Status::CoolingDown
        );
        // The probe was not handed out while it lasted.
        assert_eq!(
            health.observe_shared(20_000, 20_000, &SETTINGS).status,
            Status::Probe
        );
        let fresh = EndpointHealth::default();
        assert_eq!(fresh.status_shared(5, 0, &SETTINGS), Status::Healthy);
        assert_eq!(fresh.cooldown_until_ms(), None);
    }

    #[test]
    fn stats_cover_the_last_thirty_minutes() {
        let mut health = EndpointHealth::default();
        for idx in 1..=4 {
            health.record(idx * 1_000, answered(idx as f64), &SETTINGS);
        }
        health.record(5_000, Outcome::Failed, &SETTINGS);
        let stats = health.stats(6_000);
        assert_eq!(stats.uptime, Some(80.0));
        assert_eq!(stats.latency, Some([2.0, 3.0, 4.0, 4.0]));
        // Throughputs 100, 50, 33.3 and 25 tokens/s: the median (nearest rank) is 33.3.
        assert!((stats.throughput.unwrap()[0] - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!(health.observe(6_000, &SETTINGS).latency, stats.latency);
        // 31 minutes later nothing is left.
        let later = health.stats(5_000 + 31 * MINUTE_MS);
        assert_eq!(later, Stats::default());
    }
}
