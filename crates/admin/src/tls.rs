//! HTTPS: the server certificate (from PEM files or from the farm's End Entity store)
//! and a listener that completes TLS handshakes concurrently, each with a time limit, so
//! that a slow or silent client holds up nobody else.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mailcert_store::Farm;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::error::AdminError;

/// Where the HTTPS certificate and key come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// PEM files: the certificate (then its intermediates), and the private key
    /// (PKCS#8, PKCS#1 or SEC1).
    Files {
        /// The certificate chain file.
        cert: PathBuf,
        /// The private key file.
        key: PathBuf,
    },
    /// A certificate of the farm's End Entity store with its private key, by reference
    /// (thumbprint, prefix or `name:FRIENDLY-NAME`); its issuers in the farm are sent too.
    Farm {
        /// The certificate reference.
        reference: String,
    },
}

/// Most handshakes in progress at once; further connections are closed.
const MAX_HANDSHAKES: usize = 64;

fn file_err(path: &Path, problem: impl Into<String>) -> AdminError {
    AdminError::TlsFile {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

/// The certificate chain and key, and any warnings about them.
type Identity = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    Vec<String>,
);

fn from_files(cert: &Path, key: &Path) -> Result<Identity, AdminError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_err(cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(file_err(cert, "holds no PEM certificate"));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| file_err(key, e.to_string()))?;
    Ok((chain, key_der, Vec::new()))
}

/// A certificate of the farm's End Entity store, loaded by the store's
/// `server_identity` (the same checks as the relay's STARTTLS certificate). A refusal
/// keeps this crate's wording ("TLS certificate for Central Administration: …"), and
/// the store's warnings are said to be about HTTPS.
fn from_farm(
    db_path: &mailcert_store::FarmDb,
    key_path: &Path,
    reference: &str,
    now: i64,
) -> Result<Identity, AdminError> {
    let mut farm = Farm::open(db_path, key_path)?;
    let identity = match mailcert_store::server_identity(&mut farm, reference, now) {
        Ok(i) => i,
        Err(mailcert_store::Error::Rejected {
            rule: "server-certificate",
            message,
        }) => return Err(AdminError::Tls(message)),
        Err(e) => return Err(e.into()),
    };
    let warnings = identity
        .warnings
        .iter()
        .map(|w| format!("HTTPS: {w}"))
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key.to_vec()));
    Ok((
        identity
            .chain
            .into_iter()
            .map(CertificateDer::from)
            .collect(),
        key,
        warnings,
    ))
}

/// Builds the rustls server configuration (ring, TLS 1.2 and 1.3, HTTP/1.1 by ALPN).
pub(crate) fn server_config(
    source: &TlsSource,
    db_path: &mailcert_store::FarmDb,
    key_path: &Path,
    now: i64,
) -> Result<(Arc<ServerConfig>, Vec<String>), AdminError> {
    let (chain, key, warnings) = match source {
        TlsSource::Files { cert, key } => from_files(cert, key)?,
        TlsSource::Farm { reference } => from_farm(db_path, key_path, reference, now)?,
    };
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| AdminError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| AdminError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), warnings))
}

/// Accepts TCP connections and hands over those whose TLS handshake completed.
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor_task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor_task.abort();
    }
}

impl TlsListener {
    /// Starts accepting on `tcp`; a client that has not completed its handshake within
    /// `handshake_timeout` is disconnected.
    pub(crate) fn new(
        tcp: TcpListener,
        config: Arc<ServerConfig>,
        handshake_timeout: Duration,
    ) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(MAX_HANDSHAKES);
        let acceptor = TlsAcceptor::from(config);
        let permits = Arc::new(Semaphore::new(MAX_HANDSHAKES));
        let acceptor_task = tokio::spawn(async move {
            loop {
                if tx.is_closed() {
                    return;
                }
                let (stream, peer) = match tcp.accept().await {
                    Ok(x) => x,
                    Err(_) => {
                        // Out of file descriptors and the like: wait, then go on.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    drop(stream);
                    continue;
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await
                    {
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        Ok(TlsListener {
            ready,
            local,
            acceptor_task,
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The acceptor stopped: nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
