//! How the connection to the relay is protected: the settings' `encryption` column,
//! typed, so a value the farm database holds is one of three or an error, never a guess.

use std::fmt;
use std::str::FromStr;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encryption {
    /// Plain connection, then STARTTLS; TLS is required, never skipped.
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption (SharePoint's `-DisableSMTPEncryption`).
    None,
}

impl Encryption {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Encryption::StartTls => "starttls",
            Encryption::Tls => "tls",
            Encryption::None => "none",
        }
    }

    /// The usual port for this encryption.
    pub fn default_port(self) -> u16 {
        match self {
            Encryption::Tls => 465,
            _ => 25,
        }
    }
}

impl fmt::Display for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Encryption {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "starttls" | "yes" => Ok(Encryption::StartTls),
            "tls" | "smtps" | "implicit" => Ok(Encryption::Tls),
            "none" | "no" | "plain" => Ok(Encryption::None),
            other => Err(format!(
                "'{other}' is not an encryption: use starttls, tls or none"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for e in [Encryption::StartTls, Encryption::Tls, Encryption::None] {
            assert_eq!(e.as_str().parse::<Encryption>(), Ok(e));
        }
        assert_eq!("smtps".parse::<Encryption>(), Ok(Encryption::Tls));
        assert!("ssl3".parse::<Encryption>().is_err());
    }
}
