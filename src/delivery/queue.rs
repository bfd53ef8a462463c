//! The delivery queue's producer side: message bodies go out as JSON **strings** (a `worker`
//! 0.8.7 send of a map arrives as `{}`), each built in the JavaScript heap from pieces
//! ([`super::js`]), in `sendBatch` groups within the platform's limits.

use ::worker::{Env, QueueContentType, RawMessageBuilder};

use super::{DeliveryMessage, js, send_groups};
use crate::config::DELIVERY_BINDING;

/// Enqueues every message after `delay_secs` (0: at once), in [`send_groups`]; the first failure
/// stops and is returned.
pub async fn send(
    env: &Env,
    messages: &[DeliveryMessage],
    delay_secs: u32,
) -> ::worker::Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let queue = env.queue(DELIVERY_BINDING)?;
    let lens: Vec<usize> = messages.iter().map(DeliveryMessage::json_len).collect();
    let mut buf = String::new();
    for group in send_groups(&lens) {
        let batch: Vec<_> = messages[group]
            .iter()
            .map(|m| {
                RawMessageBuilder::new(js::body(m, &mut buf).into())
                    .delay_seconds(delay_secs)
                    .build_with_content_type(QueueContentType::Text)
            })
            .collect();
        queue.send_raw_batch(batch).await?;
    }
    Ok(())
}

/// Puts one message on the queue after `delay_secs`, with the platform's one-message call (a
/// hold or a retry of one message).
pub async fn send_one(
    env: &Env,
    message: &DeliveryMessage,
    delay_secs: u32,
) -> ::worker::Result<()> {
    let queue = env.queue(DELIVERY_BINDING)?;
    let body = js::body(message, &mut String::new());
    queue
        .send_raw(
            RawMessageBuilder::new(body.into())
                .delay_seconds(delay_secs)
                .build_with_content_type(QueueContentType::Text),
        )
        .await
}
