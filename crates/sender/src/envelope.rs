//! The SMTP envelope and the outcome of one delivery.

use crate::error::SendError;
use crate::reply::{RecipientReply, Reply};

/// The longest envelope address accepted (RFC 5321 allows 256 octets for a path).
const MAX_ADDRESS_LEN: usize = 256;

/// Who the message is from and to, as given to MAIL FROM and RCPT TO (independent of
/// the message's own headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse path; empty for the null sender `<>`.
    pub from: String,
    /// The forward paths, at least one.
    pub to: Vec<String>,
}

impl Envelope {
    /// An envelope from `from` to each of `to`.
    pub fn new(from: impl Into<String>, to: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Envelope {
            from: from.into(),
            to: to.into_iter().map(Into::into).collect(),
        }
    }

    /// Rejects addresses that cannot go into an SMTP command unchanged.
    pub(crate) fn validate(&self) -> Result<(), SendError> {
        check_address("mail", &self.from, true)?;
        if self.to.is_empty() {
            return Err(SendError::NoRecipients);
        }
        for to in &self.to {
            check_address("rcpt", to, false)?;
        }
        Ok(())
    }
}

fn check_address(step: &'static str, address: &str, may_be_empty: bool) -> Result<(), SendError> {
    let bad = (address.is_empty() && !may_be_empty)
        || address.len() > MAX_ADDRESS_LEN
        || address
            .chars()
            .any(|c| c.is_control() || c == '<' || c == '>' || c == ' ');
    if bad {
        return Err(SendError::InvalidAddress {
            step,
            address: address.to_owned(),
        });
    }
    Ok(())
}

/// A message the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The recipients the server accepted.
    pub accepted: Vec<RecipientReply>,
    /// The recipients the server refused (the message went to the others).
    pub refused: Vec<RecipientReply>,
    /// The final reply after the message data, usually naming the queue id.
    pub reply: Reply,
}

impl Delivery {
    /// The queue id from a reply such as `250 2.0.0 Ok: queued as 4Xy7` (Postfix,
    /// Exim, Sendmail wordings), if the server named one.
    pub fn queue_id(&self) -> Option<&str> {
        let text = self.reply.lines.first()?;
        let lower = text.to_ascii_lowercase();
        let start = ["queued as ", "id=", "message accepted for delivery "]
            .iter()
            .find_map(|marker| lower.find(marker).map(|i| i + marker.len()))?;
        text.get(start..)?
            .split_whitespace()
            .next()
            .map(|id| id.trim_matches(|c: char| !c.is_ascii_alphanumeric()))
            .filter(|id| !id.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_with_smtp_metacharacters_are_refused() {
        let ok = Envelope::new("a@example.org", ["b@example.org"]);
        assert!(ok.validate().is_ok());
        assert!(Envelope::new("", ["b@example.org"]).validate().is_ok());
        for bad in ["b@x>\r\nRCPT TO:<c@x", "b@x> SIZE=1", "", "a b@x"] {
            let e = Envelope::new("a@example.org", [bad]).validate();
            assert!(
                matches!(e, Err(SendError::InvalidAddress { step: "rcpt", .. })),
                "{bad:?}"
            );
        }
        let none: [&str; 0] = [];
        assert!(matches!(
            Envelope::new("a@x", none).validate(),
            Err(SendError::NoRecipients)
        ));
    }

    #[test]
    fn queue_id_is_extracted() {
        let delivery = |line: &str| Delivery {
            accepted: vec![],
            refused: vec![],
            reply: Reply {
                code: 250,
                lines: vec![line.to_owned()],
            },
        };
        assert_eq!(
            delivery("2.0.0 Ok: queued as 4Xy7Zq").queue_id(),
            Some("4Xy7Zq")
        );
        assert_eq!(
            delivery("OK id=1rAbCd-000123-4X").queue_id(),
            Some("1rAbCd-000123-4X")
        );
        assert_eq!(delivery("2.0.0 Ok").queue_id(), None);
    }
}
