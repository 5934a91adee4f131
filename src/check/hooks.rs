//! Release hooks: telling the deployment system the verdict.
//!
//! - AWS CodeDeploy: `PutLifecycleEventHookExecutionStatus` with the deployment id and the
//!   lifecycle event hook execution id, `Succeeded` or `Failed`, through the official SDK.
//!   The endpoint can be overridden (`--codedeploy-endpoint`, or the SDK's own
//!   `AWS_ENDPOINT_URL_CODEDEPLOY` / `AWS_ENDPOINT_URL`) so tests point it at a local server.
//! - Amazon ECS native blue/green lifecycle hooks: the Lambda's answer is
//!   `{"hookStatus": "SUCCEEDED" | "FAILED" | "IN_PROGRESS"}`.
//!
//! [`HookEvent::classify`] tells which one invoked the Lambda. Everything here fails closed:
//! a report that could not be made is an error for the caller, never a success.

use aws_config::BehaviorVersion;
use aws_sdk_codedeploy::error::DisplayErrorContext;
use aws_sdk_codedeploy::types::LifecycleEventStatus;
use serde::Serialize;
use serde_json::Value;

use super::report::Report;

/// A CodeDeploy lifecycle hook execution to report to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeDeployHook {
    /// `DeploymentId` of the event.
    pub deployment_id: String,
    /// `LifecycleEventHookExecutionId` of the event.
    pub execution_id: String,
}

/// What invoked the tester as a Lambda function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookEvent {
    /// A CodeDeploy lifecycle hook (`DeploymentId`, `LifecycleEventHookExecutionId`).
    CodeDeploy(CodeDeployHook),
    /// An ECS service deployment lifecycle hook (`executionDetails`, `lifecycleStage`, ...).
    Ecs {
        /// The lifecycle stage, when given.
        lifecycle_stage: Option<String>,
    },
    /// Anything else (a manual or scheduled invocation): the answer is the report summary and
    /// a failed gate fails the invocation.
    Plain,
}

impl HookEvent {
    /// Classifies a Lambda event.
    pub fn classify(event: &Value) -> Self {
        let s = |k: &str| event.get(k).and_then(Value::as_str).map(str::to_string);
        if let (Some(deployment_id), Some(execution_id)) =
            (s("DeploymentId"), s("LifecycleEventHookExecutionId"))
        {
            return HookEvent::CodeDeploy(CodeDeployHook {
                deployment_id,
                execution_id,
            });
        }
        let ecs_keys = [
            "executionDetails",
            "lifecycleStage",
            "executionId",
            "targetServiceRevisionArn",
        ];
        if ecs_keys.iter().any(|k| event.get(k).is_some()) {
            return HookEvent::Ecs {
                lifecycle_stage: s("lifecycleStage"),
            };
        }
        HookEvent::Plain
    }
}

/// A reporting failure.
#[derive(Debug, thiserror::Error)]
#[error("reporting to CodeDeploy failed: {0}")]
pub struct HookError(pub String);

/// A CodeDeploy client from the standard AWS configuration (environment, Lambda role), with an
/// optional endpoint override.
pub async fn codedeploy_client(endpoint: Option<&str>) -> aws_sdk_codedeploy::Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    let conf = loader.load().await;
    aws_sdk_codedeploy::Client::new(&conf)
}

/// Reports the verdict: `Succeeded` only when the report passed, `Failed` otherwise.
pub async fn report_codedeploy(
    client: &aws_sdk_codedeploy::Client,
    hook: &CodeDeployHook,
    report: &Report,
) -> Result<(), HookError> {
    let status = if report.passed {
        LifecycleEventStatus::Succeeded
    } else {
        LifecycleEventStatus::Failed
    };
    client
        .put_lifecycle_event_hook_execution_status()
        .deployment_id(&hook.deployment_id)
        .lifecycle_event_hook_execution_id(&hook.execution_id)
        .status(status)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| HookError(DisplayErrorContext(e).to_string()))
}

/// `hookStatus` values of the ECS lifecycle hook contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EcsHookStatus {
    /// The deployment goes on.
    Succeeded,
    /// The deployment rolls back.
    Failed,
    /// ECS invokes the hook again after `callBackDelay` seconds (not used by the tester, which
    /// answers within one invocation; kept for the contract).
    InProgress,
}

/// The answer to an ECS lifecycle hook invocation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EcsHookAnswer {
    /// The verdict.
    #[serde(rename = "hookStatus")]
    pub hook_status: EcsHookStatus,
    /// Seconds before ECS asks again (only with `IN_PROGRESS`).
    #[serde(rename = "callBackDelay", skip_serializing_if = "Option::is_none")]
    pub call_back_delay: Option<u32>,
    /// A short summary handed back to ECS.
    #[serde(rename = "hookDetails")]
    pub hook_details: Value,
}

/// The ECS answer for a report: `SUCCEEDED` only when it passed.
pub fn ecs_answer(report: &Report) -> EcsHookAnswer {
    EcsHookAnswer {
        hook_status: if report.passed {
            EcsHookStatus::Succeeded
        } else {
            EcsHookStatus::Failed
        },
        call_back_delay: None,
        hook_details: serde_json::json!({ "greenlight": report.one_line() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classify_events() {
        let cd = json!({"DeploymentId": "d-1", "LifecycleEventHookExecutionId": "e-1"});
        assert_eq!(
            HookEvent::classify(&cd),
            HookEvent::CodeDeploy(CodeDeployHook {
                deployment_id: "d-1".into(),
                execution_id: "e-1".into()
            })
        );
        let ecs = json!({"executionDetails": {"serviceArn": "arn:x"}, "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT"});
        assert_eq!(
            HookEvent::classify(&ecs),
            HookEvent::Ecs {
                lifecycle_stage: Some("POST_TEST_TRAFFIC_SHIFT".into())
            }
        );
        assert_eq!(HookEvent::classify(&json!({})), HookEvent::Plain);
        assert_eq!(HookEvent::classify(&json!("x")), HookEvent::Plain);
    }

    #[test]
    fn ecs_answers_fail_closed() {
        let r = Report::failed("boom", "l", "e");
        let a = serde_json::to_value(ecs_answer(&r)).unwrap();
        assert_eq!(a["hookStatus"], "FAILED");
        assert!(a.get("callBackDelay").is_none());
    }
}
