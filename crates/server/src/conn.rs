//! The accept loop: every connection has a header, body, write and idle timeout, and at most
//! [`ConnectionLimits::max_connections`] are served at once.
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

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
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
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(None::<Duration>);
    let mut shutdown = pin!(shutdown);
    loop {
        // Over the cap a connection is not accepted: it waits in the kernel's backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.map_err(io::Error::other)?,
            () = &mut shutdown => break,
        };
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
        // Responses are written whole; waiting to coalesce them only adds latency.
        let _ = stream.set_nodelay(true);
        let clock = Arc::new(Clock::new(limits));
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
        let phase = Phase::Head { until: Instant::now() + limits.header_timeout };
        Self { limits, state: Mutex::new(ClockState { phase, parked: None }) }
    }

    fn request_started(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.phase = Phase::Busy;
        }
    }

    fn response_ready(&self) {
        let parked = match self.state.lock() {
            Ok(mut state) => {
                state.phase = Phase::Idle { until: Instant::now() + self.limits.idle_timeout };
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
            Phase::Idle { until } | Phase::Head { until } => Some(until),
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
