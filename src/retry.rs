//! Backoff schedules and the one retry engine of the gate, built on `backon`.
//!
//! Every wait is exponential, capped per step, jittered *within* the cap (each delay is drawn
//! from [d/2, d] where d is the capped exponential step, so jitter never exceeds the
//! documented maximum), and bounded by an overall deadline. A server's `Retry-After` /
//! `retryAfterSeconds` hint, when given, is the earliest retry (the server says when to come
//! back), spread a little later ([`after_hint`]) so that clients throttled together do not all
//! come back in the same instant. Every retried operation — AWS calls and registry uploads
//! alike — goes through [`call`]. There is no busy loop anywhere.

use backon::{BackoffBuilder, ExponentialBuilder};
use std::time::Duration;
use tokio::time::Instant;

/// Parameters of an exponential backoff.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub min: Duration,
    pub max: Duration,
    pub factor: f32,
}

impl Schedule {
    /// Polling for scan status: 5 s, 10 s, 20 s, then every 30 s (each with jitter).
    pub const POLL: Schedule = Schedule {
        min: Duration::from_secs(5),
        max: Duration::from_secs(30),
        factor: 2.0,
    };

    /// Retrying one failed call: 1 s, 2 s, 4 s ... up to 20 s.
    pub const CALL: Schedule = Schedule {
        min: Duration::from_secs(1),
        max: Duration::from_secs(20),
        factor: 2.0,
    };

    /// The capped exponential steps, without jitter: min, min·factor, ... max, max, ...
    pub fn steps(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(self.min)
            .with_max_delay(self.max)
            .with_factor(self.factor)
            .without_max_times()
            .build()
    }

    /// An endless iterator of jittered delays (the deadline, not a count, bounds the loop).
    /// Each delay lies in [step/2, step], so it never exceeds `max`.
    pub fn delays(&self) -> impl Iterator<Item = Duration> {
        self.steps().map(jitter)
    }

    /// The same schedule starting at `min` (max scaled alike): tests and demos run fast.
    pub fn scaled(&self, min: Duration) -> Schedule {
        let ratio = min.as_secs_f64() / self.min.as_secs_f64().max(1e-9);
        Schedule {
            min,
            max: self.max.mul_f64(ratio).max(min),
            factor: self.factor,
        }
    }
}

/// "Equal jitter": a random point in [d/2, d]. Spreads concurrent clients apart without ever
/// waiting longer than the step (full jitter can wait almost nothing, which hammers a
/// throttling service; adding jitter on top of the step breaks the documented cap).
fn jitter(d: Duration) -> Duration {
    d.mul_f64(0.5 + fastrand::f64() * 0.5)
}

/// The shortest wait after a server-given hint (a `Retry-After: 0` must not become a busy loop).
pub const MIN_HINTED_DELAY: Duration = Duration::from_millis(100);

/// How much later than a server's hint a retry may come, as a share of the hint...
pub const HINT_SPREAD: f64 = 0.5;
/// ... and at most this much later.
pub const MAX_HINT_SPREAD: Duration = Duration::from_secs(5);

/// The wait after a server's hint `hint`, with `room` left before the deadline and `u` drawn
/// uniformly from [0, 1): never less than the hint (nor [`MIN_HINTED_DELAY`]), plus
/// `u` × [`HINT_SPREAD`] of it (at most [`MAX_HINT_SPREAD`]), trimmed to stay before the
/// deadline; `None` when the hint itself does not fit.
///
/// Why spread: an account throttles every caller at once, and its answers all say the same
/// `Retry-After: 1`; retried exactly then, a hundred gates come back in the same millisecond
/// into a bucket that refilled one second's worth, and most are throttled again, round after
/// round. Spread over half the hint, a second's worth more of them gets through each round.
/// Half, not more: the hint is the server's estimate of when it has room, and every extra
/// is latency (the expected extra is a quarter of the hint; four throttles in a row with
/// `Retry-After: 1` cost about one second more than exactly honoured hints). The cap keeps a
/// long hint (a server already spreading its callers over a minute) from adding much more.
pub fn after_hint(hint: Duration, room: Duration, u: f64) -> Option<Duration> {
    let hint = hint.max(MIN_HINTED_DELAY);
    if hint >= room {
        return None;
    }
    let extra = hint
        .mul_f64(HINT_SPREAD)
        .min(MAX_HINT_SPREAD)
        .mul_f64(u.clamp(0.0, 1.0));
    let latest = room.saturating_sub(Duration::from_millis(1)).max(hint);
    Some((hint + extra).min(latest))
}

/// An error the retry helper understands.
pub trait Retryable {
    /// `Some(hint)` when the call may succeed if repeated; the hint is the server's
    /// requested minimum delay, if it gave one.
    fn retry_hint(&self) -> Option<Option<Duration>>;
    /// One line saying what failed, for the retry report ([`on_retry`]); `None` says nothing.
    fn summary(&self) -> Option<String> {
        None
    }
}

/// Where [`call`] reports the failures it retries: `(what failed, attempt, delay)`. Set once
/// by the command that runs (stderr progress). Without it a gate whose endpoint refuses every
/// connection would retry in silence until its `--timeout`, even with `-v`.
static REPORT: std::sync::OnceLock<Box<Reporter>> = std::sync::OnceLock::new();
type Reporter = dyn Fn(&str, u32, Duration) + Send + Sync;

/// Report every retried failure of [`call`] to `f` (the first setting wins).
pub fn on_retry(f: impl Fn(&str, u32, Duration) + Send + Sync + 'static) {
    let _ = REPORT.set(Box::new(f));
}

/// Call `op` until it succeeds, fails permanently, or `deadline` passes. Returns the last
/// error when the deadline stops the retries.
pub async fn call<T, E, F, Fut>(schedule: Schedule, deadline: Instant, op: F) -> Result<T, E>
where
    E: Retryable,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let attempt = std::sync::atomic::AtomicU32::new(0);
    call_notify(schedule, deadline, op, |e: &E, delay| {
        let n = attempt.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if let (Some(report), Some(what)) = (REPORT.get(), e.summary()) {
            report(&what, n, delay);
        }
    })
    .await
}

/// [`call`], telling `notify` about each failure that will be retried and the delay before it.
pub async fn call_notify<T, E, F, Fut>(
    schedule: Schedule,
    deadline: Instant,
    mut op: F,
    notify: impl Fn(&E, Duration),
) -> Result<T, E>
where
    E: Retryable,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut delays = schedule.delays();
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let Some(hint) = e.retry_hint() else {
                    return Err(e);
                };
                // The server's own Retry-After / retryAfterSeconds is when it wants us back
                // (spread a little after it). Without one, the schedule decides.
                let step = delays.next().unwrap_or(schedule.max);
                let now = Instant::now();
                let room = deadline.saturating_duration_since(now);
                let delay = match hint {
                    Some(h) => match after_hint(h, room, fastrand::f64()) {
                        Some(d) => d,
                        None => return Err(e),
                    },
                    None => step,
                };
                if delay >= room {
                    return Err(e);
                }
                notify(&e, delay);
                tokio::time::sleep(delay).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[derive(Debug)]
    struct E(Option<Option<Duration>>);
    impl Retryable for E {
        fn retry_hint(&self) -> Option<Option<Duration>> {
            self.0
        }
    }

    #[test]
    fn delays_grow_and_are_capped() {
        let s = Schedule {
            min: Duration::from_millis(100),
            max: Duration::from_millis(400),
            factor: 2.0,
        };
        let steps: Vec<_> = s.steps().take(6).collect();
        let ms = |d: Duration| d.as_millis();
        assert_eq!(ms(steps[0]), 100);
        assert_eq!(ms(steps[1]), 200);
        assert_eq!(ms(steps[5]), 400);
        // Jitter stays within [step/2, step]: the documented cap is never exceeded.
        for _ in 0..200 {
            let d: Vec<_> = s.delays().take(6).collect();
            assert!(d.iter().all(|x| *x <= Duration::from_millis(400)), "{d:?}");
            assert!(d[0] >= Duration::from_millis(50), "{d:?}");
            assert!(d[5] >= Duration::from_millis(200), "{d:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_errors_honouring_the_hint() {
        let calls = Cell::new(0);
        let start = Instant::now();
        let s = Schedule {
            min: Duration::from_millis(10),
            max: Duration::from_millis(20),
            factor: 2.0,
        };
        let r: Result<u32, E> = call(s, start + Duration::from_secs(60), || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(E(Some(Some(Duration::from_secs(2)))))
                } else {
                    Ok(7)
                }
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls.get(), 3);
        assert!(
            start.elapsed() >= Duration::from_secs(4),
            "retryAfter honoured: {:?}",
            start.elapsed()
        );
        // ... spread by at most half of it each time, not a floor under a growing schedule.
        assert!(
            start.elapsed() <= Duration::from_secs(6),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn a_hint_is_never_retried_early_and_spread_within_half_of_it() {
        let ms = Duration::from_millis;
        let room = Duration::from_secs(600);
        assert_eq!(after_hint(ms(1000), room, 0.0), Some(ms(1000)));
        assert_eq!(after_hint(ms(1000), room, 0.5), Some(ms(1250)));
        assert_eq!(after_hint(ms(1000), room, 1.0), Some(ms(1500)));
        // The spread is capped; a zero hint is still a pause.
        assert_eq!(after_hint(ms(60_000), room, 1.0), Some(ms(65_000)));
        assert_eq!(after_hint(ms(0), room, 0.0), Some(MIN_HINTED_DELAY));
        // Drawn uniformly, the retries of many clients spread over the whole half.
        let mut buckets = [0u32; 5];
        for _ in 0..1000 {
            let d = after_hint(ms(1000), room, fastrand::f64()).unwrap();
            assert!(d >= ms(1000) && d <= ms(1500), "{d:?}");
            buckets[((d.as_millis() - 1000) / 100).min(4) as usize] += 1;
        }
        assert!(buckets.iter().all(|n| *n > 100), "{buckets:?}");
        // The deadline: a hint that does not fit ends the retries; the spread is trimmed to
        // keep a retry the hint allows.
        assert_eq!(after_hint(ms(1000), ms(1000), 0.0), None);
        assert_eq!(after_hint(ms(1000), ms(1200), 1.0), Some(ms(1199)));
        assert_eq!(
            after_hint(ms(1000), ms(1000) + Duration::from_micros(10), 1.0),
            Some(ms(1000))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_and_deadlines_stop_retrying() {
        let calls = Cell::new(0);
        let s = Schedule::CALL;
        let r: Result<(), E> = call(s, Instant::now() + Duration::from_secs(60), || {
            calls.set(calls.get() + 1);
            async { Err(E(None)) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.get(), 1);
        calls.set(0);
        let r: Result<(), E> = call(s, Instant::now() + Duration::from_secs(10), || {
            calls.set(calls.get() + 1);
            async { Err(E(Some(None))) }
        })
        .await;
        assert!(r.is_err());
        assert!(calls.get() >= 2 && calls.get() < 10, "{}", calls.get());
    }
}
