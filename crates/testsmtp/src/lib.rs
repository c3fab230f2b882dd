//! mailcert-testsmtp: a loopback SMTP server for tests.
