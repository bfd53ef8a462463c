//! The platform side of HTTP: reads a request body within the size limit, and copies a pure
//! [`Answer`] into a platform response.

use ::worker::{Headers, Request, Response, ResponseBuilder};

use super::{Problem, check_body_size, check_content_encoding};

use super::Answer;

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

/// The body, refused when compressed ([`check_content_encoding`]) and above
/// [`super::MAX_BODY_BYTES`] by `Content-Length`, both before reading, and by the actual length
/// after.
pub async fn read_body(req: &mut Request) -> Result<Vec<u8>, Problem> {
    let encoding = req.headers().get("Content-Encoding").ok().flatten();
    check_content_encoding(encoding.as_deref())?;
    let declared = req.headers().get("Content-Length").ok().flatten();
    check_body_size(declared.as_deref(), None)?;
    let body = req.bytes().await.map_err(|_| Problem::Internal)?;
    check_body_size(None, Some(body.len()))?;
    Ok(body)
}
