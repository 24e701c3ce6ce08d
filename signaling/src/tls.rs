//! HTTPS in the binary: the certificate and key (PEM files), read at start and again on
//! [`crate::RunningServer::reload_tls`] (the binary calls it on SIGHUP), and a self-signed
//! certificate for trying the service on a LAN.
//!
//! - A reload swaps the acceptor new connections use; connections already open (WebSockets,
//!   and so calls) keep the session they negotiated. A certificate or key that cannot be read
//!   or that do not match is refused with the reason, and the one in use stays.
//! - HTTP/1.1 only (ALPN `http/1.1`): the accept loop serves HTTP/1.1 and WebSockets.
//! - rustls on *ring*, TLS 1.2 and 1.3, rustls' safe defaults.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use base64::Engine;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

/// Where the certificate chain and its private key are (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate, then any intermediates (PEM).
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The plain-HTTP side when TLS is on (`--http-redirect-listen`): every request is sent to the
/// same host and path over HTTPS on `https_port` (308, so a POST stays a POST). The port is
/// left out when it is 443.
pub(crate) fn redirect_router(https_port: u16) -> axum::Router {
    use axum::http::{HeaderMap, StatusCode, Uri, header};
    use axum::response::IntoResponse;
    axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| async move {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
        // `Host` without its port (an IPv6 literal keeps its brackets).
        let name = match host.rsplit_once(':') {
            Some((name, port)) if !port.contains(']') => name,
            _ => host,
        };
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "-._[]:".contains(c));
        if !valid {
            return (StatusCode::BAD_REQUEST, "this server is reached over HTTPS\n")
                .into_response();
        }
        let port = if https_port == 443 { String::new() } else { format!(":{https_port}") };
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let location = format!("https://{name}{port}{path}");
        (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, location)], "").into_response()
    })
}

/// `Strict-Transport-Security` on every answer when TLS is on: a year, this host only (the
/// city's other sites on subdomains may not be HTTPS yet). Browsers ignore it for IP addresses
/// and for certificates they do not trust, so a self-signed LAN trial is not pinned.
pub(crate) async fn hsts(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        axum::http::header::STRICT_TRANSPORT_SECURITY,
        axum::http::HeaderValue::from_static("max-age=31536000"),
    );
    response
}

/// What identifies a certificate to a person or a browser flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// SHA-256 of the leaf certificate (DER), as colon-separated upper-case hex — what browsers
    /// show as the certificate's fingerprint.
    pub sha256_fingerprint: String,
    /// base64(SHA-256(SubjectPublicKeyInfo)) of the leaf — the pin Chromium's
    /// `--ignore-certificate-errors-spki-list` takes.
    pub spki_sha256_base64: String,
}

/// The acceptor in use and the files it came from.
pub(crate) struct TlsState {
    files: TlsFiles,
    current: RwLock<(TlsAcceptor, CertInfo)>,
}

impl TlsState {
    /// Reads the files; an error names the file and what is wrong with it.
    pub(crate) fn load(files: TlsFiles) -> io::Result<Self> {
        let loaded = load(&files)?;
        Ok(Self { files, current: RwLock::new(loaded) })
    }

    /// Reads the files again and, when they are good, serves new connections with them.
    pub(crate) fn reload(&self) -> io::Result<CertInfo> {
        let (acceptor, info) = load(&self.files)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = (acceptor, info.clone());
        Ok(info)
    }

    /// The acceptor for the next connection.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        self.current.read().unwrap_or_else(|e| e.into_inner()).0.clone()
    }

    /// The certificate in use.
    pub(crate) fn info(&self) -> CertInfo {
        self.current.read().unwrap_or_else(|e| e.into_inner()).1.clone()
    }
}

fn invalid(path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{}: {what}", path.display()))
}

fn load(files: &TlsFiles) -> io::Result<(TlsAcceptor, CertInfo)> {
    let read = |path: &Path| {
        std::fs::read(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
    };
    let cert_pem = read(&files.cert)?;
    let key_pem = read(&files.key)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&files.cert, format!("not a PEM certificate chain ({e})")))?;
    let Some(leaf) = chain.first() else {
        return Err(invalid(&files.cert, "no certificate in the file"));
    };
    let info = cert_info(leaf)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| invalid(&files.key, format!("not a PEM private key ({e})")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| invalid(&files.key, format!("does not go with the certificate ({e})")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(config)), info))
}

/// The fingerprints of a certificate (DER).
pub fn cert_info(der: &[u8]) -> io::Result<CertInfo> {
    let fingerprint =
        Sha256::digest(der).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":");
    let spki = spki_of(der).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, "the certificate's public key cannot be read")
    })?;
    Ok(CertInfo {
        sha256_fingerprint: fingerprint,
        spki_sha256_base64: base64::engine::general_purpose::STANDARD.encode(Sha256::digest(spki)),
    })
}

/// The SubjectPublicKeyInfo of an X.509 certificate (DER), found by walking the TBS fields:
/// `[0] version` (optional), serial, signature algorithm, issuer, validity, subject, SPKI.
fn spki_of(der: &[u8]) -> Option<&[u8]> {
    let (cert, _) = der_element(der)?;
    let (tbs, _) = der_element(content(cert)?)?;
    let mut rest = content(tbs)?;
    if rest.first() == Some(&0xA0) {
        rest = der_element(rest)?.1;
    }
    for _ in 0..5 {
        rest = der_element(rest)?.1;
    }
    Some(der_element(rest)?.0)
}

/// One DER element at the start of `input` (tag, length, content) and what follows it.
fn der_element(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let len_byte = *input.get(1)?;
    let (len, header) = if len_byte < 0x80 {
        (len_byte as usize, 2)
    } else {
        let n = (len_byte & 0x7F) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let len = input.get(2..2 + n)?.iter().fold(0usize, |acc, b| acc << 8 | *b as usize);
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((input.get(..end)?, input.get(end..)?))
}

/// The content of one DER element (after its tag and length).
fn content(element: &[u8]) -> Option<&[u8]> {
    let len_byte = *element.get(1)?;
    let header = if len_byte < 0x80 { 2 } else { 2 + (len_byte & 0x7F) as usize };
    element.get(header..)
}

/// A certificate and key made for `names` (DNS names or IP addresses), valid for a year.
pub struct SelfSigned {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// Its private key (PEM, PKCS#8).
    pub key_pem: String,
    /// Its fingerprints.
    pub info: CertInfo,
}

/// Makes a self-signed certificate for `names` (for a LAN trial; browsers warn about it).
pub fn self_signed(names: &[String]) -> io::Result<SelfSigned> {
    if names.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a self-signed certificate needs at least one name (e.g. 192.168.1.20 or hall.lan)",
        ));
    }
    let made = rcgen::generate_simple_self_signed(names.to_vec()).map_err(|e| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("cannot make a certificate: {e}"))
    })?;
    Ok(SelfSigned {
        info: cert_info(made.cert.der())?,
        cert_pem: made.cert.pem(),
        key_pem: made.signing_key.serialize_pem(),
    })
}

/// The self-signed certificate for `names` kept in `dir` (`cert.pem`, `key.pem`, `names`):
/// reused while the names are the same, so a browser's exception survives restarts; made anew
/// otherwise. Returns the files and whether they were made now.
pub fn self_signed_in(dir: &Path, names: &[String]) -> io::Result<(TlsFiles, bool)> {
    let files = TlsFiles { cert: dir.join("cert.pem"), key: dir.join("key.pem") };
    let names_file = dir.join("names");
    let wanted = names.join(",");
    let same = std::fs::read_to_string(&names_file).is_ok_and(|kept| kept.trim() == wanted)
        && files.cert.exists()
        && files.key.exists();
    if same && load(&files).is_ok() {
        return Ok((files, false));
    }
    let made = self_signed(names)?;
    std::fs::create_dir_all(dir)?;
    std::fs::write(&files.cert, &made.cert_pem)?;
    write_private(&files.key, made.key_pem.as_bytes())?;
    std::fs::write(&names_file, &wanted)?;
    Ok((files, true))
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("voicedesk-tls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn the_spki_pin_is_the_hash_of_the_keys_public_part() {
        use rcgen::PublicKeyData;
        let made = rcgen::generate_simple_self_signed(vec!["hall.lan".to_owned()]).unwrap();
        let info = cert_info(made.cert.der()).unwrap();
        let expected = base64::engine::general_purpose::STANDARD
            .encode(Sha256::digest(made.signing_key.subject_public_key_info()));
        assert_eq!(info.spki_sha256_base64, expected);
        assert_eq!(info.sha256_fingerprint.len(), 32 * 3 - 1);
    }

    #[test]
    fn bad_files_are_refused_with_the_reason_and_the_old_certificate_stays() {
        let dir = temp_dir("bad");
        let (files, made) = self_signed_in(&dir, &["127.0.0.1".to_owned()]).unwrap();
        assert!(made);
        let state = TlsState::load(files.clone()).unwrap();
        let before = state.info();

        // A key of another certificate.
        let other = self_signed(&["127.0.0.1".to_owned()]).unwrap();
        std::fs::write(&files.key, &other.key_pem).unwrap();
        let error = state.reload().unwrap_err().to_string();
        assert!(error.contains("does not go with the certificate"), "{error}");
        assert_eq!(state.info(), before);

        std::fs::write(&files.cert, "not a certificate").unwrap();
        let error = state.reload().unwrap_err().to_string();
        assert!(error.contains("no certificate"), "{error}");

        // Both replaced together: the new one is served.
        std::fs::write(&files.cert, &other.cert_pem).unwrap();
        assert_eq!(state.reload().unwrap(), other.info);
        assert_eq!(state.info(), other.info);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_kept_self_signed_certificate_is_reused_for_the_same_names_only() {
        let dir = temp_dir("kept");
        let names = vec!["hall.lan".to_owned(), "192.168.1.20".to_owned()];
        let (files, made) = self_signed_in(&dir, &names).unwrap();
        assert!(made);
        let first = std::fs::read(&files.cert).unwrap();
        let (_, made) = self_signed_in(&dir, &names).unwrap();
        assert!(!made);
        assert_eq!(std::fs::read(&files.cert).unwrap(), first);
        let (_, made) = self_signed_in(&dir, &names[..1]).unwrap();
        assert!(made);
        assert_ne!(std::fs::read(&files.cert).unwrap(), first);
        assert!(self_signed(&[]).is_err());
        assert!(self_signed(&["名字".to_owned()]).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
