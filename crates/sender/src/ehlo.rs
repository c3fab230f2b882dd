//! The extensions a server announces in its EHLO reply.

use crate::reply::Reply;

/// The EHLO keywords with their parameters, as announced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Extensions {
    /// Each line after the first: keyword (upper-cased) and the rest.
    entries: Vec<(String, String)>,
}

impl Extensions {
    /// Reads the extension lines of an EHLO reply (the first line is the greeting).
    pub(crate) fn from_reply(reply: &Reply) -> Self {
        let entries = reply
            .lines
            .iter()
            .skip(1)
            .filter_map(|line| {
                let line = line.trim();
                let (keyword, params) = line.split_once([' ', '=']).unwrap_or((line, ""));
                (!keyword.is_empty())
                    .then(|| (keyword.to_ascii_uppercase(), params.trim().to_owned()))
            })
            .collect();
        Extensions { entries }
    }

    /// Whether `keyword` was announced.
    pub(crate) fn has(&self, keyword: &str) -> bool {
        self.params(keyword).is_some()
    }

    fn params(&self, keyword: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == keyword)
            .map(|(_, p)| p.as_str())
    }

    /// The AUTH mechanisms offered (upper-cased).
    pub(crate) fn auth_mechanisms(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(k, _)| k == "AUTH")
            .flat_map(|(_, p)| p.split_whitespace().map(str::to_ascii_uppercase))
            .collect()
    }

    /// The SIZE limit, when announced with a non-zero value.
    pub(crate) fn size_limit(&self) -> Option<usize> {
        self.params("SIZE")?
            .parse()
            .ok()
            .filter(|&limit: &usize| limit > 0)
    }

    /// The announced lines, keyword and parameters, for the report.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|(k, p)| {
                if p.is_empty() {
                    k.clone()
                } else {
                    format!("{k} {p}")
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keywords_and_params() {
        let reply = Reply {
            code: 250,
            lines: [
                "mx greets you",
                "pipelining",
                "SIZE 1000",
                "AUTH PLAIN login",
                "AUTH=CRAM-MD5",
                "STARTTLS",
            ]
            .map(String::from)
            .to_vec(),
        };
        let ext = Extensions::from_reply(&reply);
        assert!(ext.has("PIPELINING"));
        assert!(ext.has("STARTTLS"));
        assert!(!ext.has("8BITMIME"));
        assert_eq!(ext.size_limit(), Some(1000));
        assert_eq!(ext.auth_mechanisms(), ["PLAIN", "LOGIN", "CRAM-MD5"]);
        assert_eq!(ext.lines()[0], "PIPELINING");
    }
}
