//! A backend that answers every request after a fixed delay (default 20 ms): the upstream of
//! the tester's throughput measurement (`benches/tester.sh`), standing in for a legacy app
//! server behind nginx. Loopback only.
//!
//! `cargo run --release --example slow_backend -- PORT [DELAY_MS]`

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().unwrap_or_else(|| "18080".into()).parse()?;
    let delay = Duration::from_millis(args.next().unwrap_or_else(|| "20".into()).parse()?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!(
        "slow_backend on 127.0.0.1:{port}, {} ms per answer",
        delay.as_millis()
    );
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<hyper::body::Incoming>| async move {
                tokio::time::sleep(delay).await;
                let body = format!("page {}\n", req.uri());
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
