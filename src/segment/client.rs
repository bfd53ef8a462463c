//! One attempt to deliver one queue message to Segment's HTTP Tracking API, classified for the
//! retry policy. The write key appears only in the `Authorization` header built here.

use ::worker::{AbortSignal, Fetch, Headers, Method, Request, RequestInit};
use wasm_bindgen::JsValue;

use super::retry::{Attempt, AttemptResult, parse_retry_after, system_time_from_millis};
use crate::config::WriteKey;

/// POSTs `body` to `url` within `timeout_ms`; `now_ms` dates a `Retry-After` HTTP-date.
pub async fn send(
    url: &str,
    write_key: &WriteKey,
    body: &str,
    timeout_ms: u32,
    now_ms: u64,
) -> Attempt {
    let Ok(request) = build(url, write_key, body) else {
        return Attempt::failed(AttemptResult::NetworkError);
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
                .and_then(|v| parse_retry_after(&v, system_time_from_millis(now_ms)));
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
        Err(_) if signal.aborted() => Attempt::failed(AttemptResult::Timeout),
        Err(_) => Attempt::failed(AttemptResult::NetworkError),
    }
}

fn build(url: &str, write_key: &WriteKey, body: &str) -> ::worker::Result<Request> {
    let headers = Headers::new();
    headers.set("Authorization", &write_key.basic_auth_header())?;
    headers.set("Content-Type", "application/json")?;
    headers.set("User-Agent", super::USER_AGENT)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(body)));
    Request::new_with_init(url, &init)
}
