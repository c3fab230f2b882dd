//! mailcert-sender: SMTP delivery presenting a client certificate chain.
