//! Which requests may be replayed. (Contract: the reasons; the checks are being implemented.)

/// Why a parsed request is left out of the list. Checks run in this order and a line is counted
/// under the first one it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reject {
    /// The line's own `time` is not on the mined day (delivery lag, neighbouring folders).
    OtherDay,
    /// `type` is not one greenlight knows.
    UnknownType,
    /// `ws`, `wss` or `grpcs`: not a plain request/response.
    ConnType,
    /// The ALB could not parse the request (`"- http://host:80- -"`).
    MalformedRequest,
    /// The method is not allowed (default: GET only).
    Method,
    /// Not forwarded to a target: WAF block, redirect, fixed response, authentication only.
    NotForwarded,
    /// The target did not answer (`target_status_code` is `-`).
    NoTargetResponse,
    /// The ELB status is not allowed (default: 2xx and 3xx).
    Status,
    /// Desync mitigation classified the request `Severe`.
    Severe,
    /// The URL is not a well-formed `http(s)://host[:port]/path` (or tries to leave its origin).
    BadUrl,
    /// The host is an IP literal.
    HostIpLiteral,
    /// The host is the ALB's own `*.elb.amazonaws.com` name.
    HostAlbName,
    /// The host is not on the `--host` allow-list.
    HostNotAllowed,
    /// The user agent matches an `--exclude-agent` pattern (health checkers, monitors).
    Agent,
    /// The query or path carries something that looks like a credential: never listed.
    Credential,
}

impl Reject {
    pub const ALL: [Reject; 15] = [
        Reject::OtherDay,
        Reject::UnknownType,
        Reject::ConnType,
        Reject::MalformedRequest,
        Reject::Method,
        Reject::NotForwarded,
        Reject::NoTargetResponse,
        Reject::Status,
        Reject::Severe,
        Reject::BadUrl,
        Reject::HostIpLiteral,
        Reject::HostAlbName,
        Reject::HostNotAllowed,
        Reject::Agent,
        Reject::Credential,
    ];

    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Reject::OtherDay => "other_day",
            Reject::UnknownType => "unknown_type",
            Reject::ConnType => "conn_type",
            Reject::MalformedRequest => "malformed_request",
            Reject::Method => "method",
            Reject::NotForwarded => "not_forwarded",
            Reject::NoTargetResponse => "no_target_response",
            Reject::Status => "status",
            Reject::Severe => "severe",
            Reject::BadUrl => "bad_url",
            Reject::HostIpLiteral => "host_ip_literal",
            Reject::HostAlbName => "host_alb_name",
            Reject::HostNotAllowed => "host_not_allowed",
            Reject::Agent => "agent",
            Reject::Credential => "credential",
        }
    }
}
