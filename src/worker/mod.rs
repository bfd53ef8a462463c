//! The edge Worker: the thin wasm32 shell around the pure core. It reads the platform (request,
//! KV, R2, queues, Durable Objects, clock, randomness, `request.cf`), calls [`crate::http`],
//! [`crate::pipeline`] and [`crate::delivery`], and writes the platform (queue messages, Segment
//! fetches, R2 puts, stats deltas, the response, one log line). Every decision lives in pure
//! code; this module only moves bytes.

mod admin;
mod admin_connectors;
mod clock;
mod config_store;
mod consumer;
mod delivery_queue;
mod ingest;
mod quarantine_store;
mod respond;
mod segment_client;
mod stats_object;

use ::worker::{Context, Date, Env, MessageBatch, Request, Response, console_log, event};

use crate::http::{self, RequestLog, Route};

/// The fetch handler: route, handle, answer, log one line.
#[event(fetch)]
async fn fetch(mut req: Request, env: Env, ctx: Context) -> ::worker::Result<Response> {
    let started_ms = Date::now().as_millis();
    let method = req.method();
    let path = req.path();
    // The origin allowed to read this admin answer cross-origin (CONSOLE_ORIGIN), if any.
    let mut cors: Option<String> = None;
    let (result, mut log) = match http::route(method.as_ref(), &path) {
        Ok(Route::Health) => (Ok(http::health_answer()), None),
        Ok(Route::Ingest { connector }) => {
            let mut log = RequestLog::new("ingest");
            log.connector = Some(connector.to_owned());
            let now = clock::now_ms(&env).await;
            let result = ingest::handle(&mut req, &env, &ctx, connector, now, &mut log)
                .await
                .map(|summary| http::json_answer(200, summary.to_json()));
            (result, Some(log))
        }
        Ok(Route::Admin) => {
            let origin = req.headers().get("Origin").ok().flatten();
            let console = env
                .var(http::CONSOLE_ORIGIN_VAR)
                .ok()
                .map(|v| v.to_string());
            let result = if method.as_ref() == "OPTIONS" {
                http::preflight(origin.as_deref(), console.as_deref())
            } else {
                cors =
                    http::allowed_origin(origin.as_deref(), console.as_deref()).map(str::to_owned);
                let now = clock::now_ms(&env).await;
                admin::handle(&mut req, &env, now).await
            };
            (result, Some(RequestLog::new("admin")))
        }
        Err(problem) => (Err(problem), Some(RequestLog::new("request"))),
    };
    let (mut answer, code) = match result {
        Ok(answer) => (answer, None),
        Err(problem) => (problem.answer(), Some(problem.code())),
    };
    if let Some(origin) = &cors {
        http::add_cors_headers(&mut answer, origin);
    }
    if let Some(log) = log.as_mut() {
        let ms = Date::now().as_millis().saturating_sub(started_ms);
        log.finish(answer.status, code, ms);
        console_log!("{}", log.line());
    }
    respond::to_response(answer)
}

/// The queue handler: the delivery queue and its dead-letter queue (told apart by name).
#[event(queue)]
async fn queue(batch: MessageBatch<String>, env: Env, _ctx: Context) -> ::worker::Result<()> {
    consumer::handle(batch, env).await;
    Ok(())
}
