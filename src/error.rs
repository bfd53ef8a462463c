//! Errors that reject a whole request. Each has a stable snake_case code; the Worker maps them
//! to HTTP problem responses in one place.

use thiserror::Error;

/// Why a request body is not a Currents batch. Braze answers a 400 by splitting the batch, so
/// these are reserved for bodies that are not batches at all (CONTRACTS §4).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    /// The body is not UTF-8 (JSON must be).
    #[error("body is not valid UTF-8 (first bad byte at offset {offset})")]
    InvalidUtf8 {
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// The body is not JSON.
    #[error("body is not valid JSON: {message} (line {line}, column {column})")]
    InvalidJson {
        /// serde_json's description, without position.
        message: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// The body is JSON but not an object.
    #[error("body must be a JSON object with an \"events\" array")]
    NotAnObject,
    /// The object has no `events` key (or it is null).
    #[error("body has no \"events\" array")]
    MissingEvents,
    /// `events` is not an array.
    #[error("\"events\" must be an array, found {found}")]
    EventsNotArray {
        /// The JSON kind found instead.
        found: &'static str,
    },
}

impl RequestError {
    /// Stable code for dashboards and problem bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidUtf8 { .. } => "invalid_utf8",
            Self::InvalidJson { .. } => "invalid_json",
            Self::NotAnObject => "not_an_object",
            Self::MissingEvents => "missing_events",
            Self::EventsNotArray { .. } => "events_not_array",
        }
    }

    pub(crate) fn invalid_json(e: &serde_json::Error) -> Self {
        RequestError::InvalidJson {
            message: message_without_position(e),
            line: e.line(),
            column: e.column(),
        }
    }
}

/// serde_json's message without its "at line L column C" suffix: positions go in their own
/// fields, and inside one event's text they would mislead next to the batch.
pub(crate) fn message_without_position(e: &serde_json::Error) -> String {
    let full = e.to_string();
    match full.rfind(" at line ") {
        Some(at) => full[..at].to_owned(),
        None => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_json_keeps_position_out_of_the_message() {
        let e = serde_json::from_str::<serde_json::Value>("{\n  x").unwrap_err();
        let RequestError::InvalidJson {
            message,
            line,
            column,
        } = RequestError::invalid_json(&e)
        else {
            panic!("wrong variant")
        };
        assert_eq!((line, column), (2, 3));
        assert!(!message.contains("line"), "{message}");
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(RequestError::MissingEvents.code(), "missing_events");
        assert_eq!(
            RequestError::EventsNotArray { found: "string" }.to_string(),
            "\"events\" must be an array, found string"
        );
    }
}
