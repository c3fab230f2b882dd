//! The rustls server configuration (ring provider only) and the server side of the
//! handshake.

use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};

use crate::config::{ClientAuth, Config, Mode, TlsVersions};
use crate::error::Error;

/// Builds the rustls configuration for `config`, or `None` for a plain server.
pub(crate) fn server_config(config: &Config) -> Result<Option<Arc<ServerConfig>>, Error> {
    if config.mode == Mode::Plain {
        return Ok(None);
    }
    let key = match (&config.key, config.chain.is_empty()) {
        (Some(key), false) => key.clone_key(),
        _ => {
            return Err(Error::MissingServerCertificate {
                mode: config.mode.name(),
            });
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = match config.tls_versions {
        TlsVersions::Both => rustls::DEFAULT_VERSIONS,
        TlsVersions::Tls12Only => &[&rustls::version::TLS12],
        TlsVersions::Tls13Only => &[&rustls::version::TLS13],
    };
    let builder =
        ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(versions)?;
    let builder = match &config.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Optional(roots) | ClientAuth::Required(roots) => {
            let mut store = RootCertStore::empty();
            let (added, _ignored) = store.add_parsable_certificates(roots.iter().cloned());
            if added == 0 {
                return Err(Error::ClientVerifier(
                    "no usable root certificate for client authentication".to_owned(),
                ));
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider);
            let verifier = if matches!(config.client_auth, ClientAuth::Optional(_)) {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| Error::ClientVerifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let server = builder.with_single_cert(config.chain.clone(), key)?;
    Ok(Some(Arc::new(server)))
}

/// What the server learnt from a completed handshake.
pub(crate) struct Negotiated {
    pub(crate) client_chain: Vec<Vec<u8>>,
    pub(crate) version: Option<String>,
}

/// Runs the server side of the handshake to completion, so that the client's
/// certificate has been verified when this returns `Ok`.
///
/// On failure the alert has already been written; the socket is closed gracefully
/// (write side shut, then drained briefly) so that the client can read the alert
/// instead of a connection reset.
pub(crate) fn accept(
    config: Arc<ServerConfig>,
    mut tcp: TcpStream,
) -> Result<(StreamOwned<ServerConnection, TcpStream>, Negotiated), String> {
    let mut conn = match ServerConnection::new(config) {
        Ok(conn) => conn,
        Err(e) => return Err(e.to_string()),
    };
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut tcp) {
            let reason = describe(&e);
            linger_close(tcp);
            return Err(reason);
        }
    }
    let negotiated = Negotiated {
        client_chain: conn
            .peer_certificates()
            .map(|certs| certs.iter().map(|c| c.as_ref().to_vec()).collect())
            .unwrap_or_default(),
        version: conn.protocol_version().map(|v| format!("{v:?}")),
    };
    Ok((StreamOwned::new(conn, tcp), negotiated))
}

fn describe(err: &io::Error) -> String {
    match err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(tls) => tls.to_string(),
        None => err.to_string(),
    }
}

/// Half-closes the socket and reads what the peer still sends for a short while, so
/// that unread input does not turn the close into a reset that would destroy the
/// alert before the client reads it.
pub(crate) fn linger_close(mut tcp: TcpStream) {
    let _ = tcp.shutdown(Shutdown::Write);
    let _ = tcp.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 4096];
    let mut total = 0usize;
    while total < 1024 * 1024 {
        match tcp.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
}
