//! The SMTP side facing applications: the connection and the session dialogue.

mod conn;
pub(crate) mod session;
