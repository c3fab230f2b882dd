//! The hook behind the settings page's "Test connection" and "Send a test e-mail"
//! buttons. Central Administration does not talk SMTP itself: whoever starts it (the
//! CLI) plugs in an implementation built on mailcert-sender.

use mailcert_binding::Target;
use mailcert_store::Farm;

/// A test that failed part-way: the steps that were done, then what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestFailure {
    /// The steps completed before the failure, one line each.
    pub steps: Vec<String>,
    /// What failed, in words a person can act on (never a secret).
    pub error: String,
}

impl TestFailure {
    /// A failure with no completed steps.
    pub fn new(error: impl Into<String>) -> TestFailure {
        TestFailure {
            steps: Vec::new(),
            error: error.into(),
        }
    }
}

/// Runs connection tests and test messages for the settings page. Both methods are
/// called on a blocking thread with the farm open, and return the step-by-step report
/// lines (connected, greeting, STARTTLS, TLS version, server certificate, client
/// certificate sent, EHLO extensions, AUTH, delivery reply …). No line may carry a
/// secret.
pub trait MailTester: Send + Sync + 'static {
    /// Connects with the effective settings of `target`: TLS with the bound client
    /// certificate, EHLO, AUTH when credentials are set, QUIT; sends no mail
    /// (`mailcert smtp test`).
    fn test_connection(
        &self,
        farm: &mut Farm,
        target: &Target,
        now: i64,
    ) -> Result<Vec<String>, TestFailure>;

    /// Sends a short test message to `to` with the effective settings of `target`.
    fn send_test(
        &self,
        farm: &mut Farm,
        target: &Target,
        to: &str,
        now: i64,
    ) -> Result<Vec<String>, TestFailure>;
}

/// The real tester: mailcert-sender with the target's effective settings, exactly as
/// `mailcert smtp test` and `mailcert send` do.
#[derive(Debug, Clone, Copy, Default)]
pub struct SenderTester {
    /// Seconds to wait for the server at each step.
    pub timeout_secs: u64,
}

impl SenderTester {
    fn run(
        &self,
        farm: &mut Farm,
        target: &Target,
        to: Option<&str>,
        now: i64,
    ) -> Result<Vec<String>, TestFailure> {
        let plan = mailcert_binding::plan(farm, target, now)
            .map_err(|e| TestFailure::new(e.to_string()))?;
        let timeout = std::time::Duration::from_secs(self.timeout_secs.clamp(1, 120));
        let options = mailcert_sender::connect_options(&plan, timeout)
            .map_err(|e| TestFailure::new(format!("the bound certificate cannot be used: {e}")))?;
        let message = match to {
            Some(to) => Some(
                mailcert_sender::compose(
                    &plan.effective.settings,
                    &options.helo,
                    &[to.to_string()],
                    "mailcert test message",
                    "This is a test message sent from mailcert Central Administration\nwith the outgoing e-mail settings and client certificate of this page.\n",
                )
                .map_err(|e| TestFailure::new(e.to_string()))?,
            ),
            None => None,
        };
        mailcert_sender::probe(&plan, &options, message.as_ref()).map_err(|(steps, e)| {
            TestFailure {
                steps,
                error: format!(
                    "{}: failed at {}: {e}",
                    endpoint(&options.host, options.port),
                    e.step()
                ),
            }
        })
    }
}

/// `host:port` as the CLI names a relay in its errors (`relay.example:587`); an IPv6
/// address is bracketed (`[::1]:25`).
fn endpoint(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl MailTester for SenderTester {
    fn test_connection(
        &self,
        farm: &mut Farm,
        target: &Target,
        now: i64,
    ) -> Result<Vec<String>, TestFailure> {
        self.run(farm, target, None, now)
    }

    fn send_test(
        &self,
        farm: &mut Farm,
        target: &Target,
        to: &str,
        now: i64,
    ) -> Result<Vec<String>, TestFailure> {
        self.run(farm, target, Some(to), now)
    }
}

#[cfg(test)]
mod tests {
    use super::endpoint;

    #[test]
    fn endpoints_name_host_and_port() {
        assert_eq!(endpoint("relay.example", 587), "relay.example:587");
        assert_eq!(endpoint("::1", 25), "[::1]:25");
        assert_eq!(endpoint("[::1]", 25), "[::1]:25");
    }
}
