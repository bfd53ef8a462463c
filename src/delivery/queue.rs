//! The delivery queue's producer side: message bodies go out as JSON **strings** (a `worker`
//! 0.8.7 send of a map arrives as `{}`), in `sendBatch` groups within the platform's limits.

use ::worker::{Env, MessageBuilder, QueueContentType};

use super::send_groups;
use crate::config::DELIVERY_BINDING;

/// Enqueues every body after `delay_secs` (0: at once), in [`send_groups`]; the first failure
/// stops and is returned.
pub async fn send(env: &Env, bodies: &[String], delay_secs: u32) -> ::worker::Result<()> {
    if bodies.is_empty() {
        return Ok(());
    }
    let queue = env.queue(DELIVERY_BINDING)?;
    for group in send_groups(bodies) {
        let messages = group.iter().map(|body| {
            MessageBuilder::new(body.clone())
                .content_type(QueueContentType::Text)
                .delay_seconds(delay_secs)
                .build()
        });
        queue.send_batch(messages).await?;
    }
    Ok(())
}

/// Puts one body on the queue after `delay_secs`, with the platform's one-message call (a hold
/// or a retry of one message).
pub async fn send_one(env: &Env, body: String, delay_secs: u32) -> ::worker::Result<()> {
    let queue = env.queue(DELIVERY_BINDING)?;
    queue
        .send(
            MessageBuilder::new(body)
                .content_type(QueueContentType::Text)
                .delay_seconds(delay_secs)
                .build(),
        )
        .await
}
