//! The rules every request passes before a handler sees it: who may reach the agent (the `Host`
//! it was sent to) and who may write (the page it came from, its content type, a proxy in
//! between), and the headers every answer carries so that no other site can frame the board.
//!
//! A browser on any web page can send a request to `http://127.0.0.1:7600`; what it cannot do is
//! set `Content-Type: application/json` or hide its `Origin` and `Sec-Fetch-Site` without the
//! agent's consent (a CORS preflight the agent never grants). Those are the marks a write must
//! carry. A page that re-points its own host name at 127.0.0.1 (DNS rebinding) is same-origin
//! to the browser, but it sends its own name in `Host`, which is refused.

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::request::ApiError;

/// The board's Content-Security-Policy: its own script, style and connections only, no
/// framing, no plugins, no foreign form targets.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The headers every answer carries, checked once when the agent is compiled rather than on
/// every answer.
const SECURITY_HEADERS: [(HeaderName, HeaderValue); 4] = [
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    ),
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
];

/// The headers that say a proxy stands between the writer and the agent.
const PROXY_HEADERS: [HeaderName; 3] = [
    header::FORWARDED,
    HeaderName::from_static("x-forwarded-for"),
    HeaderName::from_static("x-real-ip"),
];

/// The header a browser sends to say which site a request comes from.
const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// What the edge rules need to know about this agent.
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    /// The address the listener is bound to, when serving (`None`: the configured one).
    pub(crate) bound: Option<SocketAddr>,
    /// `[agent] allowed_hosts`, lower case.
    pub(crate) allowed_hosts: Vec<String>,
    /// Whether a bearer token is configured.
    pub(crate) token_configured: bool,
}

impl Edge {
    /// The edge rules as a layer over every route.
    pub(crate) fn layer(self) -> EdgeLayer {
        EdgeLayer(Arc::new(self))
    }

    /// Whether `request` passes the edge: `Host` on every request, the write marks on every
    /// write.
    fn check(&self, request: &Request) -> Result<(), ApiError> {
        check_host(self, request)?;
        // The provider endpoints are written to by PagerDuty and Slack, authenticated by
        // their signatures instead (see the integrations module).
        if is_write(request.method()) && !crate::integrations::is_signed_path(request.uri().path())
        {
            check_write(self, request.headers())
        } else {
            Ok(())
        }
    }
}

/// The middleware as a tower layer: checks `Host` on every request and the write marks on
/// every write, and adds the security headers to every answer. One service around each route,
/// with no boxed future and no allocation on the way through.
#[derive(Debug, Clone)]
pub(crate) struct EdgeLayer(Arc<Edge>);

impl<S> tower::Layer<S> for EdgeLayer {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Guarded<S> {
        Guarded {
            edge: Arc::clone(&self.0),
            inner,
        }
    }
}

/// A route behind the edge rules (made by [`EdgeLayer`]).
#[derive(Debug, Clone)]
pub(crate) struct Guarded<S> {
    edge: Arc<Edge>,
    inner: S,
}

impl<S> tower::Service<Request> for Guarded<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Answer<S::Future> {
        match self.edge.check(&request) {
            Ok(()) => Answer::Served(self.inner.call(request)),
            Err(refused) => Answer::Refused(Some(refused.into_response())),
        }
    }
}

/// The answer of a [`Guarded`] route: the route's own, or the edge's refusal; either with the
/// security headers.
pub(crate) enum Answer<F> {
    /// The request passed the edge; the route is answering it.
    Served(F),
    /// The edge refused the request (taken once, when polled).
    Refused(Option<Response>),
}

impl<F> Future for Answer<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut response = match self.get_mut() {
            Answer::Served(future) => ready!(Pin::new(future).poll(cx))?,
            Answer::Refused(refused) => refused.take().unwrap_or_default(),
        };
        secure(response.headers_mut());
        Poll::Ready(Ok(response))
    }
}

fn secure(headers: &mut HeaderMap) {
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, value);
    }
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `text` in lower case, borrowed when it is lower case already (as clients send host names
/// and header values).
fn lower(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// The host part of a `Host` header or an origin's authority, lower case, without port or the
/// brackets of an IPv6 address; `None` when it is malformed.
fn host_part(authority: &str) -> Option<Cow<'_, str>> {
    let authority = authority.trim();
    let host = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        inside
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) if is_port(port) => host,
            Some(_) => return None,
            None => authority,
        }
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    (!host.is_empty()).then(|| lower(host))
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `host` (from [`host_part`]) names this agent.
fn host_allowed(edge: &Edge, host: &str) -> bool {
    if host == "localhost" || edge.allowed_hosts.iter().any(|h| h == host) {
        return true;
    }
    // An IP address cannot be re-pointed by DNS: this machine's loopback, the bound address,
    // or, bound to every address, any address that reached it.
    match host.parse::<IpAddr>() {
        Ok(ip) => {
            ip.is_loopback()
                || edge
                    .bound
                    .is_some_and(|b| b.ip() == ip || b.ip().is_unspecified())
        }
        Err(_) => false,
    }
}

fn check_host(edge: &Edge, request: &Request) -> Result<(), ApiError> {
    let given = request
        .uri()
        .authority()
        .map(|a| Cow::Borrowed(a.as_str()))
        .or_else(|| {
            request
                .headers()
                .get(header::HOST)
                .map(|v| String::from_utf8_lossy(v.as_bytes()))
        });
    // Fail closed: whom a request without `Host` was meant for cannot be known, so it is not
    // answered (HTTP/1.1 requires the header; browsers, curl and the andon CLI always send it).
    let Some(given) = given else {
        return Err(ApiError::bad_request(
            "the request has no Host header, so this agent cannot tell whether it is meant for it: send `Host: <the agent's address>` (HTTP/1.1 requires it)",
        ));
    };
    match host_part(&given) {
        Some(host) if host_allowed(edge, &host) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "this agent does not answer to the host `{}`: reach it as localhost or by IP address, or add the name to [agent] allowed_hosts",
                printable(&given)
            ),
        )),
    }
}

/// At most 100 printable characters of client text, for an error message.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(100).collect()
}

fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, message)
}

/// A header's value, trimmed and in lower case; borrowed from the request when it is lower
/// case already (copied only when it has upper case or bytes beyond visible ASCII).
fn header_text(headers: &HeaderMap, name: HeaderName) -> Option<Cow<'_, str>> {
    headers.get(name).map(|v| match v.to_str() {
        Ok(text) => lower(text.trim()),
        Err(_) => Cow::Owned(
            String::from_utf8_lossy(v.as_bytes())
                .trim()
                .to_ascii_lowercase(),
        ),
    })
}

fn check_write(edge: &Edge, headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(site) = header_text(headers, SEC_FETCH_SITE)
        && !matches!(&*site, "same-origin" | "none")
    {
        return Err(forbidden(format!(
            "writes from another site are refused (Sec-Fetch-Site: {}): use the board served by this agent, the andon CLI or a JSON client",
            printable(&site)
        )));
    }
    if let Some(origin) = header_text(headers, header::ORIGIN) {
        let host = header_text(headers, header::HOST);
        let own = origin
            .split_once("://")
            .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
            .is_some_and(|(_, authority)| {
                host.as_deref().is_some_and(|h| h == authority)
                    || host_part(authority)
                        .is_some_and(|h| edge.allowed_hosts.iter().any(|a| *a == *h))
            });
        if !own {
            return Err(forbidden(format!(
                "writes from the page `{}` are refused: only this agent's own board may write from a browser; add its host to [agent] allowed_hosts if it is this agent behind a proxy",
                printable(&origin)
            )));
        }
    }
    let json = header_text(headers, header::CONTENT_TYPE).is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|mime| mime.trim() == "application/json")
    });
    if !json {
        return Err(forbidden(
            "writes must be sent with Content-Type: application/json (an empty resume or acknowledgement too): the andon CLI and `curl -H 'Content-Type: application/json'` do",
        ));
    }
    let proxied = PROXY_HEADERS.iter().any(|name| headers.contains_key(name));
    if proxied && !edge.token_configured {
        return Err(forbidden(
            "writes through a proxy (Forwarded / X-Forwarded-For) need a token: set [agent] token = \"${ANDON_TOKEN}\" so that the proxy does not open the cord to everyone it serves",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(bound: &str, hosts: &[&str]) -> Edge {
        Edge {
            bound: Some(bound.parse().unwrap()),
            allowed_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            token_configured: false,
        }
    }

    #[test]
    fn host_parts_are_read_like_browsers_send_them() {
        assert_eq!(host_part("127.0.0.1:7600").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_part("[::1]:7600").as_deref(), Some("::1"));
        assert_eq!(host_part("[::1]").as_deref(), Some("::1"));
        assert_eq!(host_part("LocalHost.").as_deref(), Some("localhost"));
        assert_eq!(
            host_part("evil.example:80").as_deref(),
            Some("evil.example")
        );
        assert_eq!(host_part("a:b"), None);
        assert_eq!(host_part("[::1"), None);
        assert_eq!(host_part(""), None);
    }

    #[test]
    fn only_loopback_bound_and_allowed_hosts_are_answered() {
        let local = edge("127.0.0.1:7600", &["andon.example.com"]);
        for ok in [
            "localhost",
            "127.0.0.1",
            "::1",
            "127.0.0.9",
            "andon.example.com",
        ] {
            assert!(host_allowed(&local, ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "10.0.0.5",
            "andon.example.com.evil",
            "localhost.evil",
        ] {
            assert!(!host_allowed(&local, bad), "{bad}");
        }
        let wide = edge("0.0.0.0:7600", &[]);
        assert!(host_allowed(&wide, "10.0.0.5"));
        assert!(!host_allowed(&wide, "rebound.example"));
        let one = edge("10.0.0.5:7600", &[]);
        assert!(host_allowed(&one, "10.0.0.5") && !host_allowed(&one, "10.0.0.6"));
    }

    #[test]
    fn a_request_without_host_is_refused() {
        let local = edge("127.0.0.1:7600", &[]);
        let bare = Request::builder()
            .uri("/v1/line")
            .body(axum::body::Body::empty())
            .unwrap();
        let err = check_host(&local, &bare).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.message.contains("no Host header"), "{err:?}");
        let named = Request::builder()
            .uri("/v1/line")
            .header(header::HOST, "127.0.0.1:7600")
            .body(axum::body::Body::empty())
            .unwrap();
        assert!(check_host(&local, &named).is_ok());
        let absolute = Request::builder()
            .uri("http://localhost:7600/v1/line")
            .body(axum::body::Body::empty())
            .unwrap();
        assert!(check_host(&local, &absolute).is_ok());
    }

    #[test]
    fn writes_need_json_and_their_own_origin() {
        let local = edge("127.0.0.1:7600", &[]);
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            map.insert(header::HOST, HeaderValue::from_static("127.0.0.1:7600"));
            for (k, v) in pairs {
                map.insert(*k, HeaderValue::from_static(v));
            }
            map
        };
        let json = ("content-type", "application/json; charset=utf-8");
        assert!(check_write(&local, &headers(&[json])).is_ok());
        assert!(
            check_write(
                &local,
                &headers(&[
                    json,
                    ("origin", "http://127.0.0.1:7600"),
                    ("sec-fetch-site", "same-origin")
                ])
            )
            .is_ok()
        );
        for refused in [
            headers(&[("content-type", "text/plain")]),
            headers(&[]),
            headers(&[json, ("origin", "https://evil.example")]),
            headers(&[json, ("origin", "null")]),
            headers(&[json, ("origin", "http://127.0.0.1:8080")]),
            headers(&[json, ("sec-fetch-site", "cross-site")]),
            headers(&[json, ("sec-fetch-site", "same-site")]),
            headers(&[json, ("x-forwarded-for", "203.0.113.9")]),
            headers(&[json, ("forwarded", "for=203.0.113.9")]),
        ] {
            let err = check_write(&local, &refused).unwrap_err();
            assert_eq!(err.status, StatusCode::FORBIDDEN, "{refused:?}");
        }
        let with_token = Edge {
            token_configured: true,
            ..local
        };
        assert!(
            check_write(
                &with_token,
                &headers(&[json, ("x-forwarded-for", "203.0.113.9")])
            )
            .is_ok()
        );
    }
}
