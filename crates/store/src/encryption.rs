//! How the connection to the relay is protected: the settings' `encryption` column,
//! typed, so a value the farm database holds is one of three or an error, never a guess.

use std::fmt;
use std::str::FromStr;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

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

impl ToSql for Encryption {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Encryption {
    /// Only the contract's spellings are read back; anything else in the column is a
    /// damaged database, reported as such.
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value.as_str()? {
            "starttls" => Ok(Encryption::StartTls),
            "tls" => Ok(Encryption::Tls),
            "none" => Ok(Encryption::None),
            other => Err(FromSqlError::Other(
                format!("'{other}' is not an encryption (starttls, tls or none)").into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_round_trip_and_refusal() {
        let db = rusqlite::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        for e in [Encryption::StartTls, Encryption::Tls, Encryption::None] {
            let back: Encryption = db
                .query_row("SELECT ?1", [e], |r| r.get(0))
                .unwrap_or_else(|err| panic!("{err}"));
            assert_eq!(back, e);
            assert_eq!(e.as_str().parse::<Encryption>(), Ok(e));
        }
        let bad: rusqlite::Result<Encryption> =
            db.query_row("SELECT 'STARTTLS '", [], |r| r.get(0));
        assert!(bad.is_err());
        assert_eq!("smtps".parse::<Encryption>(), Ok(Encryption::Tls));
        assert!("ssl3".parse::<Encryption>().is_err());
    }
}
