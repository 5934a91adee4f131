//! The tester as an AWS Lambda function (custom runtime, `provided.al2023`): the Lambda Runtime
//! API spoken over HTTP (`AWS_LAMBDA_RUNTIME_API`), one invocation at a time.
//!
//! Each invocation: classify the event ([`HookEvent`]), run the check (settings are resolved per
//! invocation, so a bad setting fails that invocation instead of the runtime's init), then
//! answer: CodeDeploy events get `PutLifecycleEventHookExecutionStatus`, ECS hook events get
//! `{"hookStatus": ...}`, other events get the summary (and an invocation error when the gate
//! failed). Any error reports Failed. The check's deadline is cut to the invocation's own
//! deadline (less a margin) so the verdict is always reported before Lambda stops the function.
//!
//! The loop ends when the Runtime API stops answering `next` (never on AWS; used by tests); the
//! process exit code is then the worst seen: 0 all passed, 1 a gate failed, 2 an error.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::hooks::{self, HookEvent};
use super::report::Report;
use super::{CheckConfig, ListSource, check};

/// Time kept back from the invocation deadline for reporting.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(20);

/// Settings of one invocation, or why they are unusable.
pub type Settings = Result<(CheckConfig, ListSource), String>;

/// What the runtime needs besides the settings.
#[derive(Debug, Clone, Default)]
pub struct LambdaOptions {
    /// CodeDeploy endpoint override.
    pub codedeploy_endpoint: Option<String>,
    /// Also write the JSON report here after each invocation (e.g. `/tmp/report.json`).
    pub json: Option<std::path::PathBuf>,
}

/// One invocation's answer: the response (or error message) and its exit code.
#[derive(Debug)]
pub struct Answer {
    /// The response body (`Ok`) or an invocation error (`Err`).
    pub response: Result<Value, String>,
    /// 0 passed, 1 gate failed, 2 error.
    pub code: u8,
}

/// Handles one event end to end (check + hook report). Never panics on input; fails closed.
pub async fn handle_event(
    event: &Value,
    settings: &Settings,
    remaining: Option<Duration>,
    opts: &LambdaOptions,
) -> Answer {
    let kind = HookEvent::classify(event);
    let report = match settings {
        Err(e) => Report::failed(e.clone(), "", ""),
        Ok((cfg, source)) => {
            let mut cfg = cfg.clone();
            if let Some(rem) = remaining {
                cfg.deadline = cfg.deadline.min(rem.saturating_sub(DEADLINE_MARGIN));
            }
            match check(&cfg, source, &mut |_, _| {}).await {
                Ok(r) => r,
                Err(e) => Report::failed(
                    e.to_string(),
                    &source.to_string(),
                    &cfg.endpoint.to_string(),
                ),
            }
        }
    };
    tracing::info!(event = ?kind, "{}", report.one_line());
    if !report.passed {
        // The failing URLs, grouped: the only record of them once the deployment rolled back.
        tracing::warn!("{}", report.summary());
    }
    if let Some(path) = &opts.json
        && let Err(e) = std::fs::write(path, report.to_json())
    {
        tracing::warn!("cannot write {}: {e}", path.display());
    }
    let code = if report.error.is_some() {
        2
    } else if report.passed {
        0
    } else {
        1
    };
    let summary = json!({
        "status": report.status_word(),
        "summary": report.one_line(),
        "counts": report.counts,
    });
    match kind {
        HookEvent::CodeDeploy(hook) => {
            let client = hooks::codedeploy_client(opts.codedeploy_endpoint.as_deref()).await;
            match hooks::report_codedeploy(&client, &hook, &report).await {
                Ok(()) => Answer {
                    response: Ok(summary),
                    code,
                },
                Err(e) => Answer {
                    response: Err(e.to_string()),
                    code: 2,
                },
            }
        }
        HookEvent::Ecs { .. } => Answer {
            response: serde_json::to_value(hooks::ecs_answer(&report)).map_err(|e| e.to_string()),
            code,
        },
        HookEvent::Plain if report.passed => Answer {
            response: Ok(summary),
            code,
        },
        HookEvent::Plain => Answer {
            response: Err(report.one_line()),
            code,
        },
    }
}

/// Runs the Runtime API loop at `api` (`host:port`) until `next` fails; returns the worst exit
/// code seen (2 if the Runtime API could not be reached at all).
pub async fn run(api: &str, settings: &Settings, opts: &LambdaOptions) -> u8 {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let base = format!("http://{api}/2018-06-01/runtime");
    let mut worst: Option<u8> = None;
    loop {
        let next = match get_next(&client, &base).await {
            Ok(n) => n,
            Err(e) => {
                tracing::info!("runtime API: {e}; stopping");
                return worst.unwrap_or(2);
            }
        };
        let (request_id, deadline_ms, body) = next;
        let remaining = deadline_ms.and_then(|ms| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .ok()?
                .as_millis() as u64;
            Some(Duration::from_millis(ms.saturating_sub(now)))
        });
        let answer = match serde_json::from_slice::<Value>(&body) {
            Ok(event) => handle_event(&event, settings, remaining, opts).await,
            Err(e) => {
                // Not JSON: still a Failed verdict for whoever waits on it.
                Answer {
                    response: Err(format!("event is not JSON: {e}")),
                    code: 2,
                }
            }
        };
        worst = Some(worst.unwrap_or(0).max(answer.code));
        let (path, payload) = match &answer.response {
            Ok(v) => (
                format!("{base}/invocation/{request_id}/response"),
                v.clone(),
            ),
            Err(msg) => (
                format!("{base}/invocation/{request_id}/error"),
                json!({"errorMessage": msg, "errorType": "GreenlightFailed"}),
            ),
        };
        if let Err(e) = post(&client, &path, &payload, answer.response.is_err()).await {
            tracing::error!("runtime API: could not post the answer: {e}");
            worst = Some(2);
        }
    }
}

type Next = (String, Option<u64>, Bytes);

async fn get_next(client: &Client<HttpConnector, Full<Bytes>>, base: &str) -> Result<Next, String> {
    let req = Request::get(format!("{base}/invocation/next"))
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let resp = client.request(req).await.map_err(|e| e.to_string())?;
    if resp.status() != StatusCode::OK {
        return Err(format!("next answered {}", resp.status()));
    }
    let h = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let id = h("lambda-runtime-aws-request-id").ok_or("next without a request id")?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(format!("unusable request id {id:?}"));
    }
    let deadline = h("lambda-runtime-deadline-ms").and_then(|d| d.parse().ok());
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((id, deadline, body))
}

async fn post(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &str,
    payload: &Value,
    is_error: bool,
) -> Result<(), String> {
    let mut b = Request::post(url).header("content-type", "application/json");
    if is_error {
        b = b.header("lambda-runtime-function-error-type", "GreenlightFailed");
    }
    let req = b
        .body(Full::new(Bytes::from(payload.to_string())))
        .map_err(|e| e.to_string())?;
    let resp = client.request(req).await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("{url} answered {}", resp.status()));
    }
    Ok(())
}
