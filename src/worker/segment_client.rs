//! One attempt to deliver one batch to Segment's HTTP Tracking API, classified for the retry
//! policy. The write key appears only in the `Authorization` header built here.

use ::worker::{AbortSignal, Date, Fetch, Headers, Method, Request, RequestInit};
use wasm_bindgen::JsValue;

use crate::config::WriteKey;
use crate::http;
use crate::retry::{AttemptResult, parse_retry_after, system_time_from_millis};
use crate::segment::SegmentBatch;

/// POSTs `batch` to `url` with `sentAt` = now, within [`http::SEGMENT_TIMEOUT_MS`].
pub async fn send(url: &str, write_key: &WriteKey, batch: &SegmentBatch) -> AttemptResult {
    let Ok(request) = build(url, write_key, batch) else {
        return AttemptResult::NetworkError;
    };
    let signal = AbortSignal::from(::worker::web_sys::AbortSignal::timeout_with_u32(
        http::SEGMENT_TIMEOUT_MS,
    ));
    match Fetch::Request(request).send_with_signal(&signal).await {
        Ok(response) => {
            let retry_after = response
                .headers()
                .get("Retry-After")
                .ok()
                .flatten()
                .and_then(|v| {
                    parse_retry_after(&v, system_time_from_millis(Date::now().as_millis()))
                });
            AttemptResult::Status {
                code: response.status_code(),
                retry_after,
            }
        }
        Err(_) if signal.aborted() => AttemptResult::Timeout,
        Err(_) => AttemptResult::NetworkError,
    }
}

fn build(url: &str, write_key: &WriteKey, batch: &SegmentBatch) -> ::worker::Result<Request> {
    let headers = Headers::new();
    headers.set("Authorization", &write_key.basic_auth_header())?;
    headers.set("Content-Type", "application/json")?;
    headers.set("User-Agent", http::USER_AGENT)?;
    // `sentAt` is the time of this HTTP attempt (Segment's docs), so it is set here.
    let body = batch.body(Some(&http::iso_millis(Date::now().as_millis())));
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&body)));
    Request::new_with_init(url, &init)
}
