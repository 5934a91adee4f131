//! HTTP requests against the endpoint (green) and the baseline (blue): one [`Prober`] owns the
//! client, the pacing (`--rps`), the per-request timeout and the small retry budget for
//! connection errors. It never follows a redirect and sends only GET or HEAD.
//!
//! Why hyper (through `hyper-util`'s pooled client) and not a higher-level client: the list's
//! request-targets must go on the wire byte for byte (`/a//b/../c?x=%zz`). Clients built on a
//! WHATWG URL parser (reqwest, via `url`) resolve dot segments and may re-encode, so they would
//! test a different URL than production saw. `http::Uri` keeps the path and query as given, and
//! hyper writes them unchanged in the request line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, LOCATION, USER_AGENT};
use http::uri::{Authority, Scheme};
use http::{HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::list::ListEntry;

/// The user agent sent when neither the list nor `--user-agent` gives one: a current desktop
/// browser, because legacy servers often vary on it.
pub const DEFAULT_USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 greenlight-tester";

/// Bodies are hashed up to this many bytes; a longer body is hashed on its prefix and flagged.
pub const MAX_BODY: u64 = 16 << 20;

/// A listener to connect to: `http://host[:port]` (no path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Always `http` for now (the green test listener and blue listener as the ALB forwards).
    pub scheme: Scheme,
    /// Host and port to connect to.
    pub authority: Authority,
}

impl Endpoint {
    /// Parses `http://host[:port][/]`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let uri: Uri = s.parse().map_err(|e| format!("not a URL: {s:?} ({e})"))?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or_else(|| format!("{s:?} has no scheme (use http://host:port)"))?;
        if scheme != Scheme::HTTP {
            return Err(format!(
                "{s:?}: only http:// endpoints are supported (the ALB test listener or the \
                 server itself)"
            ));
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| format!("{s:?} has no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!("{s:?}: user info is not allowed"));
        }
        if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return Err(format!(
                "{s:?}: an endpoint has no path; list paths are sent as they are"
            ));
        }
        Ok(Endpoint { scheme, authority })
    }

    /// Builds the absolute URI used to pick the connection; the request line carries only
    /// `target` (origin-form), unchanged.
    pub fn uri_for(&self, target: &str) -> Result<Uri, http::Error> {
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(target)
            .build()
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority)
    }
}

/// GET or HEAD; nothing else is ever sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
pub enum ProbeMethod {
    /// GET (the default; bodies are compared).
    #[default]
    Get,
    /// HEAD (no bodies).
    Head,
}

/// How requests are made.
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    /// Time for one request, body included.
    pub timeout: Duration,
    /// Extra attempts after a connection error (never after an answer or a timeout).
    pub connect_retries: u32,
    /// Add `X-Forwarded-Proto`/`X-Forwarded-Port` as the ALB does in front of a web server.
    /// Off when the endpoint is the ALB itself.
    pub forwarded_headers: bool,
    /// A fixed user agent (overrides the list's `agent` column).
    pub user_agent: Option<String>,
    /// GET or HEAD.
    pub method: ProbeMethod,
    /// Requests per second over all listeners, `None` for no cap.
    pub rps: Option<f64>,
    /// Idle connections kept per listener.
    pub pool_size: usize,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            timeout: Duration::from_secs(10),
            connect_retries: 2,
            forwarded_headers: true,
            user_agent: None,
            method: ProbeMethod::Get,
            rps: None,
            pool_size: 64,
        }
    }
}

/// What a listener answered for one URL.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Location` as sent (not normalised).
    pub location: Option<String>,
    /// `Content-Type` as sent.
    pub content_type: Option<String>,
    /// SHA-256 of the body (hex, first 16 bytes), empty body included.
    pub body_sha256: String,
    /// Body length read.
    pub body_len: u64,
    /// The body was longer than [`MAX_BODY`]; the digest covers the prefix.
    pub body_truncated: bool,
    /// Time to the end of the body, milliseconds.
    pub ms: f64,
}

/// A request that got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum ProbeError {
    /// No answer within `--timeout`.
    #[error("timed out")]
    Timeout,
    /// Could not connect (after the retries).
    #[error("connection failed: {0}")]
    Connect(String),
    /// The request could not be built (target or header not sendable).
    #[error("request not sendable: {0}")]
    Request(String),
    /// The connection broke or the answer was not HTTP.
    #[error("{0}")]
    Http(String),
}

/// Sends the list's requests; cheap to clone (shared client and pacer).
#[derive(Clone)]
pub struct Prober {
    client: Client<HttpConnector, Empty<Bytes>>,
    settings: Arc<ProbeSettings>,
    pacer: Option<Arc<Mutex<Instant>>>,
}

impl Prober {
    /// A prober with its own connection pools.
    pub fn new(settings: ProbeSettings) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(settings.timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(settings.pool_size)
            .pool_idle_timeout(Duration::from_secs(30))
            .set_host(false)
            .build(connector);
        let pacer = settings
            .rps
            .filter(|r| *r > 0.0)
            .map(|_| Arc::new(Mutex::new(Instant::now())));
        Prober {
            client,
            settings: Arc::new(settings),
            pacer,
        }
    }

    /// The settings in use.
    pub fn settings(&self) -> &ProbeSettings {
        &self.settings
    }

    /// Builds the request for `entry` on `endpoint` (without sending it).
    pub fn build_request(
        &self,
        endpoint: &Endpoint,
        entry: &ListEntry,
    ) -> Result<Request<Empty<Bytes>>, ProbeError> {
        let s = &self.settings;
        let uri = endpoint
            .uri_for(&entry.target)
            .map_err(|e| ProbeError::Request(e.to_string()))?;
        let method = match s.method {
            ProbeMethod::Get => Method::GET,
            ProbeMethod::Head => Method::HEAD,
        };
        let host = entry
            .host
            .clone()
            .unwrap_or_else(|| endpoint.authority.to_string());
        let agent = s
            .user_agent
            .as_deref()
            .or(entry.agent.as_deref())
            .unwrap_or(DEFAULT_USER_AGENT);
        let hv = |v: &str| {
            HeaderValue::from_str(v).map_err(|e| ProbeError::Request(format!("{v:?}: {e}")))
        };
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header(HOST, hv(&host)?)
            .header(USER_AGENT, hv(agent)?);
        if s.forwarded_headers {
            let scheme = entry.scheme.as_deref().unwrap_or("http");
            // The port the client used: from the list's Host (not the endpoint's).
            let port = entry
                .host
                .as_deref()
                .and_then(|h| h.rsplit_once(':'))
                .filter(|(h, p)| !h.ends_with(']') || !p.is_empty())
                .and_then(|(_, p)| p.parse::<u16>().ok())
                .unwrap_or(if scheme == "https" { 443 } else { 80 });
            b = b
                .header("x-forwarded-proto", hv(scheme)?)
                .header("x-forwarded-port", hv(&port.to_string())?);
        }
        b.body(Empty::new())
            .map_err(|e| ProbeError::Request(e.to_string()))
    }

    /// Requests `entry` from `endpoint` once (plus retries after connection errors).
    pub async fn probe(
        &self,
        endpoint: &Endpoint,
        entry: &ListEntry,
    ) -> Result<Answer, ProbeError> {
        let mut attempt = 0;
        loop {
            let req = self.build_request(endpoint, entry)?;
            self.pace().await;
            match self.send(req).await {
                Err(ProbeError::Connect(e)) if attempt < self.settings.connect_retries => {
                    attempt += 1;
                    tracing::debug!(%endpoint, target = %entry.target, attempt, "retrying after: {e}");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
                other => return other,
            }
        }
    }

    async fn pace(&self) {
        let (Some(pacer), Some(rps)) = (&self.pacer, self.settings.rps) else {
            return;
        };
        let slot = {
            let mut next = pacer.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + Duration::from_secs_f64(1.0 / rps);
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }

    async fn send(&self, req: Request<Empty<Bytes>>) -> Result<Answer, ProbeError> {
        let start = Instant::now();
        let work = async {
            let resp = self.client.request(req).await.map_err(|e| {
                if e.is_connect() {
                    ProbeError::Connect(error_chain(&e))
                } else {
                    ProbeError::Http(error_chain(&e))
                }
            })?;
            let header = |name| {
                resp.headers()
                    .get(name)
                    .map(|v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned())
            };
            let status = resp.status().as_u16();
            let location = header(LOCATION);
            let content_type = header(CONTENT_TYPE);
            let mut body = resp.into_body();
            let mut hasher = Sha256::new();
            let mut len = 0u64;
            let mut truncated = false;
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| ProbeError::Http(error_chain(&e)))?;
                if let Ok(data) = frame.into_data() {
                    let room = MAX_BODY - len;
                    let take = (data.len() as u64).min(room) as usize;
                    hasher.update(&data[..take]);
                    len += take as u64;
                    if take < data.len() {
                        truncated = true;
                        break;
                    }
                }
            }
            let digest = hasher.finalize();
            let mut hex = String::with_capacity(32);
            for b in &digest[..16] {
                use std::fmt::Write as _;
                let _ = write!(hex, "{b:02x}");
            }
            Ok(Answer {
                status,
                location,
                content_type,
                body_sha256: hex,
                body_len: len,
                body_truncated: truncated,
                ms: start.elapsed().as_secs_f64() * 1000.0,
            })
        };
        match tokio::time::timeout(self.settings.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(ProbeError::Timeout),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_parsing() {
        assert!(Endpoint::parse("http://127.0.0.1:8080").is_ok());
        assert!(Endpoint::parse("http://127.0.0.1:8080/").is_ok());
        assert!(Endpoint::parse("http://a/b").is_err());
        assert!(Endpoint::parse("https://a").is_err());
        assert!(Endpoint::parse("127.0.0.1:80").is_err());
        assert!(Endpoint::parse("http://u@a").is_err());
    }

    #[test]
    fn uri_keeps_the_target_byte_for_byte() {
        let ep = Endpoint::parse("http://127.0.0.1:1").unwrap();
        for t in [
            "/a//b/../c?x=%zz",
            "/./x/%2e%2E/?a=b&&c",
            "/{x}|^\\[]?q={}`|",
        ] {
            let uri = ep.uri_for(t).unwrap();
            assert_eq!(uri.path_and_query().unwrap().as_str(), t);
        }
    }

    #[test]
    fn forwarded_headers_and_host() {
        let p = Prober::new(ProbeSettings::default());
        let ep = Endpoint::parse("http://127.0.0.1:1").unwrap();
        let e = ListEntry {
            line: 2,
            target: "/x".into(),
            host: Some("shop.example.com:8443".into()),
            expected_status: None,
            scheme: Some("https".into()),
            agent: Some("Agent/1".into()),
            hits: None,
        };
        let r = p.build_request(&ep, &e).unwrap();
        assert_eq!(r.headers()["host"], "shop.example.com:8443");
        assert_eq!(r.headers()["x-forwarded-proto"], "https");
        assert_eq!(r.headers()["x-forwarded-port"], "8443");
        assert_eq!(r.headers()["user-agent"], "Agent/1");
        let e2 = ListEntry {
            host: None,
            scheme: None,
            agent: None,
            ..e
        };
        let r = p.build_request(&ep, &e2).unwrap();
        assert_eq!(r.headers()["host"], "127.0.0.1:1");
        assert_eq!(r.headers()["x-forwarded-port"], "80");
    }
}
