//! The delivery queue's producer side: message bodies go out as JSON **strings** (a `worker`
//! 0.8.7 send of a map arrives as `{}`), in `sendBatch` groups within the platform's limits.

use ::worker::{Env, MessageBuilder, QueueContentType};

use crate::delivery::send_groups;
use crate::http;

/// Enqueues every body (in `send_groups`); the first failure stops and is returned.
pub async fn send_all(env: &Env, bodies: &[String]) -> ::worker::Result<()> {
    if bodies.is_empty() {
        return Ok(());
    }
    let queue = env.queue(http::DELIVERY_BINDING)?;
    for group in send_groups(bodies) {
        let messages = group.iter().map(|b| {
            MessageBuilder::new(b.clone())
                .content_type(QueueContentType::Text)
                .build()
        });
        queue.send_batch(messages).await?;
    }
    Ok(())
}

/// Puts one body back on the queue after `delay_secs` (a hold or a retry).
pub async fn requeue(env: &Env, body: String, delay_secs: u32) -> ::worker::Result<()> {
    let queue = env.queue(http::DELIVERY_BINDING)?;
    queue
        .send(
            MessageBuilder::new(body)
                .content_type(QueueContentType::Text)
                .delay_seconds(delay_secs)
                .build(),
        )
        .await
}
