//! The limits that keep slow and greedy clients from holding the agent: how long a request may
//! take to arrive, how many connections and event streams may be open, how many bytes may wait
//! for a stream's reader, and how long a history query may run.

use std::time::Duration;

/// The agent's connection and request limits. [`Limits::default`] holds the production values;
/// tests shorten them with the `with_*` setters and
/// [`Agent::with_limits`](crate::Agent::with_limits).
///
/// ```
/// use std::time::Duration;
/// use andon_agent::Limits;
///
/// let limits = Limits::default().with_header_read_timeout(Duration::from_secs(2));
/// assert_eq!(limits.header_read_timeout(), Duration::from_secs(2));
/// assert_eq!(limits.max_connections(), 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    header_read_timeout: Duration,
    body_timeout: Duration,
    max_connections: usize,
    max_event_streams: usize,
    max_event_streams_per_client: usize,
    max_stream_buffer_bytes: usize,
}

/// The default time a request's head (and an idle keep-alive connection's next request) may
/// take to arrive.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The default time a request body may take to arrive whole.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// The default cap on open connections; more are closed as soon as they are accepted.
pub const MAX_CONNECTIONS: usize = 1024;
/// The default cap on event streams (`GET /v1/events`) open at once; more get 503.
pub const MAX_EVENT_STREAMS: usize = 256;
/// The default cap on event streams open at once from one client address.
pub const MAX_EVENT_STREAMS_PER_CLIENT: usize = 16;
/// The default cap on event bytes waiting for one stream's reader; a reader that falls this far
/// behind is disconnected (a browser's `EventSource` reconnects and reloads the board).
pub const MAX_STREAM_BUFFER_BYTES: usize = 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: HEADER_READ_TIMEOUT,
            body_timeout: BODY_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            max_event_streams: MAX_EVENT_STREAMS,
            max_event_streams_per_client: MAX_EVENT_STREAMS_PER_CLIENT,
            max_stream_buffer_bytes: MAX_STREAM_BUFFER_BYTES,
        }
    }
}

impl Limits {
    /// How long a request's head may take to arrive; it is also the idle keep-alive timeout
    /// (the wait for the next request on an open connection). At least 1 ms.
    #[must_use]
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long a request body may take to arrive whole before the request is answered 408 and
    /// the connection closed. At least 1 ms.
    #[must_use]
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The most connections open at once (at least 1).
    #[must_use]
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// The most event streams open at once, in all and per client address (each at least 1).
    #[must_use]
    pub fn with_max_event_streams(mut self, total: usize, per_client: usize) -> Self {
        self.max_event_streams = total.max(1);
        self.max_event_streams_per_client = per_client.max(1);
        self
    }

    /// The most event bytes that may wait for one stream's reader (at least 1 KiB).
    #[must_use]
    pub fn with_max_stream_buffer_bytes(mut self, bytes: usize) -> Self {
        self.max_stream_buffer_bytes = bytes.max(1024);
        self
    }

    /// How long a client may take to send its request headers; see
    /// [`with_header_read_timeout`](Self::with_header_read_timeout).
    pub fn header_read_timeout(&self) -> Duration {
        self.header_read_timeout
    }

    /// How long a client may take to send a request body; see
    /// [`with_body_timeout`](Self::with_body_timeout).
    pub fn body_timeout(&self) -> Duration {
        self.body_timeout
    }

    /// The most connections served at once; see
    /// [`with_max_connections`](Self::with_max_connections).
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// The most event streams open at once, in all.
    pub fn max_event_streams(&self) -> usize {
        self.max_event_streams
    }

    /// The most event streams open at once from one client address.
    pub fn max_event_streams_per_client(&self) -> usize {
        self.max_event_streams_per_client
    }

    /// The most bytes an event stream may hold unsent before it is closed; see
    /// [`with_max_stream_buffer_bytes`](Self::with_max_stream_buffer_bytes).
    pub fn max_stream_buffer_bytes(&self) -> usize {
        self.max_stream_buffer_bytes
    }
}
