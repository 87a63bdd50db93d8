//! TLS for the PostgreSQL history, chosen as libpq chooses it: by the URL's `sslmode` and
//! `sslrootcert` parameters. rustls with the ring provider does the handshake (no OpenSSL, no
//! aws-lc); the driver, which knows neither `verify-*` nor `sslrootcert`, gets the URL without
//! them and the mode it understands (`disable`, `prefer`, `require`).
//!
//! | `sslmode`         | TLS                   | certificate checked                           |
//! |-------------------|-----------------------|-----------------------------------------------|
//! | `disable`         | never                 | —                                             |
//! | `prefer` (default)| if the server has it  | no (with `sslrootcert`: chain, as `verify-ca`) |
//! | `require`         | always                | no (with `sslrootcert`: chain, as `verify-ca`) |
//! | `verify-ca`       | always                | chain to `sslrootcert`                        |
//! | `verify-full`     | always                | chain to `sslrootcert` and the host name      |
//!
//! `allow` is refused (use `prefer`); `verify-ca` and `verify-full` need `sslrootcert`, a PEM
//! file of CA certificates or `system` (the operating system's roots).

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

use crate::error::HistoryError;

/// The `sslmode` values of libpq this backend supports.
pub(crate) const SSL_MODES: [&str; 5] =
    ["disable", "prefer", "require", "verify-ca", "verify-full"];

/// How the certificate of the server is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Encryption only (`prefer`, `require` without `sslrootcert`), as libpq does.
    Nothing,
    /// The chain to the CA, not the name (`verify-ca`).
    Chain,
    /// The chain and the host name (`verify-full`).
    Full,
}

/// The TLS part of `[history] url`, and the URL the driver may parse.
pub(crate) struct UrlTls {
    /// The URL without `sslmode` and `sslrootcert`.
    pub(crate) url: String,
    /// What the driver is told.
    pub(crate) mode: SslMode,
    /// The connector every connection uses.
    pub(crate) connector: MakeRustls,
}

/// A refused `[history] url`, naming the key and the fix.
fn invalid(message: impl std::fmt::Display) -> HistoryError {
    HistoryError::Invalid(format!("history.url: {message}"))
}

/// Reads `sslmode` and `sslrootcert` out of `url` (a `postgres://` URL) and builds the
/// connector. Errors name `history.url` and never show the URL.
pub(crate) fn from_url(url: &str) -> Result<UrlTls, HistoryError> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, query),
        None => (url, ""),
    };
    let mut kept = Vec::new();
    let mut sslmode = None;
    let mut root = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => sslmode = Some(decode(value)),
            "sslrootcert" => root = Some(decode(value)),
            _ => kept.push(pair),
        }
    }
    let (mode, mut check) = match sslmode.as_deref().unwrap_or("prefer") {
        "disable" => (SslMode::Disable, Check::Nothing),
        "prefer" => (SslMode::Prefer, Check::Nothing),
        "require" => (SslMode::Require, Check::Nothing),
        "verify-ca" => (SslMode::Require, Check::Chain),
        "verify-full" => (SslMode::Require, Check::Full),
        "allow" => {
            return Err(invalid(
                "sslmode=allow is not supported: use sslmode=prefer (TLS when the server offers it) or sslmode=disable",
            ));
        }
        other => {
            return Err(invalid(format!(
                "sslmode={other} is not one of {}: use sslmode=verify-full&sslrootcert=/path/to/ca.pem for a verified connection",
                SSL_MODES.join(", ")
            )));
        }
    };
    if root.is_some() && check == Check::Nothing {
        // libpq: a root certificate given to `require` (or `prefer`) makes it `verify-ca`.
        check = Check::Chain;
    }
    let connector = match (check, root) {
        (Check::Nothing, _) => MakeRustls::new(None, check)?,
        (_, Some(root)) => MakeRustls::new(Some(roots(&root)?), check)?,
        (_, None) => {
            return Err(invalid(
                "sslmode=verify-ca and sslmode=verify-full need sslrootcert=/path/to/ca.pem (the CA that signed the server's certificate) or sslrootcert=system",
            ));
        }
    };
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok(UrlTls {
        url,
        mode,
        connector,
    })
}

/// `%XX` escapes of a URL parameter, decoded (a path with spaces, say).
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The CA certificates of `sslrootcert`: a PEM file, or `system`.
fn roots(root: &str) -> Result<RootCertStore, HistoryError> {
    let mut store = RootCertStore::empty();
    if root == "system" {
        let found = rustls_native_certs::load_native_certs();
        store.add_parsable_certificates(found.certs);
    } else {
        let path = PathBuf::from(root);
        let certs = CertificateDer::pem_file_iter(&path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                invalid(format!(
                    "sslrootcert={}: cannot read a PEM certificate ({e}): give the CA file PostgreSQL's server certificate was signed by",
                    path.display()
                ))
            })?;
        for cert in certs {
            store.add(cert).map_err(|e| {
                invalid(format!(
                    "sslrootcert={}: not a usable CA certificate ({e})",
                    path.display()
                ))
            })?;
        }
    }
    if store.is_empty() {
        return Err(invalid(format!(
            "sslrootcert={root} holds no certificate: give the CA file PostgreSQL's server certificate was signed by"
        )));
    }
    Ok(store)
}

/// `error` of a connection with what to do about a TLS failure appended: the server's
/// certificate refused, or a server without TLS for an `sslmode` that needs it.
pub(crate) fn explain(error: HistoryError) -> HistoryError {
    let HistoryError::Postgres { what, message } = error else {
        return error;
    };
    let hint = if message.contains("invalid peer certificate") {
        Some(
            "the server's TLS certificate failed verification: check that history.url's sslrootcert is the CA that signed it and, with sslmode=verify-full, that the URL's host is a name the certificate holds",
        )
    } else if message.contains("server does not support TLS") {
        Some(
            "the server does not offer TLS but history.url's sslmode requires it: turn on ssl in postgresql.conf, or use sslmode=prefer (or disable) on a trusted network",
        )
    } else {
        None
    };
    let message = match hint {
        Some(hint) => format!("{message} ({hint})"),
        None => message,
    };
    HistoryError::Postgres { what, message }
}

/// The ring provider: the one TLS provider of the workspace.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The driver's TLS connector over rustls (ring).
#[derive(Clone)]
pub(crate) struct MakeRustls {
    config: Arc<ClientConfig>,
}

impl MakeRustls {
    fn new(roots: Option<RootCertStore>, check: Check) -> Result<MakeRustls, HistoryError> {
        let provider = provider();
        let tls_error = |e: rustls::Error| invalid(format!("cannot set up TLS: {e}"));
        let verifier: Arc<dyn ServerCertVerifier> = match roots {
            Some(roots) => {
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| invalid(format!("cannot use sslrootcert: {e}")))?;
                Arc::new(Verifier {
                    webpki: Some(webpki),
                    check,
                    provider: provider.clone(),
                })
            }
            None => Arc::new(Verifier {
                webpki: None,
                check: Check::Nothing,
                provider: provider.clone(),
            }),
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(MakeRustls {
            config: Arc::new(config),
        })
    }
}

/// Checks the server's certificate as the `sslmode` asks; the handshake's signatures are
/// always checked.
#[derive(Debug)]
struct Verifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    check: Check,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.check == Check::Chain => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, io::Error> {
        let name = ServerName::try_from(domain.to_owned()).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("history.url's host {domain:?} is not a valid TLS server name: {e}"),
            )
        })?;
        Ok(RustlsConnect {
            connector: tokio_rustls::TlsConnector::from(Arc::clone(&self.config)),
            name,
        })
    }
}

/// One connection's TLS handshake.
pub(crate) struct RustlsConnect {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<RustlsStream<S>, io::Error>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let stream = self.connector.connect(self.name, stream).await?;
            Ok(RustlsStream(stream))
        })
    }
}

/// A TLS connection to the server.
pub(crate) struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S> tokio_postgres::tls::TlsStream for RustlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn channel_binding(&self) -> ChannelBinding {
        // SCRAM channel binding is not offered (it is optional in PostgreSQL's default
        // `channel_binding=prefer`); the certificate check above is what binds the server.
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_never_sees_the_tls_parameters_and_other_parameters_stay() {
        let tls =
            from_url("postgres://a:pw@h/db?sslmode=require&connect_timeout=3").expect("parsed");
        assert_eq!(tls.url, "postgres://a:pw@h/db?connect_timeout=3");
        assert_eq!(tls.mode, SslMode::Require);
        let plain = from_url("postgres://a@h/db").expect("parsed");
        assert_eq!(plain.url, "postgres://a@h/db");
        assert_eq!(plain.mode, SslMode::Prefer, "libpq's default");
    }

    #[test]
    fn unsupported_or_incomplete_modes_are_refused_naming_the_key() {
        for (url, says) in [
            ("postgres://a:pw@h/db?sslmode=allow", "sslmode=allow"),
            ("postgres://a:pw@h/db?sslmode=bogus", "verify-full"),
            ("postgres://a:pw@h/db?sslmode=verify-full", "sslrootcert"),
            (
                "postgres://a:pw@h/db?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem",
                "/nonexistent/ca.pem",
            ),
        ] {
            let error = from_url(url)
                .err()
                .unwrap_or_else(|| panic!("{url} accepted"))
                .to_string();
            assert!(error.contains("history.url"), "{error}");
            assert!(error.contains(says), "{error}");
            assert!(!error.contains("pw"), "the password leaked: {error}");
        }
    }

    #[test]
    fn escaped_paths_are_decoded() {
        assert_eq!(decode("/a%20b/ca.pem"), "/a b/ca.pem");
        assert_eq!(decode("100%"), "100%");
    }
}
