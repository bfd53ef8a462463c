//! The Worker's entry points (wasm32): `fetch`, `queue` and `scheduled` read the settings once,
//! dispatch to the concern that handles the request, batch or Cron Trigger, and write one log
//! line. The platform clock
//! and randomness live in `clock`. Nothing is decided here.

pub(crate) mod clock;

use ::worker::{
    Context, Env, MessageBatch, Request, Response, ScheduleContext, ScheduledEvent, console_log,
    event,
};

use crate::config::Settings;
use crate::web::{self, RequestLog, Route};
use crate::{admin, alerts, delivery, ingest};

/// The settings from the environment, each unreadable value logged once per invocation.
fn settings(env: &Env) -> Settings {
    let (settings, warnings) =
        Settings::from_vars(|name| env.var(name).ok().map(|v| v.to_string()));
    for warning in &warnings {
        console_log!("{}", web::settings_warning_line(warning));
    }
    settings
}

/// The fetch handler: route, handle, answer (with the security headers), log one line.
#[event(fetch)]
async fn fetch(mut req: Request, env: Env, ctx: Context) -> ::worker::Result<Response> {
    let started_ms = clock::platform_ms();
    let settings = settings(&env);
    let method = req.method();
    let path = req.path();
    let (result, mut log, cors) = match web::route(method.as_ref(), &path) {
        Ok(Route::Health { head }) => (Ok(web::health_answer(head)), None, None),
        Ok(Route::Ingest { connector }) => {
            let mut log = RequestLog::new("ingest");
            let result =
                ingest::edge::handle(&mut req, &env, &ctx, &settings, connector, &mut log).await;
            (result, Some(log), None)
        }
        Ok(Route::Admin) => {
            let (result, cors) = admin::edge::handle(&mut req, &env, &settings).await;
            (result, Some(RequestLog::new("admin")), cors)
        }
        Err(problem) => (Err(problem), Some(RequestLog::new("request")), None),
    };
    let (mut answer, code) = match result {
        Ok(answer) => (answer, None),
        Err(problem) => (problem.answer(), Some(problem.code())),
    };
    if let Some(origin) = &cors {
        web::add_cors_headers(&mut answer, origin);
    }
    web::add_security_headers(&mut answer);
    if let Some(log) = log.as_mut() {
        log.finish(
            answer.status,
            code,
            clock::platform_ms().saturating_sub(started_ms),
        );
        console_log!("{}", log.line());
    }
    web::respond::to_response(answer)
}

/// The queue handler: the delivery queue and its dead-letter queue.
#[event(queue)]
async fn queue(batch: MessageBatch<String>, env: Env, _ctx: Context) -> ::worker::Result<()> {
    let settings = settings(&env);
    delivery::edge::handle(batch, env, settings).await;
    Ok(())
}

/// The scheduled handler (the Cron Trigger in wrangler.toml): evaluates the alert rules.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let settings = settings(&env);
    alerts::edge::run(&env, &settings).await;
}
