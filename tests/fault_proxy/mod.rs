//! A fault-injecting HTTP/1.1 proxy for the S3 tests: listens on a loopback port in front of
//! moto and, for each request, asks a deterministic [`Schedule`] what to do with it: pass it
//! on, answer `503 SlowDown` or `500 InternalError` with S3's XML error body, pass it on but
//! cut the response (a connection reset, or a clean close after fewer bytes than
//! `Content-Length`), reset it unsent, delay it, or never answer.
//!
//! The proxy parses requests and responses (Content-Length and chunked framing), so it keeps
//! client connections alive like S3 does and counts requests per `METHOD target`; the schedule
//! gets that count (0 for the first time a target is asked for), so "the first k requests to
//! each key fail" is one `match`. Every request and what was done with it is logged
//! ([`FaultProxy::seen`]) for the assertions.
//!
//! Each request is forwarded on a fresh upstream connection (moto is local; this keeps the
//! proxy simple and makes a cut affect only the client side).

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward it and relay the answer.
    Pass,
    /// Answer `503 Slow Down` with `<Code>SlowDown</Code>` (S3's throttling), without
    /// forwarding.
    SlowDown,
    /// Answer `500 Internal Server Error` with `<Code>InternalError</Code>`, without forwarding.
    InternalError,
    /// Reset the connection without forwarding the request: an upload that never reached the
    /// server, or a connection dropped before the answer.
    ResetUnsent,
    /// Forward it, relay the head and half the body, then reset the connection (RST). A
    /// response without a body is reset before anything is relayed (the server did the work,
    /// the client never hears of it).
    ResetMidBody,
    /// Forward it, relay the head (with its full `Content-Length`) and half the body, then
    /// close cleanly (FIN): a truncated body.
    TruncateBody,
    /// Forward it and relay the answer after waiting this long.
    Delay(Duration),
    /// Read the request and never answer (until the client gives up).
    Stall,
}

/// One request as the schedule sees it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The request-target as sent (`/bucket/key?query`).
    pub target: String,
    /// How many requests with the same method and target came before this one.
    pub nth: u32,
    /// How many requests the proxy received before this one, all targets together.
    pub global: u64,
}

impl Request {
    /// The path part of the target (without the query).
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
    pub fn is_get(&self) -> bool {
        self.method == "GET"
    }
    pub fn is_put(&self) -> bool {
        self.method == "PUT"
    }
    /// A ListObjects request (`GET /bucket?list-type=2...`).
    pub fn is_list(&self) -> bool {
        self.is_get() && self.target.contains("list-type=")
    }
}

/// Decides the fault of each request; must be deterministic for reproducible tests.
pub type Schedule = Arc<dyn Fn(&Request) -> Fault + Send + Sync>;

/// A request seen and what was done with it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub request: Request,
    pub fault: Fault,
    /// The request head as received (for header assertions).
    pub head: String,
}

/// A running proxy; it serves until the test binary exits.
pub struct FaultProxy {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `127.0.0.1:upstream`.
    pub fn start(upstream: u16, schedule: Schedule) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(Shared {
            upstream,
            schedule,
            counts: Mutex::new(HashMap::new()),
            global: AtomicU64::new(0),
            seen: seen.clone(),
        });
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let state = state.clone();
                std::thread::spawn(move || {
                    let _ = serve(&state, client);
                });
            }
        });
        FaultProxy { port, seen }
    }

    /// `http://127.0.0.1:<port>`, for `--s3-endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests got `fault` (compared by kind: any `Delay` matches `Delay(_)`).
    pub fn count(&self, fault: Fault) -> usize {
        let same = |f: &Fault| std::mem::discriminant(f) == std::mem::discriminant(&fault);
        self.seen().iter().filter(|s| same(&s.fault)).count()
    }
}

struct Shared {
    upstream: u16,
    schedule: Schedule,
    counts: Mutex<HashMap<String, u32>>,
    global: AtomicU64,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A parsed message head plus the raw bytes of the whole message.
struct Message {
    /// First line, e.g. `GET /b/k HTTP/1.1` or `HTTP/1.1 200 OK`.
    start: String,
    head: String,
    raw_head: Vec<u8>,
    body: Vec<u8>,
    /// The body ran to the end of the connection (no framing): close after relaying.
    until_close: bool,
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Reads one message head (up to the blank line); `None` at a clean end of stream.
fn read_head(r: &mut impl BufRead) -> io::Result<Option<(String, Vec<u8>)>> {
    let mut raw = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = r.read_until(b'\n', &mut line)?;
        if n == 0 {
            return if raw.is_empty() {
                Ok(None)
            } else {
                Err(io::Error::new(io::ErrorKind::UnexpectedEof, "head cut"))
            };
        }
        raw.extend_from_slice(&line);
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    Ok(Some((String::from_utf8_lossy(&raw).into_owned(), raw)))
}

/// Reads the body that `head` announces. `bodyless`: a HEAD answer, 1xx, 204 or 304.
fn read_body(r: &mut impl BufRead, head: &str, bodyless: bool) -> io::Result<(Vec<u8>, bool)> {
    let mut body = Vec::new();
    if bodyless {
        return Ok((body, false));
    }
    if header(head, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        // Keep the chunk framing as it is: the bytes are relayed unchanged.
        loop {
            let mut size_line = Vec::new();
            r.read_until(b'\n', &mut size_line)?;
            body.extend_from_slice(&size_line);
            let text = String::from_utf8_lossy(&size_line);
            let size = usize::from_str_radix(text.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                // Trailers, up to the blank line.
                loop {
                    let mut line = Vec::new();
                    if r.read_until(b'\n', &mut line)? == 0 {
                        return Ok((body, false));
                    }
                    body.extend_from_slice(&line);
                    if line == b"\r\n" || line == b"\n" {
                        return Ok((body, false));
                    }
                }
            }
            let start = body.len();
            body.resize(start + size + 2, 0);
            r.read_exact(&mut body[start..])?;
        }
    }
    if let Some(len) = header(head, "content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?;
        body.resize(len, 0);
        r.read_exact(&mut body)?;
        return Ok((body, false));
    }
    if head.starts_with("HTTP/") {
        r.read_to_end(&mut body)?;
        return Ok((body, true));
    }
    Ok((body, false))
}

fn read_request(r: &mut impl BufRead) -> io::Result<Option<Message>> {
    let Some((head, raw_head)) = read_head(r)? else {
        return Ok(None);
    };
    let (body, _) = read_body(r, &head, false)?;
    Ok(Some(Message {
        start: head.lines().next().unwrap_or("").to_owned(),
        head,
        raw_head,
        body,
        until_close: false,
    }))
}

fn read_response(r: &mut impl BufRead, method: &str) -> io::Result<Message> {
    loop {
        let (head, raw_head) = read_head(r)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no response"))?;
        let start = head.lines().next().unwrap_or("").to_owned();
        let status: u16 = start
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if (100..200).contains(&status) {
            continue;
        }
        let bodyless = method == "HEAD" || status == 204 || status == 304;
        let (body, until_close) = read_body(r, &head, bodyless)?;
        return Ok(Message {
            start,
            head,
            raw_head,
            body,
            until_close,
        });
    }
}

fn error_response(status: &str, code: &str, message: &str, target: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>{message}</Message><Resource>{target}</Resource>\
         <RequestId>FAULTPROXY</RequestId></Error>"
    );
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
         x-amz-request-id: FAULTPROXY\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn reset(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

fn serve(state: &Shared, client: TcpStream) -> io::Result<()> {
    let mut out = client.try_clone()?;
    let mut input = BufReader::new(client);
    loop {
        let Some(req) = read_request(&mut input)? else {
            return Ok(());
        };
        let mut parts = req.start.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("").to_owned();
        if header(&req.head, "expect").is_some() {
            // Not used by the SDK for these requests; fail loudly rather than hang.
            panic!(
                "fault proxy: Expect: 100-continue is not supported ({})",
                req.start
            );
        }
        let nth = {
            let mut counts = state.counts.lock().unwrap();
            let n = counts.entry(format!("{method} {target}")).or_insert(0);
            *n += 1;
            *n - 1
        };
        let request = Request {
            method: method.clone(),
            target: target.clone(),
            nth,
            global: state.global.fetch_add(1, Ordering::SeqCst),
        };
        let fault = (state.schedule)(&request);
        state.seen.lock().unwrap().push(Seen {
            request,
            fault,
            head: req.head.clone(),
        });
        match fault {
            Fault::SlowDown => {
                out.write_all(&error_response(
                    "503 Slow Down",
                    "SlowDown",
                    "Please reduce your request rate.",
                    &target,
                ))?;
                continue;
            }
            Fault::InternalError => {
                out.write_all(&error_response(
                    "500 Internal Server Error",
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                    &target,
                ))?;
                continue;
            }
            Fault::ResetUnsent => {
                reset(&out);
                return Ok(());
            }
            Fault::Stall => {
                // Hold the connection open without answering until the client closes it.
                let mut sink = [0u8; 4096];
                while matches!(input.read(&mut sink), Ok(n) if n > 0) {}
                return Ok(());
            }
            _ => {}
        }
        let mut upstream = TcpStream::connect(("127.0.0.1", state.upstream))?;
        upstream.write_all(&req.raw_head)?;
        upstream.write_all(&req.body)?;
        let resp = read_response(&mut BufReader::new(upstream), &method)?;
        match fault {
            Fault::ResetMidBody => {
                if !resp.body.is_empty() {
                    out.write_all(&resp.raw_head)?;
                    out.write_all(&resp.body[..resp.body.len() / 2])?;
                    out.flush()?;
                    // Let the bytes leave before the reset discards what is still queued.
                    std::thread::sleep(Duration::from_millis(20));
                }
                reset(&out);
                return Ok(());
            }
            Fault::TruncateBody => {
                out.write_all(&resp.raw_head)?;
                out.write_all(&resp.body[..resp.body.len() / 2])?;
                out.flush()?;
                let _ = out.shutdown(Shutdown::Both);
                return Ok(());
            }
            Fault::Delay(d) => std::thread::sleep(d),
            _ => {}
        }
        out.write_all(&resp.raw_head)?;
        out.write_all(&resp.body)?;
        if resp.until_close {
            let _ = out.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
}
