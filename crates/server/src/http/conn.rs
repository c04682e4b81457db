//! The accept loop: every connection has a header, body, write and idle timeout, and at most
//! [`ConnectionLimits::max_connections`] are served at once.
//!
//! A stranger must not hold the door (issue #21): at the cap, the connection that has waited
//! longest for a request — idle between requests, or still sending its headers — is closed to make
//! room for the new one; a source address holding [`ConnectionLimits::max_connections_per_source`]
//! makes room from its own connections, or its new connection is closed at once; and a connection
//! buffers at most about [`MAX_HEAD_BYTES`] of a request head. A connection serving a request, or
//! one that began waiting less than [`EVICTABLE_AFTER`] ago (a client's pooled connection about to
//! be reused), is never closed to make room: with no other, a new connection waits for a slot.
//!
//! hyper's own header timer starts as soon as a kept-alive connection goes idle, so it cannot tell
//! an idle client (allowed two minutes) from one drip-feeding its headers (allowed seconds). Each
//! connection therefore keeps its own [`Clock`]: the socket wrapper ([`TimedIo`]) enforces the
//! deadline of the phase the connection is in, and the service moves it between phases.
//!
//! With TLS, the handshake runs over that same socket wrapper in the connection's own task: it
//! holds a connection slot and must end, with the first request's headers, within the header
//! timeout of connecting, so a client that opens connections and never finishes a handshake
//! costs no more than one that never sends a request.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use axum::response::IntoResponse;
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use crate::config::ConnectionLimits;
use crate::error::ApiError;

/// Serves `router` on `listener` (over TLS with `tls`) until `shutdown` completes, then lets
/// open requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let open = Arc::new(OpenConnections::default());
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(None::<Duration>).max_buf_size(MAX_HEAD_BYTES);
    let mut shutdown = pin!(shutdown);
    let mut next_id = 0u64;
    'accept: loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if open.of_source(remote.ip()) >= limits.max_connections_per_source.max(1) && !open.make_room(Some(remote.ip()))
        {
            tracing::debug!(%remote, "closed a new connection: its source holds its share of the slots");
            continue;
        }
        // At the cap, the new connection waits for a slot (and those behind it in the kernel's
        // backlog) while the longest-waiting connection, once it has waited long enough, makes room.
        let slot = loop {
            if slots.available_permits() == 0 {
                open.make_room(None);
            }
            tokio::select! {
                slot = slots.clone().acquire_owned() => break slot.map_err(io::Error::other)?,
                () = tokio::time::sleep(EVICTABLE_AFTER / 4) => {}
                () = &mut shutdown => break 'accept,
            }
        };
        // Responses are written whole; waiting to coalesce them only adds latency.
        let _ = stream.set_nodelay(true);
        let clock = Arc::new(Clock::new(limits));
        next_id += 1;
        let slot = OpenSlot { _permit: slot, id: next_id, open: open.register(next_id, remote.ip(), clock.clone()) };
        let io = TimedIo::new(stream, clock.clone(), limits.write_timeout);
        let service = RequestService { router: router.clone(), clock, limits, remote };
        match &tls {
            None => {
                let connection = graceful.watch(builder.serve_connection(TokioIo::new(io), service));
                tokio::spawn(async move {
                    closed(connection.await, remote);
                    drop(slot);
                });
            }
            Some(acceptor) => {
                let handshake = acceptor.accept(io);
                let (watcher, builder) = (graceful.watcher(), builder.clone());
                tokio::spawn(async move {
                    match handshake.await {
                        Ok(stream) => {
                            closed(
                                watcher.watch(builder.serve_connection(TokioIo::new(stream), service)).await,
                                remote,
                            );
                        }
                        Err(error) => tracing::debug!(%error, %remote, "TLS handshake failed"),
                    }
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

fn closed(outcome: hyper::Result<()>, remote: SocketAddr) {
    if let Err(error) = outcome {
        tracing::debug!(%error, %remote, "connection closed with an error");
    }
}

/// The most a request's head (request line and headers) may take, and so the most a connection
/// buffers while reading one: 512 unfinished heads of 390 KB held 240 MiB with hyper's default
/// (issue #21). Tokens are under 1 KiB; Citrix's own limit on a request's headers is 32 KiB.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// How long a connection must have waited for a request before it may be closed to make room:
/// a client reuses its pooled connections within moments, and one closed as it sends a request
/// fails that request; a stranger's held connections are older.
pub const EVICTABLE_AFTER: Duration = Duration::from_millis(250);

/// The connections being served, so that one waiting for a request can make room for a new one.
#[derive(Default)]
struct OpenConnections {
    by_id: Mutex<HashMap<u64, (IpAddr, Arc<Clock>)>>,
}

impl OpenConnections {
    fn register(self: &Arc<Self>, id: u64, source: IpAddr, clock: Arc<Clock>) -> Arc<Self> {
        if let Ok(mut by_id) = self.by_id.lock() {
            by_id.insert(id, (source, clock));
        }
        self.clone()
    }

    fn of_source(&self, source: IpAddr) -> usize {
        self.by_id.lock().map_or(0, |by_id| by_id.values().filter(|(ip, _)| *ip == source).count())
    }

    /// Closes the connection (of `source`, if given) that has waited longest for a request, if
    /// any waits; it ends at its next read.
    fn make_room(&self, source: Option<IpAddr>) -> bool {
        let Ok(by_id) = self.by_id.lock() else { return false };
        let Some(waited_enough) = Instant::now().checked_sub(EVICTABLE_AFTER) else { return false };
        let oldest = by_id
            .values()
            .filter(|(ip, _)| source.is_none_or(|source| *ip == source))
            .filter_map(|(_, clock)| clock.waiting_since().map(|since| (since, clock)))
            .filter(|(since, _)| *since <= waited_enough)
            .min_by_key(|(since, _)| *since);
        match oldest {
            Some((_, clock)) => clock.evict(),
            None => false,
        }
    }
}

/// A connection's slot: given back, and the connection forgotten, when its task ends.
struct OpenSlot {
    _permit: tokio::sync::OwnedSemaphorePermit,
    id: u64,
    open: Arc<OpenConnections>,
}

impl Drop for OpenSlot {
    fn drop(&mut self) {
        if let Ok(mut by_id) = self.open.by_id.lock() {
            by_id.remove(&self.id);
        }
    }
}

/// A failed accept that is the peer's doing is skipped; anything else (out of file descriptors)
/// is waited out, so the loop does not spin.
async fn accept_failed(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        tracing::warn!(%error, "accepting a connection failed; retrying in a second");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

struct RequestService {
    router: Router,
    clock: Arc<Clock>,
    limits: ConnectionLimits,
    remote: SocketAddr,
}

impl hyper::service::Service<Request<Incoming>> for RequestService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.clock.request_started();
        let deadline = Instant::now() + self.limits.body_timeout;
        let mut request = request.map(|body| Body::new(DeadlineBody::new(body, deadline)));
        request.extensions_mut().insert(ConnectInfo(self.remote));
        let mut router = self.router.clone();
        let clock = self.clock.clone();
        // The handler runs in a task of its own, to completion: neither a slow answer nor a client
        // that hangs up cancels a write that has begun, so whatever it committed, its answer says
        // (issue #21). Only reading the request and writing the response are timed; producing it
        // is bounded by the store's own timeouts, which answer 503.
        let handler = tokio::spawn(async move { router.call(request).await });
        Box::pin(async move {
            let response = match handler.await {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(error) => {
                    tracing::error!(%error, "a request handler panicked");
                    ApiError::Internal.into_response()
                }
            };
            clock.response_ready();
            Ok(response)
        })
    }
}

/// Where a connection stands, and so how long its socket may wait for the client.
struct Clock {
    limits: ConnectionLimits,
    state: Mutex<ClockState>,
}

struct ClockState {
    phase: Phase,
    /// When the connection began waiting for its current or next request's head.
    waiting_since: Instant,
    /// Closed to make room: its next read fails.
    evicted: bool,
    /// The read waiting for the client, woken when the connection is evicted.
    reader: Option<Waker>,
    /// A read left waiting with no deadline while busy: woken when the connection goes idle, so
    /// its idle deadline is armed even if the client never sends another byte.
    parked: Option<Waker>,
}

#[derive(Clone, Copy)]
enum Phase {
    /// Between requests; the first byte of the next one starts its header timer.
    Idle { until: Instant },
    /// Reading a request's headers.
    Head { until: Instant },
    /// A request is being served: its body is bounded by [`DeadlineBody`], its response by the
    /// write timeout, so the socket itself has no read deadline.
    Busy,
}

impl Clock {
    fn new(limits: ConnectionLimits) -> Self {
        // A new connection owes its first request's headers at once, as in Go's server.
        let now = Instant::now();
        let phase = Phase::Head { until: now + limits.header_timeout };
        let state = ClockState { phase, waiting_since: now, evicted: false, reader: None, parked: None };
        Self { limits, state: Mutex::new(state) }
    }

    /// Since when the connection has waited for a request's head; `None` while serving one.
    fn waiting_since(&self) -> Option<Instant> {
        let state = self.state.lock().ok()?;
        match state.phase {
            Phase::Idle { .. } | Phase::Head { .. } if !state.evicted => Some(state.waiting_since),
            _ => None,
        }
    }

    /// Makes the connection's next read fail, if it is still waiting for a request.
    fn evict(&self) -> bool {
        let reader = match self.state.lock() {
            Ok(mut state) if matches!(state.phase, Phase::Idle { .. } | Phase::Head { .. }) => {
                state.evicted = true;
                state.reader.take()
            }
            _ => return false,
        };
        if let Some(waker) = reader {
            waker.wake();
        }
        true
    }

    fn is_evicted(&self) -> bool {
        self.state.lock().is_ok_and(|state| state.evicted)
    }

    fn request_started(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.phase = Phase::Busy;
        }
    }

    fn response_ready(&self) {
        let parked = match self.state.lock() {
            Ok(mut state) => {
                let now = Instant::now();
                state.phase = Phase::Idle { until: now + self.limits.idle_timeout };
                state.waiting_since = now;
                state.parked.take()
            }
            Err(_) => None,
        };
        if let Some(waker) = parked {
            waker.wake();
        }
    }

    fn bytes_arrived(&self) {
        if let Ok(mut state) = self.state.lock() {
            if matches!(state.phase, Phase::Idle { .. }) {
                state.phase = Phase::Head { until: Instant::now() + self.limits.header_timeout };
            }
        }
    }

    /// The deadline of a read that has to wait; while busy there is none, and `cx` is kept to
    /// be woken when that changes.
    fn read_deadline(&self, cx: &Context<'_>) -> Option<Instant> {
        let mut state = self.state.lock().ok()?;
        match state.phase {
            Phase::Idle { until } | Phase::Head { until } => {
                state.reader = Some(cx.waker().clone());
                Some(until)
            }
            Phase::Busy => {
                state.parked = Some(cx.waker().clone());
                None
            }
        }
    }
}

/// The socket, failing a read that waits past the connection's deadline and a write that stays
/// blocked longer than the write timeout.
struct TimedIo {
    stream: TcpStream,
    clock: Arc<Clock>,
    write_timeout: Duration,
    read_timer: Pin<Box<Sleep>>,
    write_timer: Pin<Box<Sleep>>,
    write_blocked_since: Option<Instant>,
}

impl TimedIo {
    fn new(stream: TcpStream, clock: Arc<Clock>, write_timeout: Duration) -> Self {
        let now = Instant::now();
        Self {
            stream,
            clock,
            write_timeout,
            read_timer: Box::pin(tokio::time::sleep_until(now)),
            write_timer: Box::pin(tokio::time::sleep_until(now)),
            write_blocked_since: None,
        }
    }

    /// Passes a write's outcome on, failing it once it has stayed blocked past the write timeout.
    fn wrote<T>(&mut self, result: Poll<io::Result<T>>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        if result.is_ready() {
            self.write_blocked_since = None;
            return result;
        }
        let deadline = *self.write_blocked_since.get_or_insert_with(Instant::now) + self.write_timeout;
        if expired(&mut self.write_timer, deadline, cx) {
            Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client did not take the response in time")))
        } else {
            Poll::Pending
        }
    }
}

/// Arms `timer` for `deadline` and tells whether it has passed, registering `cx` otherwise.
fn expired(timer: &mut Pin<Box<Sleep>>, deadline: Instant, cx: &mut Context<'_>) -> bool {
    if timer.deadline() != deadline {
        timer.as_mut().reset(deadline);
    }
    timer.as_mut().poll(cx).is_ready()
}

impl AsyncRead for TimedIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.clock.is_evicted() {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionAborted, "closed to make room")));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.clock.bytes_arrived();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => match this.clock.read_deadline(cx) {
                Some(deadline) if expired(&mut this.read_timer, deadline, cx) => {
                    Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client sent nothing in time")))
                }
                _ => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.wrote(result, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.wrote(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.stream).poll_flush(cx);
        this.wrote(result, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The request body did not arrive before its deadline; handlers answer 408.
#[derive(Debug, thiserror::Error)]
#[error("the request body was not received in time")]
pub struct BodyTimedOut;

/// Whether reading a body failed because of the body timeout.
pub fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<BodyTimedOut>() {
            return true;
        }
        cause = error.source();
    }
    false
}

/// A request body that must be complete by a deadline, however slowly it trickles in.
struct DeadlineBody {
    body: Incoming,
    timer: Pin<Box<Sleep>>,
}

impl DeadlineBody {
    fn new(body: Incoming, deadline: Instant) -> Self {
        Self { body, timer: Box::pin(tokio::time::sleep_until(deadline)) }
    }
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending if this.timer.as_mut().poll(cx).is_ready() => Poll::Ready(Some(Err(BodyTimedOut.into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        http_body::Body::is_end_stream(&self.body)
    }

    fn size_hint(&self) -> SizeHint {
        http_body::Body::size_hint(&self.body)
    }
}
