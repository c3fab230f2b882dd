//! The RFC 5322 reader behind `sendmail -t` and `send --message` (`from_raw`): recipients
//! from the headers, and recipients and envelope sender given on the command line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailcert_binding::{Encryption, SmtpSettings};
use mailcert_sender::{RawOptions, from_raw};

fuzz_target!(|data: &[u8]| {
    let settings = SmtpSettings {
        smtp_server: "relay.example.org".into(),
        port: 25,
        encryption: Encryption::StartTls,
        from_address: Some("app@example.org".into()),
        reply_to: Some("help@example.org".into()),
        charset: "utf-8".into(),
        helo: None,
        smtp_user: None,
        has_password: false,
        certificate: None,
        tls_sender_name: None,
    };
    let modes = [
        RawOptions {
            recipients: vec![],
            recipients_from_headers: true,
            envelope_from: None,
        },
        RawOptions {
            recipients: vec!["ops@example.org".into()],
            recipients_from_headers: false,
            envelope_from: Some("cron@example.org".into()),
        },
    ];
    for opts in &modes {
        if let Err(e) = from_raw(&settings, "client.example.org", data, opts) {
            let _ = e.to_string();
        }
    }
});
