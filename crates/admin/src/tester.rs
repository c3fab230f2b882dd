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
