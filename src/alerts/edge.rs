//! The scheduled handler's work (Cron Trigger): for every connector with alert rules, read what
//! its stats object keeps, evaluate the rules ([`super::evaluate`]), post the messages due to the
//! connector's webhook, and store the new alert state in the object. The webhook URL is used
//! only for the request itself: never logged, never stored elsewhere.

use ::worker::{AbortSignal, Env, Fetch, Headers, Method, Request, RequestInit, console_log};

use super::{
    AlertCheck, AlertRules, MAX_CHECKED_CONNECTORS, WEBHOOK_TIMEOUT_MS, acknowledge, evaluate,
    scheduled_line, webhook_line,
};
use crate::config::{ConnectorConfig, Settings, WebhookUrl, store as config_store};
use crate::entry::clock;
use crate::stats::{object as stats_object, object_name};
use crate::web::platform_failure_line;

/// One scheduled run over every connector (at most [`MAX_CHECKED_CONNECTORS`]).
pub async fn run(env: &Env, settings: &Settings) {
    let started = clock::platform_ms();
    let now_ms = clock::now_ms(env, settings).await;
    let Ok(ids) = config_store::list_ids(env).await else {
        console_log!("{}", platform_failure_line("*", "config_list"));
        return;
    };
    let (mut checked, mut posted) = (0, 0);
    for id in ids.iter().take(MAX_CHECKED_CONNECTORS) {
        let Ok(Some(config)) = config_store::read_fresh(env, id).await else {
            continue;
        };
        let Some(rules) = &config.alerts else {
            continue;
        };
        checked += 1;
        posted += check(env, id, &config, rules, now_ms).await;
    }
    let ms = clock::platform_ms().saturating_sub(started);
    console_log!("{}", scheduled_line(ids.len(), checked, posted, ms));
}

/// Evaluates one connector's rules and posts what is due: the number of messages posted.
async fn check(
    env: &Env,
    id: &str,
    config: &ConnectorConfig,
    rules: &AlertRules,
    now_ms: u64,
) -> usize {
    let object = object_name(id, config.generation.as_deref());
    // Unreadable: no evaluation, so the stored alert state is never replaced by an empty one.
    let Some(mut kept) = stats_object::kept(env, &object).await else {
        console_log!("{}", platform_failure_line(id, "alerts_read"));
        return 0;
    };
    let check = AlertCheck {
        connector: id.to_owned(),
        rules: rules.rules(),
        paused: config.paused,
        retention_hours: config.retention_hours,
        now_ms,
    };
    let due = evaluate(&check, &mut kept.stats, &kept.new_types, &mut kept.alerts);
    for notice in &due {
        let status = post(&rules.webhook_url, &notice.body).await;
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        console_log!("{}", webhook_line(id, notice, status, ok));
        acknowledge(&mut kept.alerts, notice, ok, now_ms);
    }
    let body = serde_json::to_string(&kept.alerts).unwrap_or_default();
    let stored = stats_object::exchange(env, &object, ("POST", "/alerts"), Some(body)).await;
    if !matches!(stored, Ok((200, _))) {
        console_log!("{}", platform_failure_line(id, "alerts_write"));
    }
    due.len()
}

/// POSTs `body` to the webhook: its status, or none when it did not answer in time.
async fn post(url: &WebhookUrl, body: &str) -> Option<u16> {
    let headers = Headers::new();
    headers.set("Content-Type", "application/json").ok()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    let request = Request::new_with_init(url.expose(), &init).ok()?;
    let signal = AbortSignal::from(::worker::web_sys::AbortSignal::timeout_with_u32(
        WEBHOOK_TIMEOUT_MS,
    ));
    let response = Fetch::Request(request)
        .send_with_signal(&signal)
        .await
        .ok()?;
    Some(response.status_code())
}
