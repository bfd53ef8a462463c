//! A queue body as one JavaScript string, for the platform's queue: the text leaves the wasm
//! heap in pieces of about [`QUEUE_PIECE_BYTES`], so a whole body is never held there next to the
//! events it is written from. Wasm memory never shrinks, so the largest moment of one batch is
//! the isolate's for good; the string is the JavaScript heap's, collected once the queue has it.

use js_sys::{Array, JsString};

use super::{DeliveryMessage, QUEUE_PIECE_BYTES};

/// `message`'s queue body ([`DeliveryMessage::to_json`]) as a JavaScript string, its pieces
/// written through `buf` (reused from one message to the next).
pub fn body(message: &DeliveryMessage, buf: &mut String) -> JsString {
    let pieces = Array::new();
    message.write_json_pieces(buf, QUEUE_PIECE_BYTES, |piece| {
        pieces.push(&JsString::from(piece));
    });
    pieces.join("")
}
