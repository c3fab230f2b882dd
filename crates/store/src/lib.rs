//! mailcert-store
