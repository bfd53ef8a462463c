//! The batch read in one pass: each element of `events` is parsed into a [`RawEvent`] where it
//! stands, and its text span kept for quarantine, instead of first splitting the array into raw
//! elements and then parsing each element again.
//!
//! Only the punctuation between values is read here (`{ } [ ] , :` and JSON's four whitespace
//! bytes); every key and value is read by serde_json. When anything is out of place the request
//! fails with the error [`Envelope::parse`] gives for the same body, so both readers answer
//! every body alike (a property test holds them equal).

use serde::de::IgnoredAny;
use serde_json::Deserializer;
use serde_json::value::RawValue;

use super::fields::{CowStr, RawEvent};
use super::validate::{RejectReason, Rejected};
use super::{Envelope, body_text, json_kind};
use crate::error::{RequestError, message_without_position};

/// One element of the `events` array.
#[derive(Debug)]
pub struct Element<'a> {
    /// The element exactly as Braze sent it (no surrounding whitespace).
    pub raw: &'a str,
    /// Its fields, or why it is not an event object.
    pub event: Result<RawEvent<'a>, Rejected>,
}

impl<'a> Element<'a> {
    /// Reads one element from its raw text: what the one-pass reader yields for it.
    pub fn from_raw(raw: &'a RawValue) -> Self {
        Self::from_text(raw.get())
    }

    fn from_text(text: &'a str) -> Self {
        let event = if text.starts_with('{') {
            serde_json::from_str(text).map_err(|e| malformed(&e))
        } else {
            Err(not_an_object(text))
        };
        Element { raw: text, event }
    }
}

fn malformed(e: &serde_json::Error) -> Rejected {
    Rejected::new(RejectReason::MalformedEvent, message_without_position(e))
}

fn not_an_object(raw: &str) -> Rejected {
    Rejected::new(
        RejectReason::NotAnObject,
        format!("event is a {}, not an object", json_kind(raw)),
    )
}

/// Where the reader stands in the top-level object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a member of the top-level object (`first`: right after its `{`).
    Members { first: bool },
    /// Before an element of `events` (`first`: right after its `[`).
    Elements { first: bool },
    /// The body ended, or failed.
    Done,
}

/// Something out of place: the request's error is [`Envelope::parse`]'s.
struct OutOfPlace;

/// The elements of a batch's `events` array in order, each read where it stands. Yields one
/// `Err` and stops when the body is not a batch; the whole body is read (members after `events`,
/// trailing whitespace) before the iterator ends, so a batch is only complete once it returns
/// `None`.
#[derive(Debug)]
pub struct Events<'a> {
    body: &'a [u8],
    text: &'a str,
    pos: usize,
    state: State,
    seen_events: bool,
}

impl<'a> Events<'a> {
    /// Starts reading a request body: the checks of [`Envelope::parse`] on the body as a whole
    /// (UTF-8, an optional byte order mark, empty means no events, an object) happen here.
    pub fn new(body: &'a [u8]) -> Result<Self, RequestError> {
        let text = body_text(body)?;
        let mut events = Events {
            body,
            text,
            pos: 0,
            state: State::Done,
            seen_events: false,
        };
        events.skip_whitespace();
        match events.peek() {
            None => {}
            Some(b'{') => {
                events.pos += 1;
                events.state = State::Members { first: true };
            }
            Some(_) => return Err(events.error()),
        }
        Ok(events)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        let bytes = self.text.as_bytes();
        while matches!(bytes.get(self.pos), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Consumes `byte` after optional whitespace.
    fn expect(&mut self, byte: u8) -> Result<(), OutOfPlace> {
        self.skip_whitespace();
        if self.peek() != Some(byte) {
            return Err(OutOfPlace);
        }
        self.pos += 1;
        Ok(())
    }

    /// Reads one value of type `T` at the current position (after whitespace) with serde_json,
    /// and moves past it; on failure the position stays where the value begins.
    fn value<T: serde::Deserialize<'a>>(&mut self) -> Result<(T, &'a str), OutOfPlace> {
        self.skip_whitespace();
        let rest = &self.text[self.pos..];
        let mut stream = Deserializer::from_str(rest).into_iter::<T>();
        match stream.next() {
            Some(Ok(value)) => {
                let end = stream.byte_offset();
                self.pos += end;
                Ok((value, &rest[..end]))
            }
            _ => Err(OutOfPlace),
        }
    }

    /// Reads one element of `events`: an object straight into a [`RawEvent`]; anything else,
    /// or an object that is not an event (a repeated field), as JSON first and then judged.
    fn element(&mut self) -> Result<Element<'a>, OutOfPlace> {
        self.skip_whitespace();
        if self.peek() == Some(b'{')
            && let Ok((event, raw)) = self.value::<RawEvent<'a>>()
        {
            return Ok(Element {
                raw,
                event: Ok(event),
            });
        }
        let (_, raw) = self.value::<IgnoredAny>()?;
        Ok(Element::from_text(raw))
    }

    fn step(&mut self) -> Result<Option<Element<'a>>, OutOfPlace> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Elements { first } => {
                    self.skip_whitespace();
                    match self.peek() {
                        Some(b']') => {
                            self.pos += 1;
                            self.state = State::Members { first: false };
                            continue;
                        }
                        Some(b',') if !first => self.pos += 1,
                        _ if first => {}
                        _ => return Err(OutOfPlace),
                    }
                    self.state = State::Elements { first: false };
                    return self.element().map(Some);
                }
                State::Members { first } => {
                    self.skip_whitespace();
                    match self.peek() {
                        Some(b'}') => {
                            self.pos += 1;
                            self.skip_whitespace();
                            if self.pos != self.text.len() || !self.seen_events {
                                return Err(OutOfPlace);
                            }
                            self.state = State::Done;
                            return Ok(None);
                        }
                        Some(b',') if !first => self.pos += 1,
                        _ if first => {}
                        _ => return Err(OutOfPlace),
                    }
                    let (CowStr(key), _) = self.value::<CowStr<'a>>()?;
                    self.expect(b':')?;
                    if key != "events" {
                        self.value::<IgnoredAny>()?;
                        self.state = State::Members { first: false };
                        continue;
                    }
                    if self.seen_events {
                        return Err(OutOfPlace);
                    }
                    self.seen_events = true;
                    self.expect(b'[')?;
                    self.state = State::Elements { first: true };
                }
            }
        }
    }

    /// The request's error: the one [`Envelope::parse`] names. Should that reader accept the
    /// body (the two disagree, which the tests rule out), the body still fails, as JSON this
    /// reader could not follow at the position it stopped.
    fn error(&self) -> RequestError {
        match Envelope::parse(self.body) {
            Err(e) => e,
            Ok(_) => {
                let before = &self.text[..self.pos.min(self.text.len())];
                RequestError::InvalidJson {
                    message: "unexpected input".to_owned(),
                    line: before.matches('\n').count() + 1,
                    column: before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1,
                }
            }
        }
    }
}

impl<'a> Iterator for Events<'a> {
    type Item = Result<Element<'a>, RequestError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(element) => element.map(Ok),
            Err(OutOfPlace) => {
                self.state = State::Done;
                Some(Err(self.error()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// What a reader makes of a body, in comparable form.
    fn read_in_one_pass(body: &[u8]) -> Result<Vec<String>, RequestError> {
        Events::new(body)?
            .map(|element| element.map(|e| format!("{e:?}")))
            .collect()
    }

    fn read_split_first(body: &[u8]) -> Result<Vec<String>, RequestError> {
        let envelope = Envelope::parse(body)?;
        Ok(envelope
            .events
            .iter()
            .map(|raw| format!("{:?}", Element::from_raw(raw)))
            .collect())
    }

    fn same_answer(body: &[u8]) {
        assert_eq!(
            read_in_one_pass(body),
            read_split_first(body),
            "{}",
            String::from_utf8_lossy(body)
        );
    }

    #[test]
    fn batches_read_alike() {
        let bodies: &[&str] = &[
            "",
            " \n\t\r ",
            "\u{feff}{\"events\":[1]}",
            r#"{"events":[]}"#,
            r#" { "v" : 2 , "events" : [ {"id":"a"} , 7 , "x" , null , [1,{}] ] , "after" : {"k":[]} } "#,
            r#"{"events":[{"id":"a","id":"b"}, {"id":"c"}]}"#,
            r#"{"events":[{"properties":1,"properties":2}]}"#,
            r#"{"ev\u0065nts":[{"id":"escaped key"}]}"#,
            r#"{"events":[{"id":"a\"b","k\u00e9y":1,"properties":{"x":[1,2,{"y":null}]}}]}"#,
            r#"{"events":[{}]}"#,
            r#"{"events":[-0.5e3, true, false]}"#,
        ];
        for body in bodies {
            same_answer(body.as_bytes());
            assert!(read_in_one_pass(body.as_bytes()).is_ok(), "{body}");
        }
    }

    #[test]
    fn broken_batches_fail_alike() {
        let bodies: &[&[u8]] = &[
            b"[1]",
            b"7",
            b"not json",
            b"{}",
            b"{\"a\":1}",
            b"{\"events\":null}",
            b"{\"events\":{\"a\":1}}",
            b"{\"events\":\"x\"}",
            b"{\"events\":[1,]}",
            b"{\"events\":[,1]}",
            b"{\"events\":[1 2]}",
            b"{\"events\":[7\"x\"]}",
            b"{\"events\":[1]} x",
            b"{\"events\":[1]}}",
            b"{\"events\":[1],}",
            b"{\"events\":[1]",
            b"{\"events\":[{\"id\":",
            b"{\"events\":[],\"events\":[]}",
            b"{\"events\" [1]}",
            b"{\"events\":[1],\"x\":}",
            b"{,\"events\":[1]}",
            b"{\"events\":[\"\xff\"]}",
            b"{\"events\":[{\"id\":\"a\",}]}",
        ];
        for body in bodies {
            same_answer(body);
            assert!(read_in_one_pass(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn an_element_is_its_exact_text() {
        let body = br#"{"events":[ {"id" : "a"} ,12.5e1,"s" ]}"#;
        let raws: Vec<&str> = Events::new(body).unwrap().map(|e| e.unwrap().raw).collect();
        assert_eq!(raws, [r#"{"id" : "a"}"#, "12.5e1", r#""s""#]);
    }

    #[test]
    fn deep_nesting_inside_an_event_is_read_like_the_reference() {
        let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
        let body = format!(r#"{{"events":[{{"id":"a","properties":{{"p":{deep}}}}},{deep}]}}"#);
        same_answer(body.as_bytes());
        assert_eq!(read_in_one_pass(body.as_bytes()).unwrap().len(), 2);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z\"\\\\é]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(
                    "(id|event_type|time|user|properties|[a-z]{1,3})",
                    inner,
                    0..5
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A batch as text, with other members around `events` and whitespace between tokens.
    fn arb_batch() -> impl Strategy<Value = String> {
        let members = prop::collection::vec(("[a-z]{1,3}", arb_json()), 0..3);
        (
            members,
            prop::collection::vec(arb_json(), 0..6),
            any::<bool>(),
        )
            .prop_map(|(members, events, pretty)| {
                let mut doc = serde_json::Map::new();
                doc.insert("events".into(), Value::Array(events));
                for (k, v) in members {
                    doc.insert(k, v);
                }
                let doc = Value::Object(doc);
                if pretty {
                    serde_json::to_string_pretty(&doc).unwrap()
                } else {
                    doc.to_string()
                }
            })
    }

    /// One edit of a text: a byte cut off, deleted, or inserted (JSON punctuation mostly).
    fn mutate(text: &str, at: usize, how: u8, byte: u8) -> Vec<u8> {
        let mut bytes = text.as_bytes().to_vec();
        let at = at % (bytes.len() + 1);
        const PUNCTUATION: &[u8] = b"{}[],:\" \n0-ae\\";
        match how % 3 {
            0 => bytes.truncate(at),
            1 if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => bytes.insert(at, PUNCTUATION[byte as usize % PUNCTUATION.len()]),
        }
        bytes
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn generated_batches_read_alike(batch in arb_batch()) {
            same_answer(batch.as_bytes());
            prop_assert!(read_in_one_pass(batch.as_bytes()).is_ok());
        }

        #[test]
        fn edited_batches_read_alike(batch in arb_batch(), at in any::<usize>(), how in any::<u8>(), byte in any::<u8>()) {
            same_answer(&mutate(&batch, at, how, byte));
        }

        #[test]
        fn duplicated_members_read_alike(events in prop::collection::vec(arb_json(), 0..3), twice in any::<bool>()) {
            let events = json!(events).to_string();
            let body = if twice {
                format!(r#"{{"events":{events},"x":1,"events":[]}}"#)
            } else {
                format!(r#"{{"x":1,"events":{events}}}"#)
            };
            same_answer(body.as_bytes());
        }
    }
}
