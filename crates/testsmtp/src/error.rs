//! Errors from configuring and starting the test server.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the test server could not be configured or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// A thread could not be started.
    #[error("cannot start a server thread: {0}")]
    Thread(std::io::Error),
    /// A TLS mode was chosen without a server certificate and key.
    #[error("mode {mode} needs a server certificate chain and key")]
    MissingServerCertificate {
        /// The mode that needs them.
        mode: &'static str,
    },
    /// rustls refused the server certificate, key or protocol versions.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built (no roots, say).
    #[error("client certificate verifier: {0}")]
    ClientVerifier(String),
    /// A PEM file could not be read or holds nothing usable.
    #[error("{}: {reason}", path.display())]
    Pem {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}
