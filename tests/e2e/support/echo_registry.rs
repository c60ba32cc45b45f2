//! A registry (or a proxy in front of one) that answers every request with an error echoing
//! the request's credentials: the `Authorization` header as received, and the Basic token it
//! carries decoded (`user:password`, the raw password) and re-encoded without padding and in the
//! URL-safe alphabet. Servers like this exist (debug proxies, misconfigured gateways); the
//! gate must print none of it. `HEAD` (a blob check, which has no body) gets 404. On
//! 127.0.0.1:<free port>, stopped when dropped.
#![allow(dead_code)]

use super::serve::Served;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use std::sync::{Arc, Mutex};

/// How the error is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Echo {
    /// 401 with a distribution-spec JSON error list (escaping `/` as `\/`, as some encoders do).
    Unauthorized401Json,
    /// 403 with a plain-text body.
    Forbidden403Text,
    /// 503 with a plain-text body: transient, so the gate retries and prints retry notices.
    Unavailable503Text,
}

struct EchoState {
    mode: Echo,
    /// Authorization values received, in order.
    seen: Vec<String>,
}

type Shared = Arc<Mutex<EchoState>>;

pub struct EchoRegistry {
    pub url: String,
    state: Shared,
    _served: Served,
}

/// Every way the body writes the credentials down.
fn echo_text(auth: &str) -> String {
    let token = auth.strip_prefix("Basic ").unwrap_or(auth);
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let password = decoded.split_once(':').map(|(_, p)| p).unwrap_or_default();
    let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&decoded);
    let url_safe = base64::engine::general_purpose::URL_SAFE.encode(&decoded);
    let url_safe_unpadded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&decoded);
    format!(
        "request had Authorization: {auth} (credentials {decoded}, password {password}, token {unpadded} / {url_safe} / {url_safe_unpadded})"
    )
}

async fn answer(State(state): State<Shared>, method: Method, headers: HeaderMap) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mode = {
        let mut st = state.lock().unwrap();
        st.seen.push(auth.clone());
        st.mode
    };
    // A HEAD answer has no body to echo in: say "no such blob", so the client goes on to
    // requests whose error bodies can (GET /v2/, POST uploads).
    if method == Method::HEAD {
        return StatusCode::NOT_FOUND.into_response();
    }
    let text = echo_text(&auth);
    match mode {
        Echo::Unauthorized401Json => {
            let body = serde_json::json!({ "errors": [ {
                "code": "UNAUTHORIZED", "message": text, "detail": { "authorization": auth }
            } ] })
            .to_string()
            .replace('/', "\\/");
            (
                StatusCode::UNAUTHORIZED,
                [
                    ("content-type", "application/json"),
                    ("www-authenticate", "Basic realm=\"echo\""),
                ],
                body,
            )
                .into_response()
        }
        Echo::Forbidden403Text => (StatusCode::FORBIDDEN, text).into_response(),
        Echo::Unavailable503Text => (StatusCode::SERVICE_UNAVAILABLE, text).into_response(),
    }
}

impl EchoRegistry {
    pub fn start(mode: Echo) -> EchoRegistry {
        let state: Shared = Arc::new(Mutex::new(EchoState {
            mode,
            seen: Vec::new(),
        }));
        let served = Served::start(Router::new().fallback(answer).with_state(state.clone()));
        EchoRegistry {
            url: served.url.clone(),
            state,
            _served: served,
        }
    }

    /// The `Authorization` values the registry received.
    pub fn seen(&self) -> Vec<String> {
        self.state.lock().unwrap().seen.clone()
    }
}
