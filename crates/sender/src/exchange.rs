//! What the well-known Exchange Online (Microsoft 365) refusals mean, for operators who
//! send through a certificate-based inbound connector: the step, the reply as the server
//! said it (kept by the caller), and what to change.

use crate::error::SendError;
use crate::reply::Reply;

/// One known reply: how to recognise it and what to do about it.
struct Known {
    /// Enhanced status codes it carries (any of them).
    codes: &'static [&'static str],
    /// Words that must also appear in the reply (any of them), lower case; empty: any.
    words: &'static [&'static str],
    /// What it means and what to change.
    advice: &'static str,
}

const KNOWN: &[Known] = &[
    Known {
        codes: &["5.7.64"],
        words: &[],
        advice: "Exchange Online did not attribute the mail to your tenant (TenantAttribution): the inbound connector matched neither the certificate nor the sending IP. The certificate's DNS name (SAN, or CN without one) must equal the connector's TlsSenderCertificateName and be an accepted domain: check with `mailcert cert check REF --tls-sender-name NAME`, and store NAME with `smtp set --tls-sender-name`.",
    },
    Known {
        codes: &["5.7.3"],
        words: &["starttls", "tls"],
        advice: "Exchange Online requires TLS on this connector (and a certificate whose name it expects): use --encryption starttls, and check the certificate name with `mailcert cert check REF --tls-sender-name NAME`.",
    },
    Known {
        codes: &["5.7.3"],
        words: &[],
        advice: "Exchange Online could not authenticate the sender: with a certificate-based connector the certificate's DNS name must match the connector's TlsSenderCertificateName (`mailcert cert check REF --tls-sender-name NAME`).",
    },
    Known {
        codes: &["4.4.62", "5.4.62"],
        words: &[],
        advice: "The mail reached a Microsoft datacenter or region that does not serve your tenant: send to your tenant's own MX endpoint (TENANT.mail.protection.outlook.com), not to a shared or another region's host, and check that the connector exists in this tenant.",
    },
    Known {
        codes: &["5.7.57"],
        words: &[],
        advice: "The server wanted SMTP AUTH and the session was anonymous: smtp.office365.com (port 587) needs credentials; to send with the certificate instead, send to your tenant's MX endpoint on port 25 through a certificate-based inbound connector.",
    },
    Known {
        codes: &["5.7.139"],
        words: &[],
        advice: "Authentication was refused: SMTP AUTH (basic authentication) is disabled for the mailbox or the tenant, or the credentials are wrong. Enable SMTP AUTH for that mailbox, or send with the client certificate through a connector.",
    },
    Known {
        codes: &["5.7.1", "5.7.54"],
        words: &["relay"],
        advice: "Relay access was denied: the server did not recognise this sender as allowed to relay. For Exchange Online, the inbound connector must match the certificate's name (TlsSenderCertificateName) and the recipient or sender domain must be accepted; for other relays, the client certificate must be trusted for relaying.",
    },
];

/// The enhanced status code at the start of a reply line's text (`5.7.64` …).
fn enhanced(text: &str) -> Option<&str> {
    let first = text.split_whitespace().next()?;
    let parts: Vec<&str> = first.split('.').collect();
    (parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
    .then_some(first)
}

/// Advice for a reply Exchange Online is known to give, if it is one of them.
pub fn exchange_advice(reply: &Reply) -> Option<&'static str> {
    let lower = reply.lines.join(" ").to_ascii_lowercase();
    let codes: Vec<&str> = reply.lines.iter().filter_map(|l| enhanced(l)).collect();
    KNOWN
        .iter()
        .find(|k| {
            k.codes.iter().any(|c| codes.contains(c))
                && (k.words.is_empty() || k.words.iter().any(|w| lower.contains(w)))
        })
        .map(|k| k.advice)
}

/// Advice for a failed send: the step and what to change, when the server's reply is a
/// known Exchange Online refusal. The reply itself is in the error's own message.
pub fn advice_for(err: &SendError) -> Option<String> {
    let reply = match err {
        SendError::AllRecipientsRefused { replies } => replies.first().map(|r| &r.reply),
        other => other.reply(),
    }?;
    exchange_advice(reply).map(|a| format!("at step {}: {a}", err.step()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16, text: &str) -> Reply {
        Reply {
            code,
            lines: vec![text.to_string()],
        }
    }

    #[test]
    fn known_replies_get_their_advice_and_others_none() {
        let cases = [
            (
                550,
                "5.7.64 TenantAttribution; Relay Access Denied [SN1NAM02FT0000.eop-nam02.prod.protection.outlook.com]",
                "TenantAttribution",
            ),
            (
                451,
                "5.7.3 STARTTLS is required to send mail [BN8NAM11FT011.eop-nam11.prod.protection.outlook.com]",
                "requires TLS",
            ),
            (
                451,
                "5.7.3 Cannot achieve Exchange Server authentication",
                "could not authenticate",
            ),
            (
                451,
                "4.4.62 Mail sent to the wrong Office 365 region. ATTR35",
                "region",
            ),
            (
                550,
                "5.4.62 Mail sent to the wrong Office 365 region",
                "region",
            ),
            (
                530,
                "5.7.57 Client not authenticated to send mail. [x]",
                "SMTP AUTH",
            ),
            (
                535,
                "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.",
                "disabled",
            ),
            (550, "5.7.1 Unable to relay", "Relay access was denied"),
        ];
        for (code, text, needle) in cases {
            let a = exchange_advice(&reply(code, text)).unwrap_or_default();
            assert!(a.contains(needle), "{text}: {a}");
        }
        assert!(exchange_advice(&reply(550, "5.1.1 User unknown")).is_none());
        assert!(exchange_advice(&reply(421, "4.7.0 Try again later")).is_none());
    }
}
