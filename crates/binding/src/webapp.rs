//! Web application URLs, normalised so that one application has one spelling.

use crate::rules::Rule;
use std::fmt;

use crate::error::{Error, Field, Result};

/// A normalised web application URL: lower-case scheme and host, default port dropped,
/// no trailing slash, no query or fragment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WebAppUrl(String);

impl WebAppUrl {
    /// Parses and normalises; only http and https URLs with a host are web applications.
    pub fn parse(input: &str) -> Result<WebAppUrl> {
        let bad =
            |why: String| Error::one(Field::Url, Rule::Url.name(), format!("'{input}' {why}"));
        let u = url::Url::parse(input.trim()).map_err(|e| match e {
            url::ParseError::RelativeUrlWithoutBase => bad(format!(
                "is not a URL: a web application's URL starts with https:// or http://, such as https://{}",
                input.trim().trim_start_matches('/')
            )),
            other => bad(format!("is not a URL ({other}); give one such as https://intranet.contoso.com")),
        })?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(bad("is not an http or https URL".into()));
        }
        let host = u.host_str().ok_or_else(|| bad("has no host".into()))?;
        if !u.username().is_empty() || u.password().is_some() {
            return Err(bad("must not carry a user name or password".into()));
        }
        if u.query().is_some() || u.fragment().is_some() {
            return Err(bad("must not carry a query or fragment".into()));
        }
        // `url` already lower-cases scheme and host and drops the default port.
        let mut s = format!("{}://{}", u.scheme(), host);
        if let Some(p) = u.port() {
            s.push_str(&format!(":{p}"));
        }
        let path = u.path().trim_end_matches('/');
        s.push_str(path);
        Ok(WebAppUrl(s))
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WebAppUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        for (i, o) in [
            (
                "HTTPS://Intranet.Contoso.COM/",
                "https://intranet.contoso.com",
            ),
            (
                "https://intranet.contoso.com:443",
                "https://intranet.contoso.com",
            ),
            ("http://intranet:80/sites/hr/", "http://intranet/sites/hr"),
            ("http://intranet:8080", "http://intranet:8080"),
            ("https://[::1]:8443/", "https://[::1]:8443"),
        ] {
            assert_eq!(WebAppUrl::parse(i).unwrap().as_str(), o, "{i}");
        }
        for bad in [
            "intranet",
            "ftp://x",
            "https://",
            "https://u:p@x/",
            "https://x/?q=1",
        ] {
            assert!(WebAppUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
