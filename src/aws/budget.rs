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
//! to the caller, which retries it honouring `Retry-After` (`crate::retry`); here it halves
//! the rate for the rest of the run (never below [`MIN_RATE`]): the account is busier than the
//! budget assumed. Halved is the rate the run was actually sending (over the last
//! [`SENT_WINDOW`], once it has run that long) when that is below the budget: a gate polling every 3 s under a 10/s
//! budget sends 0.3/s, and halving 10/s would take five throttles before it sent any less (a
//! hundred such gates: five hundred throttles). Answers throttled within [`SHRINK_GAP`] of a
//! shrink were sent before it and do not shrink it again.

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

/// The services that have a bucket, by their SigV4 signing name.
pub const SERVICES: [&str; 3] = ["inspector2", "ecr", "codepipeline"];

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
#[derive(Debug)]
pub struct Bucket {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
    throttles: u64,
    /// When the bucket was made, and the calls it let through within [`SENT_WINDOW`].
    born: Instant,
    sent: VecDeque<Instant>,
    shrunk_at: Option<Instant>,
}

impl State {
    fn forget_old(&mut self, now: Instant) {
        while self.sent.front().is_some_and(|t| now - *t > SENT_WINDOW) {
            self.sent.pop_front();
        }
    }
}

impl Bucket {
    pub fn new(rate: f64) -> Self {
        let rate = rate.max(MIN_RATE);
        let burst = burst_of(rate);
        Bucket {
            state: Mutex::new(State {
                rate,
                burst,
                tokens: burst,
                at: Instant::now(),
                throttles: 0,
                born: Instant::now(),
                sent: VecDeque::new(),
                shrunk_at: None,
            }),
        }
    }

    /// Wait for one token.
    pub async fn take(&self) {
        loop {
            let wait = {
                let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                s.tokens = (s.tokens + (now - s.at).as_secs_f64() * s.rate).min(s.burst);
                s.at = now;
                if s.tokens >= 1.0 {
                    s.tokens -= 1.0;
                    s.forget_old(now);
                    s.sent.push_back(now);
                    return;
                }
                Duration::from_secs_f64((1.0 - s.tokens) / s.rate)
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// The service throttled us: halve the rate (the budget, or what the run was sending if
    /// less) for the rest of the run, and drop what was saved up (the account is at its limit
    /// now: no burst into it).
    pub fn throttled(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        s.tokens = s.tokens.min(0.0);
        s.throttles += 1;
        if s.shrunk_at.is_some_and(|t| now - t < SHRINK_GAP) {
            return;
        }
        s.forget_old(now);
        // What the run sends is known only once it has run a whole window: a run throttled
        // at its start (one call so far) halves its budget, not that one call a second.
        let base = if now - s.born >= SENT_WINDOW {
            s.rate.min(s.sent.len() as f64 / SENT_WINDOW.as_secs_f64())
        } else {
            s.rate
        };
        s.rate = (base / 2.0).max(MIN_RATE);
        s.burst = burst_of(s.rate);
        s.shrunk_at = Some(now);
    }

    /// The rate now, and how many throttled answers the bucket saw.
    pub fn rate(&self) -> (f64, u64) {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (s.rate, s.throttles)
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

    #[tokio::test(start_paused = true)]
    async fn throttling_halves_the_rate_for_the_rest_of_the_run() {
        let b = Bucket::new(4.0);
        // The run sends 8 calls in its first second: faster than the budget, which is halved.
        for _ in 0..8 {
            b.take().await;
        }
        b.throttled();
        assert_eq!(b.rate(), (2.0, 1));
        // Answers throttled right after (sent before the shrink) do not shrink it again.
        b.throttled();
        assert_eq!(b.rate(), (2.0, 2));
        let t = Instant::now();
        for _ in 0..4 {
            b.take().await;
        }
        // Nothing saved up after a throttle: 4 at 2 a second.
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(1990) && took < Duration::from_millis(2100),
            "{took:?}"
        );
        for _ in 0..10 {
            tokio::time::sleep(SHRINK_GAP).await;
            b.throttled();
        }
        assert_eq!(b.rate().0, MIN_RATE, "never below the floor");
    }

    /// A run sending less than its budget (a gate polling every few seconds) is slowed below
    /// what it sends at the first throttle, not after halving the budget down to it.
    #[tokio::test(start_paused = true)]
    async fn a_throttle_halves_what_the_run_sends_when_that_is_below_the_budget() {
        let b = Bucket::new(10.0);
        for _ in 0..5 {
            b.take().await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        // 5 calls in the last 10 s: 0.5 a second, halved.
        b.throttled();
        assert_eq!(b.rate(), (0.25, 1));
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
