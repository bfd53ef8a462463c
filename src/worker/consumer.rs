//! The queue consumers. Delivery queue: each message is parsed, planned
//! ([`crate::delivery::plan`]) and sent, held, retried or quarantined; every path ends in an
//! ack after the message's fate is stored (a new queue message or an R2 object), or in a
//! platform retry when even that failed (then the dead-letter queue). Dead-letter queue: every
//! message goes to quarantine (`dead_letter`).
//!
//! Pacing: messages of one invocation are sent one after another, and the queue runs at most
//! `max_concurrency = 4` consumers, so a connector makes at most 4 concurrent Segment requests
//! (far below Segment's ~1,000 requests/s); a 429 backs the message off by its `Retry-After`.

use std::time::Duration;

use ::worker::{
    Date, Env, MessageBatch, MessageExt, QueueRetryOptionsBuilder, RawMessage, console_log,
};

use super::{clock, config_store, delivery_queue, quarantine_store, segment_client, stats_object};
use crate::config::Region;
use crate::delivery::{
    AfterSend, DeliveryMessage, DeliveryReason, HoldReason, QuarantineDoc, QuarantineEntry, Step,
    after_send, destination_for, hold_delay, plan, retention,
};
use crate::http::{self, Problem, Tally};
use crate::retry::{AttemptResult, RetryPolicy};

/// What became of one message.
enum Fate {
    /// Stored elsewhere or delivered: ack it.
    Ack,
    /// Nothing stored it: let the platform redeliver it, not before `intended` (the wait the
    /// message was meant to get) nor before `PLATFORM_RETRY_SECONDS`.
    Retry { intended: Duration },
}

/// A platform retry with no wait of its own.
const RETRY: Fate = Fate::Retry {
    intended: Duration::ZERO,
};

/// Handles one batch from either queue.
pub async fn handle(batch: MessageBatch<String>, env: Env) {
    let started = Date::now().as_millis();
    let queue = batch.queue();
    let dead_letter = queue == http::DEAD_LETTER_QUEUE;
    let mut tally = Tally::default();
    let mut count = 0;
    for message in batch.raw_iter() {
        count += 1;
        let body = body_text(&message);
        let now = clock::now_ms(&env).await;
        let fate = if dead_letter {
            dead_letter_one(&env, &body, now, &mut tally).await
        } else {
            deliver_one(&env, &body, now, &mut tally).await
        };
        match fate {
            Fate::Ack => message.ack(),
            Fate::Retry { intended } => {
                let var = env.var(http::PLATFORM_RETRY_SECONDS_VAR).ok();
                let secs =
                    http::platform_retry_seconds(var.map(|v| v.to_string()).as_deref(), intended);
                message.retry_with_options(
                    &QueueRetryOptionsBuilder::new()
                        .with_delay_seconds(secs)
                        .build(),
                );
            }
        }
    }
    for (connector, delta) in &tally.by_connector {
        stats_object::add(&env, connector, delta).await;
    }
    let ms = Date::now().as_millis().saturating_sub(started);
    console_log!("{}", http::consumer_line(&queue, count, &tally, ms));
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

async fn deliver_one(env: &Env, body: &str, now: u64, tally: &mut Tally) -> Fate {
    let Ok(msg) = DeliveryMessage::from_json(body) else {
        return quarantine_raw(env, body, "malformed_message", now, tally).await;
    };
    let config = config_store::lookup(env, &msg.connector, now).await;
    let config_ref = match &config {
        Ok(c) => Ok(c.as_deref()),
        // A config that does not parse, or KV unreadable: hold (connector_invalid).
        Err(_) => Err(()),
    };
    let destination = destination_for(config_ref, &msg);
    let keep = retention(config_ref.ok().flatten());
    let policy = RetryPolicy::default();
    let seed = clock::random_u64();
    match plan(
        &msg,
        destination.as_ref().err().copied(),
        keep,
        now,
        &policy,
        seed,
    ) {
        Step::Expire => {
            let detail = format!(
                "not delivered within the connector's retention ({} h)",
                keep.as_secs() / 3600
            );
            let reason = DeliveryReason::RetentionExceeded;
            let fate = quarantine_msg(env, &msg, reason, None, &detail, now, tally).await;
            or_hold(env, &msg, fate, &policy, seed, now, tally).await
        }
        Step::Hold { reason, delay } => hold(env, &msg, reason, delay, now, tally).await,
        Step::Send => {
            let Ok(dest) = destination else {
                return RETRY; // unreachable: Send implies a destination
            };
            let attempt = send(env, &msg, &dest.write_key, now).await;
            let outcome = after_send(&msg, attempt.result, &policy, seed);
            log_failure(&msg, attempt.result, outcome);
            match outcome {
                AfterSend::Delivered => {
                    tally.delivered(&msg.connector, msg.events.len(), now);
                    Fate::Ack
                }
                AfterSend::Retry { delay } => {
                    let mut next = msg.clone();
                    next.attempt += 1;
                    let fate = requeue(env, &next, delay).await;
                    if matches!(fate, Fate::Ack) {
                        let status = match attempt.result {
                            AttemptResult::Status { code, .. } => Some(code),
                            _ => None,
                        };
                        tally.retried(&msg.connector, msg.events.len(), status, now);
                    }
                    fate
                }
                AfterSend::Split { status } => split(env, msg, status, now, tally).await,
                AfterSend::Rejected { status } => {
                    let detail = http::rejected_detail(
                        status,
                        attempt.answer.as_deref().unwrap_or(""),
                        msg.splits,
                    );
                    let reason = DeliveryReason::SegmentRejected;
                    let fate =
                        quarantine_msg(env, &msg, reason, Some(status), &detail, now, tally).await;
                    or_hold(env, &msg, fate, &policy, seed, now, tally).await
                }
            }
        }
    }
}

/// Puts `msg` back on the queue to look again after `delay`, counted as held for `reason`.
async fn hold(
    env: &Env,
    msg: &DeliveryMessage,
    reason: HoldReason,
    delay: Duration,
    now: u64,
    tally: &mut Tally,
) -> Fate {
    let mut next = msg.clone();
    next.held += 1;
    let fate = requeue(env, &next, delay).await;
    if matches!(fate, Fate::Ack) {
        tally.held(&msg.connector, reason, msg.events.len(), now);
    }
    fate
}

/// After a quarantine write: when R2 refused it, the message is held on the queue
/// (`quarantine_unavailable`) and comes back to try again, so an R2 outage of any length loses
/// nothing while the queue works; only when the queue refuses too is it left to the platform's
/// retries (and then the dead-letter queue).
async fn or_hold(
    env: &Env,
    msg: &DeliveryMessage,
    fate: Fate,
    policy: &RetryPolicy,
    seed: u64,
    now: u64,
    tally: &mut Tally,
) -> Fate {
    match fate {
        Fate::Ack => Fate::Ack,
        Fate::Retry { .. } => {
            let reason = HoldReason::QuarantineUnavailable;
            let delay = hold_delay(msg.held, policy, seed);
            hold(env, msg, reason, delay, now, tally).await
        }
    }
}

async fn send(
    env: &Env,
    msg: &DeliveryMessage,
    write_key: &crate::config::WriteKey,
    now: u64,
) -> segment_client::Attempt {
    let var = match msg.region {
        Region::Us => http::SEGMENT_US_URL_VAR,
        Region::Eu => http::SEGMENT_EU_URL_VAR,
    };
    let override_url = env.var(var).ok().map(|v| v.to_string());
    let url = http::segment_url(msg.region, override_url.as_deref());
    let timeout = http::segment_timeout_ms(
        env.var(http::SEGMENT_TIMEOUT_MS_VAR)
            .ok()
            .map(|v| v.to_string())
            .as_deref(),
    );
    // `sentAt` is the time of this HTTP attempt (Segment's docs).
    let body = msg.segment_body(&http::iso_millis(now));
    segment_client::send(&url, write_key, &body, timeout).await
}

fn log_failure(msg: &DeliveryMessage, result: AttemptResult, outcome: AfterSend) {
    if let Some(line) = http::segment_failure_line(
        &msg.connector,
        &msg.destination,
        msg.region,
        msg.events.len(),
        result,
        outcome,
    ) {
        console_log!("{line}");
    }
}

/// Sends the two halves of a message Segment refused as a whole back to the queue, at once and
/// in one `sendBatch`: either both are queued (ack) or neither (platform retry).
async fn split(env: &Env, msg: DeliveryMessage, status: u16, now: u64, tally: &mut Tally) -> Fate {
    let (connector, n) = (msg.connector.clone(), msg.events.len());
    let Some((a, b)) = msg.into_halves() else {
        return RETRY; // unreachable: Split implies two events or more
    };
    match delivery_queue::send_all(env, &[a.to_json(), b.to_json()]).await {
        Ok(()) => {
            tally.split(&connector, n, status, now);
            Fate::Ack
        }
        Err(_) => queue_send_failed(&connector, Duration::ZERO),
    }
}

/// A re-send the queue refused: logged; the platform retries the message it came from, not
/// before `intended`.
fn queue_send_failed(connector: &str, intended: Duration) -> Fate {
    console_log!("{}", http::platform_failure_line(connector, "queue_send"));
    Fate::Retry { intended }
}

/// Sends `msg` back to the queue after `delay` (whole seconds, rounded up).
async fn requeue(env: &Env, msg: &DeliveryMessage, delay: Duration) -> Fate {
    let secs = u32::try_from(delay.as_millis().div_ceil(1000)).unwrap_or(u32::MAX);
    match delivery_queue::requeue(env, msg.to_json(), secs).await {
        Ok(()) => Fate::Ack,
        Err(_) => queue_send_failed(&msg.connector, delay),
    }
}

async fn quarantine_msg(
    env: &Env,
    msg: &DeliveryMessage,
    reason: DeliveryReason,
    status: Option<u16>,
    detail: &str,
    now: u64,
    tally: &mut Tally,
) -> Fate {
    let received_at = http::iso_millis(msg.received_ms);
    let doc = QuarantineDoc::from_message(msg, &received_at, reason, status, detail);
    store(env, &msg.connector, &doc, now, tally, status).await
}

async fn store(
    env: &Env,
    connector: &str,
    doc: &QuarantineDoc,
    now: u64,
    tally: &mut Tally,
    status: Option<u16>,
) -> Fate {
    match quarantine_store::put(env, connector, now, doc).await {
        Ok(_) => {
            for (reason, n) in &doc.reasons {
                tally.quarantined(connector, reason, *n, status, now);
            }
            Fate::Ack
        }
        Err(Problem::StorageUnavailable) | Err(_) => RETRY,
    }
}

/// A body that is not a delivery message, kept whole under its connector when it names a valid
/// one, else under the connector id `_unknown`.
async fn quarantine_raw(env: &Env, body: &str, reason: &str, now: u64, tally: &mut Tally) -> Fate {
    let connector = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("connector")?.as_str().map(str::to_owned))
        .filter(|c| http::is_valid_connector_id(c))
        .unwrap_or_else(|| UNKNOWN_CONNECTOR.to_owned());
    let raw = serde_json::value::RawValue::from_string(
        serde_json::to_string(body).unwrap_or_else(|_| "null".into()),
    )
    .ok();
    let doc: QuarantineDoc = QuarantineDoc {
        connector: connector.clone(),
        received_at: http::iso_millis(now),
        reasons: [(reason.to_owned(), 1)].into_iter().collect(),
        segment: None,
        events: vec![QuarantineEntry {
            index: None,
            event_id: None,
            event_type: None,
            reason: reason.to_owned(),
            detail:
                "the queue message is not a delivery message; its body is kept as `raw` (a string)"
                    .to_owned(),
            message_id: None,
            raw,
            segment: None,
        }],
    };
    store(env, &connector, &doc, now, tally, None).await
}

/// Connector id of quarantine objects whose connector cannot be read.
const UNKNOWN_CONNECTOR: &str = "_unknown";

async fn dead_letter_one(env: &Env, body: &str, now: u64, tally: &mut Tally) -> Fate {
    match DeliveryMessage::from_json(body) {
        Ok(msg) => {
            let detail = "the delivery queue gave up on this message (dead-letter queue)";
            quarantine_msg(
                env,
                &msg,
                DeliveryReason::DeadLetter,
                None,
                detail,
                now,
                tally,
            )
            .await
        }
        Err(_) => quarantine_raw(env, body, DeliveryReason::DeadLetter.code(), now, tally).await,
    }
}
