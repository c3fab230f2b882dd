//! mailcert-binding: web applications, their outgoing e-mail settings and the client
//! certificate bound to them, modelled on SharePoint's "Outgoing E-Mail Settings" and
//! `Set-SPWebApplication -SMTPServer … -Certificate …`.
//!
//! Settings exist at two levels, the farm and each web application; a web application
//! without its own uses the farm's. Every change passes the binding rules in
//! [`settings::validate`] and is one transaction with its audit lines.

mod error;
mod health;
mod rules;
mod service;
mod settings;
mod webapp;

pub use error::{Error, Field, Result, Violation};
pub use health::{
    HEALTH_RULES, HealthFinding, HealthReport, Severity, due_notifications, health,
    notification_text, record_notified,
};
pub use rules::{RULES, Rule, parse_port, port_from};
pub use service::{
    Effective, Saved, SendPlan, Source, Target, add_webapp, clear, clear_server, effective,
    host_name, list_webapps, plan, remove_webapp, set,
};
pub use settings::{
    CHARSETS, CertificateCheck, Credentials, Encryption, SettingsChange, SmtpSettings,
    ValidatedSmtpSettings, parse_mailbox, valid_host, validate,
};
pub use webapp::WebAppUrl;
