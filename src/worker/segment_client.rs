//! One attempt to deliver one queue message to Segment's HTTP Tracking API, classified for the
//! retry policy. The write key appears only in the `Authorization` header built here.

use ::worker::{AbortSignal, Date, Fetch, Headers, Method, Request, RequestInit};
use wasm_bindgen::JsValue;

use crate::config::WriteKey;
use crate::http;
use crate::retry::{AttemptResult, parse_retry_after, system_time_from_millis};

/// The result of an attempt, and Segment's answer body when it refused the batch (4xx/5xx).
pub struct Attempt {
    /// For the retry classifier.
    pub result: AttemptResult,
    /// Segment's answer text on an error status (for quarantine details).
    pub answer: Option<String>,
}

/// POSTs `body` to `url` within `timeout_ms`.
pub async fn send(url: &str, write_key: &WriteKey, body: &str, timeout_ms: u32) -> Attempt {
    let Ok(request) = build(url, write_key, body) else {
        return Attempt {
            result: AttemptResult::NetworkError,
            answer: None,
        };
    };
    let signal = AbortSignal::from(::worker::web_sys::AbortSignal::timeout_with_u32(timeout_ms));
    match Fetch::Request(request).send_with_signal(&signal).await {
        Ok(mut response) => {
            let code = response.status_code();
            let retry_after = response
                .headers()
                .get("Retry-After")
                .ok()
                .flatten()
                .and_then(|v| {
                    parse_retry_after(&v, system_time_from_millis(Date::now().as_millis()))
                });
            let answer = if code >= 400 {
                response.text().await.ok()
            } else {
                None
            };
            Attempt {
                result: AttemptResult::Status { code, retry_after },
                answer,
            }
        }
        Err(_) if signal.aborted() => Attempt {
            result: AttemptResult::Timeout,
            answer: None,
        },
        Err(_) => Attempt {
            result: AttemptResult::NetworkError,
            answer: None,
        },
    }
}

fn build(url: &str, write_key: &WriteKey, body: &str) -> ::worker::Result<Request> {
    let headers = Headers::new();
    headers.set("Authorization", &write_key.basic_auth_header())?;
    headers.set("Content-Type", "application/json")?;
    headers.set("User-Agent", http::USER_AGENT)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(body)));
    Request::new_with_init(url, &init)
}
