//! One API rate budget per run (per set of clients: one account and region): a token bucket
//! for each of Inspector2, ECR and CodePipeline, sized by `--api-rate` (requests per second
//! per service), that every SDK request of those services waits on before it is sent. It sits
//! under the SDK as the HTTP client every client of the run is built with, so no call — ours
//! or one added later — bypasses it.
//!
//! Why: every gate in an account shares the account's API rate; a run gating many images (or
//! a hundred gates at once) must not turn into throttling for everyone. Inspector publishes no
//! per-API rate (its API reference says only that a `ThrottlingException`, HTTP 429, means
//! "the limit on the number of requests per second was exceeded"; the Service Quotas page
//! lists no rate), so the default ([`DEFAULT_RATE`]) is a conservative guess; batching
//! (`wait::batch`) keeps a run far below it anyway.
//!
//! Each bucket holds [`BURST_SECONDS`] of its rate: the calls of one gate (a handful at the
//! start, one round per poll) go out unspaced, and only a run that keeps asking faster than
//! the rate is slowed to it.
//!
//! A throttled answer (HTTP 429, or an `x-amzn-ErrorType` naming throttling) still goes back
//! to the caller, which retries it after the server's `Retry-After` (`crate::retry`); here it
//! halves the rate (never below [`MIN_RATE`]) and drops what was saved up: the account is
//! busier than the budget assumed. Halved is the rate the run was actually sending (over the
//! last [`SENT_WINDOW`], once it has run that long) when that is below the budget: a gate
//! polling every 3 s under a 10/s budget sends 0.3/s, and halving 10/s would take five
//! throttles before it sent any less (a hundred such gates: five hundred throttles). Answers
//! throttled within [`SHRINK_GAP`] of a shrink were sent before it and do not shrink it again.
//!
//! While no throttle is seen the rate climbs back, linearly, toward the budget: additive
//! increase, multiplicative decrease. The slope is the halved rate per [`RECOVERY`], so the
//! rate that was throttled is regained after [`RECOVERY`] and then probed past at the same
//! slope. The AWS SDKs' "adaptive" retry mode (smithy-rs `ClientRateLimiter`) also shrinks to a
//! fraction (0.7) of the measured rate and grows back with time since the last throttle (a CUBIC
//! curve regaining the throttled rate within about two seconds); it is built for one client
//! against one service. Here a hundred gates may share an account, each seeing only its own
//! throttles, so what matters is how fast they climb together: with a slope proportional to
//! each gate's own halved rate, the gates of an account climb back by half of what the account
//! sustained per [`RECOVERY`], however many there are. A fixed slope (or the SDK's curve) would
//! climb a hundred times faster with a hundred gates and throttle them again at once.
//!
//! The bucket's arithmetic ([`Limiter`]) is pure, the clock passed in; [`Bucket`] puts it
//! behind a lock and sleeps for it.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Requests per second per service when `--api-rate` is not given.
pub const DEFAULT_RATE: f64 = 10.0;
/// How many seconds of its rate a bucket saves up (the burst: 50 calls at the default, so a
/// run gating 50 images resolves them all at once).
pub const BURST_SECONDS: f64 = 5.0;
/// The lowest rate throttling shrinks a bucket to.
pub const MIN_RATE: f64 = 0.2;

/// How far back a bucket counts the calls its run sent, for the rate a throttle halves.
pub const SENT_WINDOW: Duration = Duration::from_secs(10);
/// Throttled answers this soon after a shrink do not shrink again.
pub const SHRINK_GAP: Duration = Duration::from_secs(1);

/// Without a throttle, a shrunk rate climbs back by itself per this long: linearly, so the
/// rate that was halved is regained after this long (and a rate `r` reaches the budget `b`
/// after `b/r - 1` times it: 0.2/s under 10/s in about eight minutes).
/// Short enough that a gate throttled during its scan has its rate (and a burst for the last
/// few calls) back by the scan's end; long enough that a hundred gates sharing an account
/// climb together at half the account's rate per this long, not at once. Measured
/// (`scripts/bench-fanout org`, 100 gates, an account throttling at 20/s): 5 s sent 1604
/// calls, 602 throttled, for a p95 of 17.8 s from scan done to exit; 10 s sent 1474, 496
/// throttled, for 17.6 s.
pub const RECOVERY: Duration = Duration::from_secs(10);

/// The services that have a bucket, by their SigV4 signing name.
pub const SERVICES: [&str; 3] = ["inspector2", "ecr", "codepipeline"];

/// The arithmetic of one bucket, the clock passed in: `rate` tokens a second (the budget, or
/// less after a throttle, climbing back), at most [`BURST_SECONDS`] of it saved up.
#[derive(Debug)]
pub struct Limiter {
    /// The budget (`--api-rate`): the rate before any throttle and the most it climbs back to.
    budget: f64,
    /// The rate the last shrink set, and when (none yet: the budget).
    shrunk: Option<(f64, Instant)>,
    tokens: f64,
    at: Instant,
    throttles: u64,
    /// When the bucket was made, and the calls it let through within [`SENT_WINDOW`].
    born: Instant,
    sent: VecDeque<Instant>,
}

impl Limiter {
    pub fn new(rate: f64, now: Instant) -> Self {
        let budget = rate.max(MIN_RATE);
        Limiter {
            budget,
            shrunk: None,
            tokens: burst_of(budget),
            at: now,
            throttles: 0,
            born: now,
            sent: VecDeque::new(),
        }
    }

    /// The rate at `now`: the budget, or the rate the last shrink set plus what it has
    /// regained since (its own value per [`RECOVERY`]), never above the budget.
    pub fn rate(&self, now: Instant) -> f64 {
        match self.shrunk {
            None => self.budget,
            Some((low, t)) => {
                let since = now.saturating_duration_since(t).as_secs_f64();
                (low * (1.0 + since / RECOVERY.as_secs_f64())).min(self.budget)
            }
        }
    }

    /// How many throttled answers the bucket saw.
    pub fn throttles(&self) -> u64 {
        self.throttles
    }

    /// Add what was earned since the last refill. The rate climbs linearly between shrinks
    /// (then stays at the budget), so the mean of its two ends never earns more than it did.
    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        let mean = (self.rate(self.at) + self.rate(now)) / 2.0;
        self.tokens = (self.tokens + dt * mean).min(burst_of(self.rate(now)));
        self.at = self.at.max(now);
    }

    /// Forget the calls sent more than [`SENT_WINDOW`] before `now`.
    fn forget_old(&mut self, now: Instant) {
        while self
            .sent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > SENT_WINDOW)
        {
            self.sent.pop_front();
        }
    }

    /// Take one token at `now`, or say how long until one may be there.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.forget_old(now);
            self.sent.push_back(now);
            return Ok(());
        }
        // At least a millisecond: a wait rounded to nothing would spin.
        Err(Duration::from_secs_f64(
            ((1.0 - self.tokens) / self.rate(now)).max(0.001),
        ))
    }

    /// The service throttled a call at `now`: halve the rate (what it is now, or what the run
    /// was sending if less), and drop what was saved up (the account is at its limit now: no
    /// burst into it).
    pub fn throttled(&mut self, now: Instant) {
        self.refill(now);
        self.tokens = self.tokens.min(0.0);
        self.throttles += 1;
        if self
            .shrunk
            .is_some_and(|(_, t)| now.saturating_duration_since(t) < SHRINK_GAP)
        {
            return;
        }
        self.forget_old(now);
        // What the run sends is known only once it has run a whole window: a run throttled
        // at its start (one call so far) halves its budget, not that one call a second.
        let rate = self.rate(now);
        let base = if now.saturating_duration_since(self.born) >= SENT_WINDOW {
            rate.min(self.sent.len() as f64 / SENT_WINDOW.as_secs_f64())
        } else {
            rate
        };
        self.shrunk = Some(((base / 2.0).max(MIN_RATE), now));
    }
}

/// A [`Limiter`] on the real clock, shared by the requests of one service.
#[derive(Debug)]
pub struct Bucket {
    limiter: Mutex<Limiter>,
}

impl Bucket {
    pub fn new(rate: f64) -> Self {
        Bucket {
            limiter: Mutex::new(Limiter::new(rate, Instant::now())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Limiter> {
        self.limiter.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait for one token.
    pub async fn take(&self) {
        loop {
            let wait = self.lock().try_take(Instant::now());
            match wait {
                Ok(()) => return,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// The service throttled a call just now.
    pub fn throttled(&self) {
        self.lock().throttled(Instant::now());
    }

    /// The rate now, and how many throttled answers the bucket saw.
    pub fn rate(&self) -> (f64, u64) {
        let l = self.lock();
        (l.rate(Instant::now()), l.throttles())
    }
}

/// The burst of a bucket of `rate`: [`BURST_SECONDS`] of it, at least one call.
fn burst_of(rate: f64) -> f64 {
    (rate * BURST_SECONDS).max(1.0)
}

/// The buckets of one run.
#[derive(Debug)]
pub struct Budget {
    buckets: Vec<(&'static str, Bucket)>,
}

impl Budget {
    pub fn new(rate: f64) -> Self {
        Budget {
            buckets: SERVICES.iter().map(|s| (*s, Bucket::new(rate))).collect(),
        }
    }

    /// The bucket of `service` (a SigV4 signing name), if it has one.
    pub fn bucket(&self, service: &str) -> Option<&Bucket> {
        self.buckets
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, b)| b)
    }
}

/// The SigV4 signing name of a signed request (`Credential=AKID/DATE/REGION/SERVICE/…`):
/// endpoints may be overridden (tests, VPC endpoints), the signature scope is not.
fn service_of(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("authorization")?
        .split("Credential=")
        .nth(1)?
        .split('/')
        .nth(3)
        .map(str::to_string)
}

/// Whether an answer says the caller is throttled.
fn is_throttle(status: u16, error_type: Option<&str>) -> bool {
    status == 429
        || error_type.is_some_and(|t| {
            let t = t.to_ascii_lowercase();
            t.contains("throttl") || t.contains("toomanyrequests") || t.contains("slowdown")
        })
}

/// The HTTP client every SDK client of a run is built with: the SDK's default HTTPS client
/// (rustls with aws-lc, proxy settings from the environment), each request first waiting on
/// its service's bucket in `budget`.
pub fn http_client(budget: Arc<Budget>) -> SharedHttpClient {
    SharedHttpClient::new(Budgeted {
        inner: default_client(),
        budget,
    })
}

fn default_client() -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::{tls, Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut conn = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    })
}

#[derive(Debug)]
struct Budgeted {
    inner: SharedHttpClient,
    budget: Arc<Budget>,
}

impl HttpClient for Budgeted {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(BudgetedConnector {
            inner: self.inner.http_connector(settings, components),
            budget: self.budget.clone(),
        })
    }
}

#[derive(Debug)]
struct BudgetedConnector {
    inner: SharedHttpConnector,
    budget: Arc<Budget>,
}

impl HttpConnector for BudgetedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let budget = self.budget.clone();
        let service = service_of(&request);
        HttpConnectorFuture::new(async move {
            let bucket = service.as_deref().and_then(|s| budget.bucket(s));
            if let Some(b) = bucket {
                b.take().await;
            }
            let response = inner.call(request).await?;
            if let Some(b) = bucket {
                if is_throttle(
                    response.status().as_u16(),
                    response.headers().get("x-amzn-errortype"),
                ) {
                    b.throttled();
                }
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// Take every token there is at `now`: how many.
    fn drain(l: &mut Limiter, now: Instant) -> usize {
        (0..).take_while(|_| l.try_take(now).is_ok()).count()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_spaces_calls_at_its_rate_after_the_burst() {
        let b = Bucket::new(5.0);
        let t = Instant::now();
        for _ in 0..25 {
            b.take().await;
        }
        assert_eq!(
            t.elapsed(),
            Duration::ZERO,
            "five seconds' worth go out unspaced"
        );
        for _ in 0..10 {
            b.take().await;
        }
        // Then 10 at 5 a second.
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(1990) && took < Duration::from_millis(2100),
            "{took:?}"
        );
    }

    #[test]
    fn a_limiter_says_how_long_until_its_next_token() {
        let t0 = Instant::now();
        let mut l = Limiter::new(5.0, t0);
        assert_eq!(drain(&mut l, t0), 25, "five seconds' worth saved up");
        let wait = l.try_take(t0).unwrap_err();
        assert!(close(wait.as_secs_f64(), 0.2), "{wait:?}");
        assert!(l.try_take(t0 + wait).is_ok());
        assert!(l.try_take(t0 + wait).is_err());
        // Idle, it saves up its burst again, and no more.
        assert_eq!(drain(&mut l, t0 + secs(60.0)), 25);
    }

    #[test]
    fn throttling_halves_the_rate_and_drops_the_burst() {
        let t0 = Instant::now();
        let mut l = Limiter::new(4.0, t0);
        // The run sends 8 calls at its start: faster than the budget, which is halved.
        for _ in 0..8 {
            l.try_take(t0).unwrap();
        }
        l.throttled(t0);
        assert_eq!((l.rate(t0), l.throttles()), (2.0, 1));
        // Answers throttled right after (sent before the shrink) do not shrink it again.
        l.throttled(t0 + secs(0.5));
        assert_eq!(l.throttles(), 2);
        let climbed = |s: f64| 2.0 * (1.0 + s / RECOVERY.as_secs_f64());
        assert!(close(l.rate(t0 + secs(0.5)), climbed(0.5)));
        // Nothing saved up after a throttled answer: the next token is earned at the halved
        // rate, climbing (over 2 a second from half a second to a second after the shrink).
        assert!(l.try_take(t0 + secs(0.5)).is_err());
        assert!(l.try_take(t0 + secs(1.0)).is_ok(), "over 1 token earned");
        assert!(l.try_take(t0 + secs(1.0)).is_err());
        let mut t = t0;
        for _ in 0..20 {
            t += SHRINK_GAP;
            l.throttled(t);
        }
        assert_eq!(l.rate(t), MIN_RATE, "never below the floor");
    }

    /// A run sending less than its budget (a gate polling every few seconds) is slowed below
    /// what it sends at the first throttle, not after halving the budget down to it.
    #[test]
    fn a_throttle_halves_what_the_run_sends_when_that_is_below_the_budget() {
        let t0 = Instant::now();
        let mut l = Limiter::new(10.0, t0);
        for i in 0..5 {
            l.try_take(t0 + secs(2.0 * f64::from(i))).unwrap();
        }
        // 5 calls in the last 10 s: 0.5 a second, halved.
        let t = t0 + secs(10.0);
        l.throttled(t);
        assert_eq!((l.rate(t), l.throttles()), (0.25, 1));
        // The same run throttled in its first seconds halves its budget instead.
        let mut l = Limiter::new(10.0, t0);
        l.try_take(t0).unwrap();
        l.throttled(t0 + secs(1.0));
        assert_eq!(l.rate(t0 + secs(1.0)), 5.0);
    }

    /// Additive increase: without a throttle the halved rate climbs back linearly, regaining
    /// the rate that was throttled after RECOVERY, and on to the budget, never past it.
    #[test]
    fn the_rate_climbs_back_to_the_budget_while_nothing_is_throttled() {
        let r = RECOVERY.as_secs_f64();
        let t0 = Instant::now();
        let mut l = Limiter::new(8.0, t0);
        l.throttled(t0);
        assert_eq!(l.rate(t0), 4.0);
        assert!(close(l.rate(t0 + RECOVERY / 2), 6.0));
        assert_eq!(l.rate(t0 + RECOVERY), 8.0, "the throttled rate regained");
        assert_eq!(l.rate(t0 + RECOVERY * 10), 8.0, "never above the budget");
        // From a low rate the slope is that rate's: 0.2/s regains 0.2/s per RECOVERY.
        let mut l = Limiter::new(10.0, t0);
        let mut t = t0;
        for _ in 0..10 {
            t += SHRINK_GAP;
            l.throttled(t);
        }
        assert_eq!(l.rate(t), MIN_RATE);
        assert!(close(l.rate(t + RECOVERY), 2.0 * MIN_RATE));
        assert!(close(l.rate(t + RECOVERY * 4), 5.0 * MIN_RATE));
        assert!(close(l.rate(t + secs(r * 49.0)), 10.0));
        // A throttle during the climb halves where the climb has got to.
        let mut l = Limiter::new(8.0, t0);
        l.throttled(t0);
        let t1 = t0 + RECOVERY / 2;
        l.throttled(t1);
        assert!(close(l.rate(t1), 3.0), "{}", l.rate(t1));
        assert!(close(l.rate(t1 + RECOVERY), 6.0), "{}", l.rate(t1));
    }

    /// Tokens are earned at the climbing rate: its mean over the time since the last refill.
    #[test]
    fn tokens_are_earned_at_the_climbing_rate() {
        let t0 = Instant::now();
        let mut l = Limiter::new(4.0, t0);
        l.throttled(t0);
        // 2/s at t0, 3/s half a RECOVERY later: (2 + 3) / 2 a second earned in between.
        let dt = RECOVERY / 2;
        let t = t0 + dt;
        assert!(close(l.rate(t), 3.0));
        let earned = 2.5 * dt.as_secs_f64();
        assert!(earned < burst_of(3.0), "the test stays under the burst");
        assert_eq!(drain(&mut l, t), earned.floor() as usize);
        let wait = l.try_take(t).unwrap_err().as_secs_f64();
        assert!(close(wait, (1.0 - earned.fract()) / 3.0), "{wait}");
        // The burst is the climbing rate's five seconds, too: long idle saves up the budget's.
        assert_eq!(drain(&mut l, t + secs(600.0)), 20);
    }

    #[test]
    fn throttled_answers_and_services_are_recognised() {
        assert!(is_throttle(429, None));
        assert!(is_throttle(400, Some("ThrottlingException")));
        assert!(is_throttle(
            400,
            Some("ThrottlingException:http://internal.amazon.com/coral/")
        ));
        assert!(!is_throttle(400, Some("ValidationException")));
        assert!(!is_throttle(500, None));
        let budget = Budget::new(1.0);
        for s in SERVICES {
            assert!(budget.bucket(s).is_some(), "{s}");
        }
        assert!(budget.bucket("kms").is_none());
        let mut req = HttpRequest::empty();
        req.headers_mut().insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/inspector2/aws4_request, SignedHeaders=host, Signature=0",
        );
        assert_eq!(service_of(&req).as_deref(), Some("inspector2"));
    }
}
