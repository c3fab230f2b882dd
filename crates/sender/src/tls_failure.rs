//! Turning rustls errors into [`SendError`]s with plain words: whose certificate was
//! refused, and why.

use std::io;

use rustls::{AlertDescription, CertificateError};
use rustls_pki_types::UnixTime;

use crate::client_cert::RecordingResolver;
use crate::error::SendError;

/// The rustls error inside an I/O error from a TLS stream, if there is one.
pub(crate) fn rustls_error(err: &io::Error) -> Option<&rustls::Error> {
    err.get_ref()?.downcast_ref::<rustls::Error>()
}

/// Classifies a TLS failure, using what the client-certificate resolver saw to tell
/// a rejected certificate from a missing one.
pub(crate) fn classify(err: &rustls::Error, resolver: &RecordingResolver) -> SendError {
    match err {
        rustls::Error::InvalidCertificate(cert_error) => SendError::ServerCertificate {
            reason: describe_certificate_error(cert_error),
        },
        rustls::Error::AlertReceived(alert) => classify_alert(*alert, resolver),
        rustls::Error::NoCertificatesPresented => SendError::ServerCertificate {
            reason: "the server presented no certificate".to_owned(),
        },
        other => SendError::Tls {
            reason: other.to_string(),
        },
    }
}

fn classify_alert(alert: AlertDescription, resolver: &RecordingResolver) -> SendError {
    let request = resolver.request();
    let requested = request.is_some();
    let sent = request.is_some_and(|r| r.sent);
    let about_client_cert = matches!(
        alert,
        AlertDescription::BadCertificate
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateRequired
            | AlertDescription::AccessDenied
            | AlertDescription::DecryptError
    );
    let name = alert_name(alert);
    if sent && about_client_cert {
        SendError::ClientCertificateRejected { alert: name }
    } else if requested
        && !sent
        && (about_client_cert || alert == AlertDescription::HandshakeFailure)
    {
        // OpenSSL answers a missing certificate with handshake_failure under TLS 1.2
        // and certificate_required under TLS 1.3.
        SendError::ClientCertificateRequiredButNone { alert: name }
    } else {
        SendError::Tls {
            reason: format!("the server sent the fatal alert {name}"),
        }
    }
}

/// The alert's name as the TLS RFCs spell it (`unknown_ca`, `bad_certificate`).
pub(crate) fn alert_name(alert: AlertDescription) -> String {
    let name = match alert {
        AlertDescription::CloseNotify => "close_notify",
        AlertDescription::UnexpectedMessage => "unexpected_message",
        AlertDescription::BadRecordMac => "bad_record_mac",
        AlertDescription::HandshakeFailure => "handshake_failure",
        AlertDescription::BadCertificate => "bad_certificate",
        AlertDescription::UnsupportedCertificate => "unsupported_certificate",
        AlertDescription::CertificateRevoked => "certificate_revoked",
        AlertDescription::CertificateExpired => "certificate_expired",
        AlertDescription::CertificateUnknown => "certificate_unknown",
        AlertDescription::IllegalParameter => "illegal_parameter",
        AlertDescription::UnknownCA => "unknown_ca",
        AlertDescription::AccessDenied => "access_denied",
        AlertDescription::DecodeError => "decode_error",
        AlertDescription::DecryptError => "decrypt_error",
        AlertDescription::ProtocolVersion => "protocol_version",
        AlertDescription::InsufficientSecurity => "insufficient_security",
        AlertDescription::InternalError => "internal_error",
        AlertDescription::CertificateRequired => "certificate_required",
        other => return format!("{other:?}"),
    };
    name.to_owned()
}

/// A rustls certificate error in words an operator can act on.
pub(crate) fn describe_certificate_error(error: &CertificateError) -> String {
    match error {
        CertificateError::UnknownIssuer => {
            "untrusted issuer: the chain does not lead to a trusted root (import the relay's root CA into the root store)".to_owned()
        }
        CertificateError::NotValidForName => {
            "wrong name: the certificate is not valid for the host name connected to".to_owned()
        }
        CertificateError::NotValidForNameContext { expected, presented } => format!(
            "wrong name: the certificate is not valid for {} (it names {})",
            expected.to_str(),
            if presented.is_empty() {
                "nothing".to_owned()
            } else {
                presented.join(", ")
            }
        ),
        CertificateError::Expired => "expired".to_owned(),
        CertificateError::ExpiredContext { not_after, .. } => {
            format!("expired (notAfter {})", rfc3339(*not_after))
        }
        CertificateError::NotValidYet => "not yet valid".to_owned(),
        CertificateError::NotValidYetContext { not_before, .. } => {
            format!("not yet valid (notBefore {})", rfc3339(*not_before))
        }
        CertificateError::Revoked => "revoked".to_owned(),
        CertificateError::BadSignature => {
            "bad signature: a certificate in the chain is not signed by its issuer".to_owned()
        }
        CertificateError::BadEncoding => "malformed certificate".to_owned(),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "wrong purpose: the certificate is not issued for TLS server authentication".to_owned()
        }
        CertificateError::UnhandledCriticalExtension => {
            "the certificate has a critical extension that cannot be processed".to_owned()
        }
        CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "the certificate is signed with an unsupported algorithm".to_owned()
        }
        other => other.to_string(),
    }
}

fn rfc3339(time: UnixTime) -> String {
    let secs = i64::try_from(time.as_secs()).unwrap_or(i64::MAX);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{secs} s after the epoch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_map_to_who_was_refused() {
        let none = RecordingResolver::new(None);
        assert!(matches!(
            classify(
                &rustls::Error::AlertReceived(AlertDescription::UnknownCA),
                &none
            ),
            SendError::Tls { .. }
        ));
        assert_eq!(alert_name(AlertDescription::UnknownCA), "unknown_ca");
    }

    #[test]
    fn certificate_errors_read_plainly() {
        assert!(
            describe_certificate_error(&CertificateError::UnknownIssuer)
                .starts_with("untrusted issuer")
        );
        assert!(
            describe_certificate_error(&CertificateError::ExpiredContext {
                time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000)),
                not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                    1_609_459_200
                )),
            })
            .contains("2021-01-01T00:00:00Z")
        );
    }
}
