//! What a session learnt while connecting: greeting, TLS parameters, the server's
//! certificate, whether a client certificate was requested and sent, extensions.

use rustls::ClientConnection;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

use crate::client_cert::RecordingResolver;

/// The handshake as seen by the client, for `smtp test` and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandshakeReport {
    /// The server's greeting, e.g. `220 mx.example.org ESMTP Postfix`.
    pub greeting: String,
    /// The TLS version, e.g. `TLSv1.3`; `None` without TLS.
    pub tls_version: Option<String>,
    /// The cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`; `None` without TLS.
    pub cipher_suite: Option<String>,
    /// The server's leaf certificate; `None` without TLS.
    pub server_certificate: Option<CertificateSummary>,
    /// Whether the server sent a CertificateRequest.
    pub client_cert_requested: bool,
    /// The CA names the server hinted at in its request (RFC 4514-style text).
    pub client_cert_hints: Vec<String>,
    /// The signature schemes the server accepts for the client's CertificateVerify.
    pub client_cert_sig_schemes: Vec<String>,
    /// SHA-1 thumbprint (upper-case hex) of the leaf we sent, if we sent one.
    pub client_cert_sent: Option<String>,
    /// The extensions of the last EHLO reply (after TLS when TLS is used), e.g.
    /// `PIPELINING`, `SIZE 10485760`, `AUTH PLAIN LOGIN`.
    pub extensions: Vec<String>,
    /// The AUTH mechanism used, if credentials were given.
    pub auth_mechanism: Option<String>,
}

/// The parts of a certificate a person checks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateSummary {
    /// The subject distinguished name.
    pub subject: String,
    /// The issuer distinguished name.
    pub issuer: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
    /// SHA-1 thumbprint of the DER, upper-case hex.
    pub sha1: String,
}

impl CertificateSummary {
    /// Summarises a DER certificate; `None` when it does not parse.
    pub fn from_der(der: &[u8]) -> Option<Self> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let not_after = cert.validity().not_after.to_datetime();
        Some(CertificateSummary {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_after: not_after
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| not_after.to_string()),
            sha1: sha1_hex(der),
        })
    }
}

/// SHA-1 of `der` as upper-case hex without separators.
pub(crate) fn sha1_hex(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    digest.as_ref().iter().map(|b| format!("{b:02X}")).collect()
}

/// Fills in the TLS part of the report once the handshake has completed.
pub(crate) fn record_tls(
    report: &mut HandshakeReport,
    conn: &ClientConnection,
    resolver: &RecordingResolver,
    leaf_thumbprint: Option<&str>,
) {
    report.tls_version = conn.protocol_version().map(|v| match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        other => format!("{other:?}"),
    });
    report.cipher_suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()));
    report.server_certificate = conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|leaf| CertificateSummary::from_der(leaf.as_ref()));
    record_client_auth(report, resolver, leaf_thumbprint);
}

/// Records what the server asked of the client (also useful after a failed
/// handshake, when the request arrived but the handshake then failed).
pub(crate) fn record_client_auth(
    report: &mut HandshakeReport,
    resolver: &RecordingResolver,
    leaf_thumbprint: Option<&str>,
) {
    let Some(request) = resolver.request() else {
        return;
    };
    report.client_cert_requested = true;
    report.client_cert_hints = request
        .hints
        .iter()
        .map(|dn| match X509Name::from_der(dn) {
            Ok((_, name)) => name.to_string(),
            Err(_) => format!("<undecodable name, {} bytes>", dn.len()),
        })
        .collect();
    report.client_cert_sig_schemes = request.schemes.iter().map(|s| format!("{s:?}")).collect();
    report.client_cert_sent = request
        .sent
        .then(|| leaf_thumbprint.map(str::to_owned))
        .flatten();
}

#[cfg(test)]
mod tests {
    use super::sha1_hex;

    #[test]
    fn sha1_is_upper_hex() {
        assert_eq!(sha1_hex(b"abc"), "A9993E364706816ABA3E25717850C26C9CD0D89D");
    }
}
