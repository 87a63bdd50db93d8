//! Certificates for the test PostgreSQL's TLS ([`crate::postgres::Postgres::start_tls`]): a CA
//! made for the test and a server certificate it signs for `localhost` and `127.0.0.1`, made
//! with rcgen (ring), written as PEM files; the key is mode 0600, as PostgreSQL demands.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::fail_or_panic;

/// The files of a test server's TLS.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The CA's certificate (PEM): what a client's `sslrootcert=` names.
    pub ca: PathBuf,
    /// The server's certificate (PEM), for `ssl_cert_file`.
    pub cert: PathBuf,
    /// The server's private key (PEM, mode 0600), for `ssl_key_file`.
    pub key: PathBuf,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let key = KeyPair::generate().unwrap_or_else(|e| fail_or_panic(&format!("CA key: {e}")));
    let mut params = CertificateParams::new(Vec::<String>::new())
        .unwrap_or_else(|e| fail_or_panic(&format!("CA params: {e}")));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, key)
        .unwrap_or_else(|e| fail_or_panic(&format!("CA certificate: {e}")))
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text)
        .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)))
        .unwrap_or_else(|e| fail_or_panic(&format!("cannot write {path:?}: {e}")));
}

impl ServerTls {
    /// Makes a CA and a server certificate in `dir` (created).
    pub fn write(dir: &Path) -> ServerTls {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| fail_or_panic(&format!("cannot create {dir:?}: {e}")));
        let issuer = ca("andon test CA");
        let key =
            KeyPair::generate().unwrap_or_else(|e| fail_or_panic(&format!("server key: {e}")));
        let mut params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap_or_else(|e| fail_or_panic(&format!("server params: {e}")));
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &issuer)
            .unwrap_or_else(|e| fail_or_panic(&format!("server certificate: {e}")));
        let tls = ServerTls {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.crt"),
            key: dir.join("server.key"),
        };
        write(&tls.ca, &issuer.pem(), 0o644);
        write(&tls.cert, &cert.pem(), 0o644);
        write(&tls.key, &key.serialize_pem(), 0o600);
        tls
    }
}

/// Writes the certificate of a CA that signed nothing the server holds to `path`: a wrong
/// `sslrootcert`.
pub fn write_unrelated_ca(path: &Path) {
    write(path, &ca("an unrelated CA").pem(), 0o644);
}
