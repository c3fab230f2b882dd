//! mailcert-relay: the local relay that applications hand their mail to.
//!
//! Applications speak SMTP to it (or pipe to `mailcert sendmail`); each accepted
//! message is committed to a durable spool (SQLite, synced to disk before the 250 reply
//! to DATA) and then delivered upstream through a web application's (or the farm's)
//! outgoing e-mail settings, presenting the bound client certificate. Temporary failures
//! are retried with backoff; permanent ones end in a delivery status notification.
