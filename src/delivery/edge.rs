//! The queue consumers, on the platform. Delivery queue: each body is parsed and looked at by
//! [`super::plan`], which returns an [`Action`]; this file performs it (Segment request, queue
//! send, R2 write), hands the outcome back to the plan, and acks or leaves the message to the
//! platform's retry when told. Dead-letter queue: every message is quarantined (`dead_letter`).
//!
//! Pacing: messages of one invocation are sent one after another, and the queue runs at most
//! `max_concurrency = 4` consumers, so a connector makes at most 4 concurrent Segment requests
//! (far below Segment's ~1,000 requests/s); a 429 backs the message off by its `Retry-After`,
//! never less than the backoff.

use std::time::Duration;

use ::worker::{Env, MessageBatch, MessageExt, QueueRetryOptionsBuilder, RawMessage, console_log};

use super::plan::{self, Action, ConnectorState, Facts};
use super::{consumer_line, platform_retry_line, queue};
use crate::config::{DEAD_LETTER_QUEUE, Settings, store as config_store};
use crate::entry::clock;
use crate::quarantine::store as quarantine_store;
use crate::segment::{RetryPolicy, client as segment_client};
use crate::stats::{Tally, object as stats_object};
use crate::timefmt::iso_millis;
use crate::web::platform_failure_line;

/// Handles one batch from either queue (told apart by name).
pub async fn handle(batch: MessageBatch<String>, env: Env, settings: Settings) {
    let started = clock::platform_ms();
    let queue = batch.queue();
    let dead_letter = queue == DEAD_LETTER_QUEUE;
    let mut tally = Tally::default();
    let mut count = 0;
    for message in batch.raw_iter() {
        count += 1;
        let body = body_text(&message);
        let facts = Facts {
            now_ms: clock::now_ms(&env, &settings).await,
            seed: clock::random_u64(),
            policy: RetryPolicy::default(),
        };
        let action = if dead_letter {
            plan::dead_letter(&body, &facts)
        } else {
            first_look(&env, &settings, &body, &facts).await
        };
        match perform(&env, &settings, action, &facts, &mut tally).await {
            None => message.ack(),
            Some(intended) => platform_retry(&message, &queue, &settings, intended),
        }
    }
    for (object, delta) in &tally.by_object {
        stats_object::add(&env, object, delta).await;
    }
    let ms = clock::platform_ms().saturating_sub(started);
    console_log!("{}", consumer_line(&queue, count, &tally, ms));
}

/// Leaves `message` to the platform's retry, after the delay the settings give for the wait it
/// was meant to get and the time it has already waited (logged).
fn platform_retry(message: &RawMessage, queue: &str, settings: &Settings, intended: Duration) {
    // The platform's timestamp is the message's send time, kept across its retries.
    let sent_ms = message.timestamp().as_millis();
    let waited = Duration::from_millis(clock::platform_ms().saturating_sub(sent_ms));
    let secs = settings.platform_retry_secs(intended, waited);
    console_log!(
        "{}",
        platform_retry_line(queue, &message.id(), waited.as_secs(), secs)
    );
    message.retry_with_options(
        &QueueRetryOptionsBuilder::new()
            .with_delay_seconds(secs)
            .build(),
    );
}

/// The body as text: our producers send strings; anything else is serialised for quarantine.
fn body_text(message: &RawMessage) -> String {
    let v = message.body();
    v.as_string().unwrap_or_else(|| {
        js_sys::JSON::stringify(&v)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default()
    })
}

/// Parses the body and reads its connector's config, then plans.
async fn first_look(env: &Env, settings: &Settings, body: &str, facts: &Facts) -> Action {
    let msg = match plan::parse(body, facts) {
        Ok(msg) => msg,
        Err(action) => return *action,
    };
    let config = config_store::lookup(env, settings, &msg.connector, facts.now_ms).await;
    let state = match &config {
        Ok(Some(c)) => ConnectorState::Found(c),
        Ok(None) => ConnectorState::Missing,
        Err(_) => ConnectorState::Unreadable,
    };
    plan::look(msg, state, facts)
}

/// Performs `action` and those that follow it; `None` to ack, or the wait the message was meant
/// to get when it is left to the platform's retry.
async fn perform(
    env: &Env,
    settings: &Settings,
    mut action: Action,
    facts: &Facts,
    tally: &mut Tally,
) -> Option<Duration> {
    loop {
        action = match action {
            Action::Send { msg, write_key } => {
                let url = settings.segment_url(msg.region);
                let body = msg.segment_body(&iso_millis(facts.now_ms));
                let timeout = settings.segment_timeout_ms;
                let attempt =
                    segment_client::send(url, &write_key, &body, timeout, facts.now_ms).await;
                plan::after_send(msg, &attempt, facts)
            }
            Action::Enqueue { .. } => enqueue(env, action).await,
            Action::Quarantine { doc, done, refused } => {
                match quarantine_store::put(env, &done.connector, facts.now_ms, &doc).await {
                    Ok(_) => Action::Ack(done),
                    Err(_) => *refused,
                }
            }
            Action::Log(line, next) => {
                console_log!("{line}");
                *next
            }
            Action::Ack(done) => {
                tally.count(&done, facts.now_ms);
                return None;
            }
            Action::PlatformRetry { intended } => return Some(intended),
        }
    }
}

/// Performs an [`Action::Enqueue`]: the messages go to the queue after its delay (whole
/// seconds, rounded up), then its `done` or, when the queue refuses, its `refused` action.
async fn enqueue(env: &Env, action: Action) -> Action {
    let Action::Enqueue {
        messages,
        delay,
        done,
        refused,
    } = action
    else {
        return action;
    };
    let secs = u32::try_from(delay.as_millis().div_ceil(1000)).unwrap_or(u32::MAX);
    // One message (a hold, a retry) goes with `send`; the halves of a split in one `sendBatch`,
    // so either both are queued or neither.
    let sent = match &messages[..] {
        [one] => queue::send_one(env, one, secs).await,
        _ => queue::send(env, &messages, secs).await,
    };
    match sent {
        Ok(()) => Action::Ack(done),
        Err(_) => {
            console_log!("{}", platform_failure_line(&done.connector, "queue_send"));
            *refused
        }
    }
}
