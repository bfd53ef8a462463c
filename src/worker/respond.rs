//! Copies a pure [`Answer`] into a platform response.

use ::worker::{Headers, Response, ResponseBuilder};

use crate::http::Answer;

/// The response for `answer`.
pub fn to_response(answer: Answer) -> ::worker::Result<Response> {
    let headers = Headers::new();
    for (name, value) in &answer.headers {
        headers.set(name, value)?;
    }
    Ok(ResponseBuilder::new()
        .with_status(answer.status)
        .with_headers(headers)
        .fixed(answer.body.into_bytes()))
}
