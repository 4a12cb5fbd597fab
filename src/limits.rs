//! Connection and request limits: what keeps slow or idle clients from holding the server.
//!
//! A client gets [`Limits::header_read_timeout`] to send a request's line and headers (and an
//! idle keep-alive connection as long to start its next request); past it the connection is
//! closed, so a connection that never finishes its headers frees its slot quickly. A body
//! that stops arriving for [`Limits::body_idle_timeout`] is cut, and so is any request other
//! than an upload still unanswered after [`Limits::request_timeout`]. Uploads have no total
//! cap (a technician on a slow phone link may take many minutes over a large photo); they
//! must instead keep up [`Limits::upload_min_bytes_per_sec`] in every
//! [`Limits::upload_rate_window`], so a body trickling a byte at a time is cut too. At most
//! [`Limits::max_connections`] connections are served at once; further ones wait in the
//! listen queue until a slot frees, which the header timeout makes happen within seconds
//! however many connections stall. Cut requests are answered `408 REQUEST_TIMEOUT`.

use crate::api_error::{request_id, ApiError};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use domain::ErrorCode;
use http_body::{Frame, SizeHint};
use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The server's limits on connections and requests, read once at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `RD_HEADER_TIMEOUT_SECS` (10): time to send a request's line and headers, and the
    /// longest an idle keep-alive connection is kept.
    pub header_read_timeout: Duration,
    /// `RD_BODY_IDLE_TIMEOUT_SECS` (30): a request body that sends nothing for this long is cut.
    pub body_idle_timeout: Duration,
    /// `RD_REQUEST_TIMEOUT_SECS` (60): a request other than an upload must be answered within
    /// this time, its body included.
    pub request_timeout: Duration,
    /// `RD_UPLOAD_MIN_BYTES_PER_SEC` (1024): the slowest an upload may arrive, judged over
    /// each [`Limits::upload_rate_window`]. A phone on a poor 3G link sends tens of KiB a second.
    pub upload_min_bytes_per_sec: u64,
    /// `RD_UPLOAD_RATE_WINDOW_SECS` (60): the span the upload rate is judged over; longer than
    /// the idle timeout, so a link that stalls and recovers is not cut for the stall.
    pub upload_rate_window: Duration,
    /// `RD_MAX_CONNECTIONS` (512): connections served at once. Far above what a shop's staff
    /// and technicians open, and below the usual limit of 1024 open files per process.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            upload_min_bytes_per_sec: 1024,
            upload_rate_window: Duration::from_secs(60),
            max_connections: 512,
        }
    }
}

impl Limits {
    /// The defaults, each overridden by its variable when that holds a positive whole number.
    pub fn from_env() -> Limits {
        let d = Limits::default();
        let secs = |name: &str, default: Duration| positive(name).map(Duration::from_secs).unwrap_or(default);
        Limits {
            header_read_timeout: secs("RD_HEADER_TIMEOUT_SECS", d.header_read_timeout),
            body_idle_timeout: secs("RD_BODY_IDLE_TIMEOUT_SECS", d.body_idle_timeout),
            request_timeout: secs("RD_REQUEST_TIMEOUT_SECS", d.request_timeout),
            upload_min_bytes_per_sec: positive("RD_UPLOAD_MIN_BYTES_PER_SEC").unwrap_or(d.upload_min_bytes_per_sec),
            upload_rate_window: secs("RD_UPLOAD_RATE_WINDOW_SECS", d.upload_rate_window),
            max_connections: positive("RD_MAX_CONNECTIONS")
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(d.max_connections),
        }
    }
}

fn positive(name: &str) -> Option<u64> {
    let raw = std::env::var(name).ok()?;
    match raw.trim().parse::<u64>() {
        Ok(n) if n > 0 => Some(n),
        _ => {
            // A typo must not silently disable a limit; the default stays in force.
            tracing::warn!(variable = name, value = %raw, "not a positive whole number; using the default");
            None
        }
    }
}

/// Why a request body was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyTimeout {
    /// Nothing arrived for this long.
    Idle(Duration),
    /// Fewer bytes than `min_bytes_per_sec` a second arrived over `window`.
    TooSlow { min_bytes_per_sec: u64, window: Duration },
}

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyTimeout::Idle(d) => write!(f, "no part of the request body arrived for {} s", d.as_secs_f64()),
            BodyTimeout::TooSlow { min_bytes_per_sec, window } => write!(
                f,
                "the request body arrived slower than {min_bytes_per_sec} bytes a second over {} s",
                window.as_secs_f64()
            ),
        }
    }
}

impl std::error::Error for BodyTimeout {}

impl BodyTimeout {
    /// The body timeout behind `error`, however deeply a body reader wrapped it.
    pub fn find(error: &(dyn std::error::Error + 'static)) -> Option<BodyTimeout> {
        let mut current = Some(error);
        while let Some(e) = current {
            if let Some(cut) = e.downcast_ref::<BodyTimeout>() {
                return Some(*cut);
            }
            current = e.source();
        }
        None
    }
}

/// What one request's body guard knows, shared by the body, the upload marker and
/// [`guard_requests`].
#[derive(Debug, Default)]
pub struct BodyWatch {
    upload: AtomicBool,
    cut: OnceLock<BodyTimeout>,
}

impl BodyWatch {
    fn is_upload(&self) -> bool {
        self.upload.load(Ordering::Relaxed)
    }
}

/// A request body under the idle timeout, and the minimum rate once its route marks it an upload.
///
/// Only time spent waiting for the client counts: while the handler is busy with what it
/// already has (writing it to the blob store, say), the client is held back by TCP flow
/// control, and that is not the client's slowness.
struct GuardedBody {
    inner: Body,
    watch: Arc<BodyWatch>,
    limits: Limits,
    /// Made at the first wait: most bodies are empty or already here.
    timer: Option<Pin<Box<Sleep>>>,
    /// When the current wait for the client began; `None` while the handler is not waiting.
    waiting_since: Option<Instant>,
    /// How far into the current wait its time has been added to `window_waited`.
    counted_until: Instant,
    /// Time spent waiting for the client in the current rate window, and what arrived in it.
    window_waited: Duration,
    window_bytes: u64,
}

impl GuardedBody {
    fn new(inner: Body, watch: Arc<BodyWatch>, limits: Limits) -> Self {
        let now = Instant::now();
        GuardedBody {
            inner,
            watch,
            limits,
            timer: None,
            waiting_since: None,
            counted_until: now,
            window_waited: Duration::ZERO,
            window_bytes: 0,
        }
    }

    /// Adds the current wait, up to `now`, to the rate window.
    fn count_wait(&mut self, now: Instant) {
        if self.waiting_since.is_some() {
            self.window_waited += now.saturating_duration_since(self.counted_until);
            self.counted_until = now;
        }
    }

    fn judges_rate(&self) -> bool {
        self.watch.is_upload() && self.limits.upload_min_bytes_per_sec > 0 && !self.limits.upload_rate_window.is_zero()
    }

    /// Judges a full rate window of an upload: too few bytes cut the body, enough start the
    /// next window.
    fn judge_window(&mut self) -> Result<(), BodyTimeout> {
        let window = self.limits.upload_rate_window;
        if !self.judges_rate() || self.window_waited < window {
            return Ok(());
        }
        let needed = (self.limits.upload_min_bytes_per_sec as f64 * window.as_secs_f64()) as u64;
        if self.window_bytes < needed {
            return Err(BodyTimeout::TooSlow { min_bytes_per_sec: self.limits.upload_min_bytes_per_sec, window });
        }
        (self.window_waited, self.window_bytes) = (Duration::ZERO, 0);
        Ok(())
    }

    fn cut(&mut self, why: BodyTimeout) -> Poll<Option<Result<Frame<Bytes>, crate::BoxError>>> {
        let _ = self.watch.cut.set(why);
        tracing::info!(reason = %why, "request body cut");
        Poll::Ready(Some(Err(Box::new(why))))
    }
}

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = crate::BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Some(why) = this.watch.cut.get() {
            return Poll::Ready(Some(Err(Box::new(*why))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.count_wait(Instant::now());
                this.waiting_since = None;
                if let Some(data) = frame.data_ref() {
                    this.window_bytes += data.len() as u64;
                }
                // A window that filled while this frame was on its way is judged with it.
                if let Err(why) = this.judge_window() {
                    return this.cut(why);
                }
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => {}
        }
        let since = match this.waiting_since {
            Some(since) => since,
            None => {
                let now = Instant::now();
                (this.waiting_since, this.counted_until) = (Some(now), now);
                now
            }
        };
        // Wake at the idle deadline, or when the rate window fills, whichever comes first.
        loop {
            let idle_deadline = since + this.limits.body_idle_timeout;
            let deadline = if this.judges_rate() {
                let left = this.limits.upload_rate_window.saturating_sub(this.window_waited);
                idle_deadline.min(this.counted_until + left)
            } else {
                idle_deadline
            };
            let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let now = Instant::now();
            this.count_wait(now);
            if let Err(why) = this.judge_window() {
                return this.cut(why);
            }
            if now >= idle_deadline {
                return this.cut(BodyTimeout::Idle(this.limits.body_idle_timeout));
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: every request body gets the idle timeout (and the minimum rate on upload
/// routes), and every request but an upload must be answered within the request timeout.
/// A cut request is answered 408 with the API's error body, and its connection closed: the
/// rest of its body will never be read.
pub async fn guard_requests(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    let rid = request_id(request.headers());
    let watch = Arc::new(BodyWatch::default());
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(Arc::clone(&watch));
    let request = Request::from_parts(parts, Body::new(GuardedBody::new(body, Arc::clone(&watch), limits)));
    let mut handler = std::pin::pin!(next.run(request));
    let response = tokio::select! {
        response = &mut handler => response,
        () = tokio::time::sleep(limits.request_timeout) => {
            if watch.is_upload() {
                // Uploads have no total cap: their body's own guard cuts one that stalls.
                handler.await
            } else {
                tracing::info!(after_secs = limits.request_timeout.as_secs_f64(), "request timed out");
                let message = format!("the request took longer than {} s", limits.request_timeout.as_secs_f64());
                return timed_out(ApiError::new(&rid, ErrorCode::RequestTimeout, message).into_response());
            }
        }
    };
    match watch.cut.get() {
        Some(_) if response.status() == StatusCode::REQUEST_TIMEOUT => timed_out(response),
        // A reader that does not know the timeout (a JSON or form body) answered for it.
        Some(why) => timed_out(ApiError::new(&rid, ErrorCode::RequestTimeout, why.to_string()).into_response()),
        None => response,
    }
}

fn timed_out(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Route middleware for upload routes: lifts the request timeout and judges the body's rate
/// instead (see [`Limits`]).
pub async fn upload(request: Request, next: Next) -> Response {
    if let Some(watch) = request.extensions().get::<Arc<BodyWatch>>() {
        watch.upload.store(true, Ordering::Relaxed);
    }
    next.run(request).await
}
