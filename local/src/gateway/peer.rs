//! What API Gateway knows of a client connection beyond what `axum` hands a handler: its
//! address, and its request head as sent, so that the events carry header names in the client's
//! case (`Sec-WebSocket-Protocol`, `Host`) as AWS's do, where HTTP libraries lower-case them.
//!
//! [`Listener`] accepts TCP connections whose stream records the first request head it reads
//! (up to [`MAX_HEAD_BYTES`]); [`Peer`] is the connect info each request gets.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The most of a connection's first bytes kept to read its header names from.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The first request head of a connection, as read.
#[derive(Debug, Default)]
struct Head {
    /// The bytes read so far (at most [`MAX_HEAD_BYTES`]).
    bytes: Vec<u8>,
    /// Whether the head is complete (or the limit reached): nothing more is kept.
    done: bool,
}

/// A TCP stream that keeps a copy of its first request head.
pub struct Recording {
    /// The connection.
    inner: TcpStream,
    /// The head, shared with the [`Peer`] of each request on this connection.
    head: Arc<Mutex<Head>>,
    /// Set once the head is complete: later reads are not looked at.
    done: bool,
}

impl AsyncRead for Recording {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if !self.done && matches!(polled, Poll::Ready(Ok(()))) {
            let read = &buf.filled()[before..];
            let done = match self.head.lock() {
                Ok(mut head) => {
                    let room = MAX_HEAD_BYTES.saturating_sub(head.bytes.len());
                    head.bytes.extend_from_slice(&read[..read.len().min(room)]);
                    head.done = head.bytes.len() >= MAX_HEAD_BYTES
                        || head.bytes.windows(4).any(|w| w == b"\r\n\r\n")
                        || read.is_empty();
                    head.done
                }
                Err(_) => true,
            };
            self.done = done;
        }
        polled
    }
}

impl AsyncWrite for Recording {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A TCP listener whose connections record their first request head.
pub struct Listener(pub TcpListener);

impl axum::serve::Listener for Listener {
    type Io = Recording;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((inner, addr)) => {
                    let _ = inner.set_nodelay(true);
                    let io = Recording {
                        inner,
                        head: Arc::default(),
                        done: false,
                    };
                    return (io, addr);
                }
                // A connection that failed before it was accepted is that client's problem;
                // anything else (out of file descriptors) is given a moment to clear.
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// A request's client: its address, and its connection's first request head.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// The connection's first request head.
    head: Arc<Mutex<Head>>,
}

impl Connected<IncomingStream<'_, Listener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, Listener>) -> Self {
        Self {
            addr: *stream.remote_addr(),
            head: stream.io().head.clone(),
        }
    }
}

impl Peer {
    /// A peer with no recorded head (header names then stay lower-case).
    #[cfg(test)]
    pub fn without_head(addr: SocketAddr) -> Self {
        Self {
            addr,
            head: Arc::default(),
        }
    }

    /// The header names as the client wrote them, by their lower-case form, when the recorded
    /// head is this request's (its request target is `target`); `None` otherwise (a later
    /// request on a kept-alive connection), and names then stay lower-case.
    pub fn header_names(&self, target: &str) -> Option<HashMap<String, String>> {
        let head = self.head.lock().ok()?;
        let text = std::str::from_utf8(&head.bytes).ok()?;
        let (head_text, _) = text.split_once("\r\n\r\n")?;
        let mut lines = head_text.split("\r\n");
        let request_line = lines.next()?;
        if request_line.split(' ').nth(1) != Some(target) {
            return None;
        }
        Some(
            lines
                .filter_map(|l| l.split_once(':'))
                .map(|(name, _)| (name.to_ascii_lowercase(), name.to_owned()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(head: &str) -> Peer {
        let p = Peer::without_head(SocketAddr::from(([127, 0, 0, 1], 1)));
        if let Ok(mut h) = p.head.lock() {
            h.bytes = head.as_bytes().to_vec();
        }
        p
    }

    #[test]
    fn header_names_keep_the_clients_case_for_its_own_request_only() {
        let p = peer(
            "GET /dev?x=1 HTTP/1.1\r\nHost: 127.0.0.1:3001\r\nSec-WebSocket-Protocol: wsauth\r\n\
             x-custom-Thing: a\r\n\r\n",
        );
        let names = p.header_names("/dev?x=1").unwrap();
        assert_eq!(names["host"], "Host");
        assert_eq!(names["sec-websocket-protocol"], "Sec-WebSocket-Protocol");
        assert_eq!(names["x-custom-thing"], "x-custom-Thing");
        assert_eq!(p.header_names("/other"), None);
        assert_eq!(
            peer("GET /dev HTTP/1.1\r\nHost: a").header_names("/dev"),
            None
        );
    }
}
