//! A private Postfix instance on 127.0.0.1 for end-to-end tests and benchmarks.
//!
//! [`Postfix::start`] writes a `main.cf`/`master.cf` into a fresh temporary directory (its
//! own `config_directory`, queue, data, log, TLS and Maildir folders), runs
//! `postfix -c DIR start` (whose own check step creates the queue folders with the right
//! owners; the harness chowns the data and Maildir folders to `postfix`) and waits until
//! both listeners answer: the STARTTLS port must greet with the instance's banner and
//! offer STARTTLS, with no TLS loading problem logged (that readiness session leaves one
//! `connect from`/`disconnect from … ehlo=1 quit=1 commands=2` pair in the log); the
//! implicit-TLS port must be listening (checked in `/proc/net/tcp`, without connecting, so
//! the log holds no aborted handshake). Dropping the handle runs `postfix -c DIR stop`,
//! kills whatever process of the instance is left and removes the directory.
//!
//! Every instance has its own ports, directories and `syslog_name`, so several run at the
//! same time (tests run in parallel; no global lock is needed). Files Postfix reads are
//! dated a minute back: Postfix waits up to ~2 s in every process for a `main.cf` or
//! lookup table written within the last seconds.
//!
//! The relay, as configured by default:
//!
//! * two listeners on 127.0.0.1 with free ports: STARTTLS ([`Postfix::starttls_port`]) and
//!   implicit TLS (`smtpd_tls_wrappermode=yes`, [`Postfix::tls_port`]), plus a plain
//!   one for load generators ([`Postfix::plain_port`]);
//! * TLS is mandatory and a client certificate is required
//!   (`smtpd_tls_security_level = encrypt`, `smtpd_tls_ask_ccert = yes`,
//!   `smtpd_tls_req_ccert = yes`), verified against `root-ca.pem` **only**, so a client
//!   must send its intermediate with its leaf;
//! * the recipient domains ([`DEFAULT_DOMAIN`] unless configured) are *not* local or
//!   virtual destinations of the instance: mail for them is relayed, and relaying is
//!   allowed only for verified client certificates
//!   (`smtpd_relay_restrictions = permit_tls_all_clientcerts, reject_unauth_destination`);
//!   recipients in other domains are rejected at RCPT;
//! * relayed mail is delivered by the `virtual` agent into one Maildir per domain under
//!   the instance directory (`default_transport = virtual`), counted by
//!   [`Postfix::maildir_count`] (per recipient, from the `Delivered-To:` header) and
//!   [`Postfix::delivered_count`]; nothing ever leaves the machine.
//!
//! What Postfix 3.7 logs (`smtpd_tls_loglevel = 1,peercert`), see [`Postfix::log`]:
//!
//! * verified certificate: `<host>: subject_CN=client-p256.test, issuer=mailcert Test
//!   Intermediate CA, fingerprint=75:07:…, pkey_fingerprint=…` (SHA-256 of the DER,
//!   colon-separated upper-case hex; see [`fingerprint_for_log`]), then `Trusted TLS
//!   connection established from unknown[127.0.0.1]: TLSv1.3 …`;
//! * no certificate: `Anonymous TLS connection established from …`, then `NOQUEUE: abort:
//!   TLS from unknown[127.0.0.1]: No client certificate presented` (the client reads
//!   `421 4.7.1 … Error: No client certificate presented`);
//! * a certificate that does not verify: `certificate verification failed for
//!   unknown[127.0.0.1]: untrusted issuer /O=…/CN=…` (or `self-signed certificate`),
//!   `Untrusted TLS connection established from …`, then `NOQUEUE: abort: TLS from
//!   unknown[127.0.0.1]: Client certificate not trusted` (client: `421 4.7.1 … Error:
//!   Client certificate not trusted`).
//!
//! Each listener logs under its own name: `<instance>/starttls/smtpd[pid]` and
//! `<instance>/tls/smtpd[pid]`. Postfix instances need root; see
//! [`Postfix::unavailable_reason`].

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The `postfix` command the harness runs.
pub const POSTFIX_BIN: &str = "/usr/sbin/postfix";
/// The `postconf` command used to check that Postfix runs.
pub const POSTCONF_BIN: &str = "/usr/sbin/postconf";
/// The recipient domain relayed and delivered by default.
pub const DEFAULT_DOMAIN: &str = "relay.test";

/// How long `postfix start` / `postfix stop` may take (they take well under a second).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the listeners may take to answer once `postfix start` returned.
const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the wait helpers look again.
const POLL: Duration = Duration::from_millis(20);
/// Attempts with fresh ports when a chosen port was taken in the meantime.
const START_ATTEMPTS: usize = 3;

static INSTANCES: AtomicUsize = AtomicUsize::new(0);

/// How to configure a private Postfix instance (a builder; [`Default`] is the usual relay).
///
/// File arguments are fixture names (resolved in `fixtures/files/`) or absolute paths.
#[derive(Debug, Clone)]
pub struct PostfixConfig {
    server_chain: Vec<PathBuf>,
    server_key: PathBuf,
    client_ca: Vec<PathBuf>,
    require_client_cert: bool,
    domains: Vec<String>,
    tls_loglevel: String,
    main_cf: Vec<(String, String)>,
}

impl Default for PostfixConfig {
    fn default() -> Self {
        PostfixConfig {
            server_chain: vec![
                PathBuf::from("localhost-server.pem"),
                PathBuf::from("intermediate-ca.pem"),
            ],
            server_key: PathBuf::from("localhost-server.key"),
            client_ca: vec![PathBuf::from("root-ca.pem")],
            require_client_cert: true,
            domains: vec![DEFAULT_DOMAIN.to_string()],
            tls_loglevel: "1,peercert".to_string(),
            main_cf: Vec::new(),
        }
    }
}

impl PostfixConfig {
    /// The default configuration: server `localhost-server.pem` + `intermediate-ca.pem`
    /// with `localhost-server.key`, client certificates required and verified against
    /// `root-ca.pem` only, recipient domain [`DEFAULT_DOMAIN`].
    pub fn new() -> PostfixConfig {
        PostfixConfig::default()
    }

    /// The server certificate chain, leaf first, then intermediates.
    pub fn server_chain<P: AsRef<Path>>(mut self, files: &[P]) -> Self {
        self.server_chain = files.iter().map(|p| p.as_ref().to_path_buf()).collect();
        self
    }

    /// The server's private key (PEM).
    pub fn server_key(mut self, file: impl AsRef<Path>) -> Self {
        self.server_key = file.as_ref().to_path_buf();
        self
    }

    /// The CA certificates the server trusts for client certificates
    /// (`smtpd_tls_CAfile`, the files concatenated). Default: `root-ca.pem` only.
    pub fn client_ca<P: AsRef<Path>>(mut self, files: &[P]) -> Self {
        self.client_ca = files.iter().map(|p| p.as_ref().to_path_buf()).collect();
        self
    }

    /// Whether a verified client certificate is required to talk SMTP at all
    /// (`smtpd_tls_req_ccert`; default `true`). With `false` the server still asks for a
    /// certificate and still relays only for verified ones: other clients complete TLS and
    /// get `554 5.7.1 <rcpt>: Relay access denied` at RCPT.
    pub fn require_client_cert(mut self, required: bool) -> Self {
        self.require_client_cert = required;
        self
    }

    /// The recipient domains relayed and delivered (each into its own Maildir), replacing
    /// the default [`DEFAULT_DOMAIN`].
    pub fn domains(mut self, domains: &[&str]) -> Self {
        self.domains = domains.iter().map(|d| d.to_ascii_lowercase()).collect();
        self
    }

    /// `smtpd_tls_loglevel` (default `1,peercert`: the level-1 summary plus the client
    /// certificate's CN, issuer and SHA-256 fingerprint; `2` adds the handshake).
    pub fn tls_loglevel(mut self, level: &str) -> Self {
        self.tls_loglevel = level.to_string();
        self
    }

    /// An extra `main.cf` setting; replaces the harness's own value for that name.
    pub fn main_cf(mut self, name: &str, value: &str) -> Self {
        self.main_cf.push((name.to_string(), value.to_string()));
        self
    }
}

/// A running private Postfix instance; dropping it stops the instance and removes its
/// directory (printing the log first if the thread is panicking).
#[derive(Debug)]
pub struct Postfix {
    dir: tempfile::TempDir,
    root: PathBuf,
    name: String,
    starttls_port: u16,
    tls_port: u16,
    plain_port: u16,
    domains: Vec<String>,
    /// Whether `postfix start` ran and `stop` has not yet.
    running: bool,
}

impl Postfix {
    /// Whether Postfix is installed and can run instances here (see
    /// [`Postfix::unavailable_reason`]).
    pub fn available() -> bool {
        Postfix::unavailable_reason().is_none()
    }

    /// Why instances cannot run here, or `None` when they can: `/usr/sbin/postfix` must
    /// exist, `postconf -d` must run, a `postfix` user must exist and we must be root.
    /// The reason starts with "postfix not installed" when the binary is missing.
    pub fn unavailable_reason() -> Option<String> {
        if !Path::new(POSTFIX_BIN).is_file() {
            return Some(format!("postfix not installed ({POSTFIX_BIN} is missing)"));
        }
        match run_bounded(
            Command::new(POSTCONF_BIN).args(["-d", "mail_version"]),
            COMMAND_TIMEOUT,
            None,
        ) {
            Ok(out) if out.success => {}
            Ok(out) => {
                return Some(format!(
                    "`{POSTCONF_BIN} -d mail_version` failed: {}",
                    out.text.trim()
                ));
            }
            Err(e) => return Some(e),
        }
        match command_line("id", &["-u"]) {
            Ok(uid) if uid == "0" => {}
            Ok(uid) => return Some(format!("postfix instances need root (uid is {uid})")),
            Err(e) => return Some(e),
        }
        if let Err(e) = postfix_ids() {
            return Some(e);
        }
        None
    }

    /// Writes the configuration into a new temporary directory, starts the instance and
    /// waits (a few seconds at most) until both listeners answer.
    pub fn start(config: PostfixConfig) -> Result<Postfix, String> {
        if let Some(reason) = Postfix::unavailable_reason() {
            return Err(reason);
        }
        if config.domains.is_empty() {
            return Err("PostfixConfig: no recipient domain".to_string());
        }
        for d in &config.domains {
            if d.is_empty()
                || !d
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                return Err(format!("PostfixConfig: bad recipient domain {d:?}"));
            }
        }
        let (uid, gid) = postfix_ids()?;
        let n = INSTANCES.fetch_add(1, Ordering::Relaxed);
        let name = format!("pf{}-{n}", std::process::id());
        let dir = tempfile::Builder::new()
            .prefix("mailcert-postfix-")
            .tempdir()
            .map_err(|e| format!("creating the instance's temporary directory: {e}"))?;
        let root = dir.path().to_path_buf();
        let root_text = root.to_string_lossy().into_owned();
        if !root_text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
        {
            return Err(format!(
                "instance directory {root_text} has characters main.cf cannot hold; \
                 set TMPDIR to a plain path"
            ));
        }
        // Postfix's unprivileged processes must reach the queue, data and mail folders.
        set_mode(&root, 0o755)?;
        let mut pf = Postfix {
            dir,
            root,
            name,
            starttls_port: 0,
            tls_port: 0,
            plain_port: 0,
            domains: config.domains.clone(),
            running: false,
        };
        pf.prepare(&config, uid, gid)?;

        let mut attempt = 1;
        loop {
            let [starttls_port, tls_port, plain_port] = free_ports()?;
            pf.starttls_port = starttls_port;
            pf.tls_port = tls_port;
            pf.plain_port = plain_port;
            pf.write_config(&config, uid, gid)?;
            let log_before = pf.log().len();
            pf.running = true;
            let started = pf.postfix(&["start"]).and_then(|out| {
                if out.success {
                    Ok(())
                } else {
                    Err(format!(
                        "`{POSTFIX_BIN} -c {} start` failed: {}\nmaillog:\n{}",
                        pf.config_dir().display(),
                        out.text.trim(),
                        pf.log().trim()
                    ))
                }
            });
            match started.and_then(|()| pf.wait_ready()) {
                Ok(()) => return Ok(pf),
                Err(e) => {
                    let port_taken = pf
                        .log()
                        .get(log_before..)
                        .is_some_and(|l| l.contains("Address already in use"));
                    if let Err(stop) = pf.stop() {
                        return Err(format!("{e}\nthen stopping the instance: {stop}"));
                    }
                    if !port_taken || attempt == START_ATTEMPTS {
                        return Err(e);
                    }
                }
            }
            attempt += 1;
        }
    }

    /// Creates the folders and TLS files (once per instance).
    fn prepare(&self, config: &PostfixConfig, uid: u32, gid: u32) -> Result<(), String> {
        for sub in ["conf", "queue", "data", "mail", "log", "tls", "out"] {
            let p = self.root.join(sub);
            fs::create_dir(&p).map_err(|e| format!("creating {}: {e}", p.display()))?;
            set_mode(&p, 0o755)?;
        }
        for sub in ["data", "mail"] {
            let p = self.root.join(sub);
            std::os::unix::fs::chown(&p, Some(uid), Some(gid))
                .map_err(|e| format!("chown postfix {}: {e}", p.display()))?;
        }
        // The server's key followed by its chain, as smtpd_tls_chain_files wants.
        let mut server = read_pem(&config.server_key)?;
        for f in &config.server_chain {
            server.push_str(&read_pem(f)?);
        }
        write_file(&self.root.join("tls").join("server.pem"), &server, 0o600)?;
        let mut ca = String::new();
        for f in &config.client_ca {
            ca.push_str(&read_pem(f)?);
        }
        write_file(&self.root.join("tls").join("client-ca.pem"), &ca, 0o644)?;

        let mut mailboxes = String::new();
        let mut access = String::new();
        for d in &config.domains {
            // The virtual agent does not substitute $1: one Maildir per domain.
            mailboxes.push_str(&format!("@{d} {d}/\n"));
            access.push_str(&format!("{d} OK\n"));
        }
        write_file(&self.root.join("conf").join("mailboxes"), &mailboxes, 0o644)?;
        write_file(
            &self.root.join("conf").join("recipient_access"),
            &access,
            0o644,
        )?;
        write_file(&self.log_path(), "", 0o644)?;
        Ok(())
    }

    /// Writes main.cf and master.cf for the current ports.
    fn write_config(&self, config: &PostfixConfig, uid: u32, gid: u32) -> Result<(), String> {
        let root = self.root.display();
        let name = &self.name;
        let req = if config.require_client_cert {
            "yes"
        } else {
            "no"
        };
        let mut main = format!(
            "# Private test instance written by mailcert-tests (tests/src/postfix.rs).\n\
             compatibility_level = 3.6\n\
             queue_directory = {root}/queue\n\
             data_directory = {root}/data\n\
             maillog_file = {root}/log/maillog\n\
             maillog_file_prefixes = {root}/log\n\
             syslog_name = {name}\n\
             myhostname = {name}.localhost\n\
             mydomain = localhost\n\
             myorigin = $myhostname\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             # Only exempts 127.0.0.1 from anvil rate limits (benchmarks); relaying is\n\
             # granted by client certificates alone (no permit_mynetworks below).\n\
             mynetworks = 127.0.0.0/8\n\
             # No local or virtual destinations: every recipient domain is relayed.\n\
             mydestination =\n\
             relay_domains =\n\
             virtual_mailbox_domains =\n\
             virtual_alias_domains =\n\
             virtual_alias_maps =\n\
             alias_maps =\n\
             alias_database =\n\
             biff = no\n\
             smtpd_peername_lookup = no\n\
             smtp_dns_support_level = disabled\n\
             # Relayed mail goes to Maildirs under {root}/mail, never off the machine.\n\
             default_transport = virtual\n\
             relay_transport = virtual\n\
             local_transport = error:local delivery is disabled in this test instance\n\
             virtual_mailbox_base = {root}/mail\n\
             virtual_mailbox_maps = texthash:{root}/conf/mailboxes\n\
             virtual_uid_maps = static:{uid}\n\
             virtual_gid_maps = static:{gid}\n\
             virtual_minimum_uid = {uid}\n\
             smtpd_banner = $myhostname ESMTP mailcert test relay\n\
             smtpd_tls_chain_files = {root}/tls/server.pem\n\
             smtpd_tls_CAfile = {root}/tls/client-ca.pem\n\
             smtpd_tls_security_level = encrypt\n\
             smtpd_tls_ask_ccert = yes\n\
             smtpd_tls_req_ccert = {req}\n\
             smtpd_tls_loglevel = {loglevel}\n\
             smtpd_tls_received_header = yes\n\
             smtpd_tls_fingerprint_digest = sha256\n\
             smtpd_relay_restrictions = permit_tls_all_clientcerts, reject_unauth_destination\n\
             smtpd_recipient_restrictions = check_recipient_access texthash:{root}/conf/recipient_access, reject\n",
            loglevel = config.tls_loglevel,
        );
        for (k, v) in &config.main_cf {
            let setting = format!("{k} = {v}");
            let prefix = format!("{k} =");
            match main.lines().position(|l| l.starts_with(&prefix)) {
                Some(i) => {
                    let mut lines: Vec<String> = main.lines().map(str::to_string).collect();
                    lines[i] = setting;
                    main = lines.join("\n") + "\n";
                }
                None => main.push_str(&format!("{setting}\n")),
            }
        }
        let master = format!(
            "# Private test instance written by mailcert-tests (tests/src/postfix.rs).\n\
             # service type  private unpriv chroot wakeup maxproc command\n\
             127.0.0.1:{starttls} inet n - n - - smtpd\n  -o syslog_name={name}/starttls\n\
             127.0.0.1:{tls} inet n - n - - smtpd\n  -o syslog_name={name}/tls\n  -o smtpd_tls_wrappermode=yes\n\
             127.0.0.1:{plain} inet n - n - - smtpd\n  -o syslog_name={name}/plain\n  -o smtpd_tls_security_level=none\n  -o smtpd_tls_ask_ccert=no\n  -o smtpd_tls_req_ccert=no\n  -o smtpd_relay_restrictions=permit_mynetworks,reject_unauth_destination\n\
             pickup unix n - n 60 1 pickup\n\
             cleanup unix n - n - 0 cleanup\n\
             qmgr unix n - n 300 1 qmgr\n\
             tlsmgr unix - - n 1000? 1 tlsmgr\n\
             rewrite unix - - n - - trivial-rewrite\n\
             bounce unix - - n - 0 bounce\n\
             defer unix - - n - 0 bounce\n\
             trace unix - - n - 0 bounce\n\
             verify unix - - n - 1 verify\n\
             flush unix n - n 1000? 0 flush\n\
             proxymap unix - - n - - proxymap\n\
             proxywrite unix - - n - 1 proxymap\n\
             smtp unix - - n - - smtp\n\
             relay unix - - n - - smtp\n\
             showq unix n - n - - showq\n\
             error unix - - n - - error\n\
             retry unix - - n - - error\n\
             discard unix - - n - - discard\n\
             virtual unix - n n - - virtual\n\
             anvil unix - - n - 1 anvil\n\
             scache unix - - n - 1 scache\n\
             postlog unix-dgram n - n - 1 postlogd\n",
            starttls = self.starttls_port,
            tls = self.tls_port,
            plain = self.plain_port,
        );
        write_file(&self.config_dir().join("main.cf"), &main, 0o644)?;
        write_file(&self.config_dir().join("master.cf"), &master, 0o644)?;
        Ok(())
    }

    /// Runs `postfix -c DIR <args>` with a time limit.
    fn postfix(&self, args: &[&str]) -> Result<CommandOutput, String> {
        let out_file = self
            .root
            .join("out")
            .join(format!("postfix-{}.txt", args.join("-")));
        run_bounded(
            Command::new(POSTFIX_BIN)
                .arg("-c")
                .arg(self.config_dir())
                .args(args),
            COMMAND_TIMEOUT,
            Some(&out_file),
        )
    }

    /// Waits until the STARTTLS listener greets with this instance's banner and the
    /// implicit-TLS listener accepts connections (listening, checked without connecting so
    /// the log holds no aborted handshake).
    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let fatal: Vec<String> = self
                .log()
                .lines()
                .filter(|l| l.contains(": fatal: "))
                .map(str::to_string)
                .collect();
            if !fatal.is_empty() {
                return Err(format!(
                    "postfix instance {} failed to start:\n{}",
                    self.config_dir().display(),
                    fatal.join("\n")
                ));
            }
            let last = match self.greets() {
                Ok(()) => match listening(self.tls_port) {
                    Ok(true) => return self.check_tls_loaded(deadline),
                    Ok(false) => format!("port {} is not listening", self.tls_port),
                    Err(e) => e,
                },
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(format!(
                    "postfix instance {} not ready {READY_TIMEOUT:?} after `postfix start`: \
                     {last}\nmaillog:\n{}",
                    self.config_dir().display(),
                    self.log().trim()
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// After the readiness connection: fails if that smtpd logged that it could not load
    /// the server key or chain (it then runs without TLS and still greets).
    fn check_tls_loaded(&self, deadline: Instant) -> Result<(), String> {
        let done = format!("{}/starttls/smtpd[", self.name);
        loop {
            let log = self.log();
            if log
                .lines()
                .any(|l| l.contains(&done) && l.contains("disconnect from"))
            {
                let problems: Vec<&str> = log
                    .lines()
                    .filter(|l| {
                        l.contains("disabling TLS support") || l.contains("TLS library problem")
                    })
                    .collect();
                if problems.is_empty() {
                    return Ok(());
                }
                return Err(format!(
                    "postfix instance {}: smtpd could not load its TLS files:\n{}",
                    self.config_dir().display(),
                    problems.join("\n")
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "postfix instance {}: the readiness connection was never logged\nmaillog:\n{}",
                    self.config_dir().display(),
                    log.trim()
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Reads the banner on the STARTTLS port, checks that EHLO offers STARTTLS (smtpd
    /// disables TLS when it cannot load the server key or chain) and says QUIT.
    fn greets(&self) -> Result<(), String> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.starttls_port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .map_err(|e| format!("{addr}: {e}"))?;
        let mut reader = BufReader::new(
            stream
                .try_clone()
                .map_err(|e| format!("{addr}: cloning the socket: {e}"))?,
        );
        let banner = read_reply(&mut reader).map_err(|e| format!("{addr} banner: {e}"))?;
        let expected = format!("220 {}.localhost ", self.name);
        if !banner.starts_with(&expected) {
            return Err(format!("{addr} greeted {banner:?}, expected {expected:?}"));
        }
        let mut w = &stream;
        w.write_all(b"EHLO harness.localhost\r\n")
            .map_err(|e| format!("{addr}: sending EHLO: {e}"))?;
        let ehlo = read_reply(&mut reader).map_err(|e| format!("{addr} EHLO: {e}"))?;
        let _ = w.write_all(b"QUIT\r\n");
        let _ = read_reply(&mut reader);
        let _ = stream.shutdown(Shutdown::Both);
        if !ehlo.lines().any(|l| l.get(4..) == Some("STARTTLS")) {
            return Err(format!(
                "{addr} does not offer STARTTLS (smtpd could not load its TLS files?): \
                 EHLO answered {ehlo:?}"
            ));
        }
        Ok(())
    }

    /// A third listener on 127.0.0.1: plain SMTP, no TLS, relaying for loopback
    /// clients (`permit_mynetworks`). Only for load generators such as `smtp-source`,
    /// which speak no TLS, to measure the same Postfix's own ceiling.
    pub fn plain_port(&self) -> u16 {
        self.plain_port
    }

    /// The STARTTLS listener's port (client certificate demanded per the config).
    pub fn starttls_port(&self) -> u16 {
        self.starttls_port
    }

    /// The implicit-TLS listener's port on 127.0.0.1.
    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    /// The instance name: its `syslog_name` and the first label of its `myhostname`
    /// (`<name>.localhost`, in the banner and Received headers).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The instance's temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The instance's `config_directory` (main.cf, master.cf, maps).
    pub fn config_dir(&self) -> PathBuf {
        self.root.join("conf")
    }

    /// The maillog file.
    pub fn log_path(&self) -> PathBuf {
        self.root.join("log").join("maillog")
    }

    /// The CA certificate that roots the server chain (`fixtures/files/root-ca.pem`):
    /// clients should verify the server against this file alone.
    pub fn root_ca_path(&self) -> PathBuf {
        crate::fixture("root-ca.pem")
    }

    /// The recipient domains this instance relays and delivers.
    pub fn domains(&self) -> &[String] {
        &self.domains
    }

    /// The Maildir that receives the mail for `domain`.
    pub fn maildir(&self, domain: &str) -> PathBuf {
        self.root.join("mail").join(domain.to_ascii_lowercase())
    }

    /// The delivered messages (full text) for `recipient`: an address counts the messages
    /// whose `Delivered-To:` is that address; `@domain` or `domain` means the whole
    /// domain's Maildir.
    pub fn messages(&self, recipient: &str) -> Vec<String> {
        let (domain, address) = match recipient.rsplit_once('@') {
            Some(("", d)) => (d, None),
            Some((_, d)) => (d, Some(recipient)),
            None => (recipient, None),
        };
        read_maildir(&self.maildir(domain))
            .into_iter()
            .filter(|m| address.is_none_or(|a| delivered_to(m).eq_ignore_ascii_case(a)))
            .collect()
    }

    /// How many messages were delivered for `recipient` (see [`Postfix::messages`]).
    pub fn maildir_count(&self, recipient: &str) -> usize {
        self.messages(recipient).len()
    }

    /// How many messages were delivered in all, over every domain.
    pub fn delivered_count(&self) -> usize {
        self.domains
            .iter()
            .map(|d| read_maildir(&self.maildir(d)).len())
            .sum()
    }

    /// Waits until at least `n` messages were delivered (over every domain) or `timeout`
    /// passed; returns the count then.
    pub fn wait_for_delivered(&self, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let count = self.delivered_count();
            if count >= n || Instant::now() >= deadline {
                return count;
            }
            std::thread::sleep(POLL);
        }
    }

    /// How many messages sit in the queue (maildrop, incoming, active, deferred, hold):
    /// accepted by smtpd but not yet delivered.
    pub fn queued_count(&self) -> usize {
        fn files(dir: &Path) -> usize {
            fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|e| {
                            let p = e.path();
                            if p.is_dir() { files(&p) } else { 1 }
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        ["maildrop", "incoming", "active", "deferred", "hold"]
            .iter()
            .map(|q| files(&self.dir().join("queue").join(q)))
            .sum()
    }

    /// Waits until every SMTP session smtpd logged as begun ("connect from") has ended
    /// ("disconnect from"), at least one of them; false when `timeout` passed first. After
    /// that, whatever smtpd accepted is in the queue or delivered: a real condition to
    /// wait on before asserting that nothing was delivered.
    pub fn wait_for_sessions_ended(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            let begun = log.matches("]: connect from ").count();
            let ended = log.matches("]: disconnect from ").count();
            if begun > 0 && begun == ended {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(POLL);
        }
    }

    /// The maillog contents so far (empty if it cannot be read).
    pub fn log(&self) -> String {
        fs::read(self.log_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Waits until the maillog contains `needle` or `timeout` passed.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().contains(needle) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(POLL);
        }
    }

    /// Stops the instance now (`postfix -c DIR stop`, then kills what is left of it);
    /// also done on drop.
    pub fn stop(&mut self) -> Result<(), String> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        let mut problems = Vec::new();
        match self.postfix(&["stop"]) {
            Ok(out) if out.success => {}
            // "not running": the master died in the meantime (or never started).
            Ok(out) if out.text.contains("is not running") => {}
            Ok(out) => problems.push(format!(
                "`{POSTFIX_BIN} -c {} stop` failed: {}",
                self.config_dir().display(),
                out.text.trim()
            )),
            Err(e) => problems.push(e),
        }
        // Leftovers: any process whose working directory is this instance's queue (the
        // master and its children chdir there), asked to stop, then killed, by pid.
        for signal in [None, Some("-TERM"), Some("-KILL")] {
            if self.processes().is_empty() {
                break;
            }
            if let Some(signal) = signal {
                for pid in self.processes() {
                    let _ = Command::new("kill")
                        .args([signal, &pid.to_string()])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                }
            }
            let deadline = Instant::now() + Duration::from_secs(2);
            while !self.processes().is_empty() && Instant::now() < deadline {
                std::thread::sleep(POLL);
            }
        }
        let left = self.processes();
        if !left.is_empty() {
            problems.push(format!("processes {left:?} of the instance survived KILL"));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// Live (non-zombie) processes whose working directory is this instance's queue.
    fn processes(&self) -> Vec<u32> {
        let queue = self.root.join("queue");
        let Ok(entries) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
            .filter(|pid| {
                fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == queue)
                    && !fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                        s.rsplit_once(')')
                            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
                    })
            })
            .collect()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines.len().saturating_sub(80);
            eprintln!(
                "--- maillog of postfix instance {} ({}), last {} lines ---\n{}\n--- end of maillog ---",
                self.name,
                self.root.display(),
                lines.len() - tail,
                lines[tail..].join("\n")
            );
        }
        if let Err(e) = self.stop() {
            eprintln!("stopping postfix instance {}: {e}", self.name);
        }
    }
}

/// The SHA-256 fingerprint as Postfix logs it (`fingerprint=AA:BB:…`), from the upper- or
/// lower-case hex without separators (as in `fixtures/files/expected.json`).
pub fn fingerprint_for_log(hex: &str) -> String {
    let hex = hex.to_ascii_uppercase();
    hex.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

/// What a bounded command printed and whether it succeeded.
struct CommandOutput {
    success: bool,
    text: String,
}

/// Runs `cmd` with stdin closed and stdout+stderr going to `out_file` (a file, not a pipe:
/// `postfix start` leaves a daemon behind that may keep inherited descriptors), killing it
/// after `timeout`.
fn run_bounded(
    cmd: &mut Command,
    timeout: Duration,
    out_file: Option<&Path>,
) -> Result<CommandOutput, String> {
    let what = format!("{cmd:?}");
    let tmp;
    let out_path = match out_file {
        Some(p) => p,
        None => {
            tmp = tempfile::NamedTempFile::new()
                .map_err(|e| format!("temporary file for the output of {what}: {e}"))?;
            tmp.path()
        }
    };
    let out =
        fs::File::create(out_path).map_err(|e| format!("creating {}: {e}", out_path.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("{}: {e}", out_path.display()))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("running {what}: {e}"))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} did not finish within {timeout:?}"));
            }
            Err(e) => return Err(format!("waiting for {what}: {e}")),
        }
    };
    let text = fs::read(out_path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Ok(CommandOutput {
        success: status.success(),
        text,
    })
}

/// The first line printed by a successful command.
fn command_line(program: &str, args: &[&str]) -> Result<String, String> {
    let out = run_bounded(
        Command::new(program).args(args),
        Duration::from_secs(10),
        None,
    )?;
    if !out.success {
        return Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            out.text.trim()
        ));
    }
    Ok(out
        .text
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string())
}

/// The postfix user's uid and gid.
fn postfix_ids() -> Result<(u32, u32), String> {
    let parse = |flag: &str| -> Result<u32, String> {
        let s =
            command_line("id", &[flag, "postfix"]).map_err(|e| format!("no postfix user: {e}"))?;
        s.parse::<u32>()
            .map_err(|e| format!("`id {flag} postfix` printed {s:?}: {e}"))
    };
    Ok((parse("-u")?, parse("-g")?))
}

/// Two distinct free ports on 127.0.0.1 (bound together, then released for Postfix).
fn free_ports() -> Result<[u16; 3], String> {
    // All three held open together, so that they are three different ports.
    let mut held = Vec::with_capacity(3);
    let mut ports = [0u16; 3];
    for p in &mut ports {
        let l =
            TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding 127.0.0.1:0: {e}"))?;
        *p = l.local_addr().map_err(|e| e.to_string())?.port();
        held.push(l);
    }
    Ok(ports)
}

/// Whether something listens on 127.0.0.1:`port` (from /proc/net/tcp; a plain connect
/// where that file is missing).
fn listening(port: u16) -> Result<bool, String> {
    match fs::read_to_string("/proc/net/tcp") {
        Ok(table) => {
            let local = format!("0100007F:{port:04X}");
            Ok(table.lines().skip(1).any(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                cols.get(1) == Some(&local.as_str()) && cols.get(3) == Some(&"0A")
            }))
        }
        Err(_) => Ok(TcpStream::connect(("127.0.0.1", port)).is_ok()),
    }
}

/// One SMTP reply (all its lines, without line ends joined by `\n`).
fn read_reply(reader: &mut impl BufRead) -> Result<String, String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("connection closed after {lines:?}"));
        }
        let line = line.trim_end().to_string();
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line);
        if last || lines.len() > 100 {
            return Ok(lines.join("\n"));
        }
    }
}

/// A fixture name or absolute path, read as text ending with a newline.
fn read_pem(file: &Path) -> Result<String, String> {
    let path = crate::fixtures().join(file);
    let mut text =
        fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// Writes a file dated a minute ago: Postfix waits (up to ~2 s, in every process that reads
/// it) for a main.cf or lookup table modified within the last seconds to settle.
fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
    let past = std::time::SystemTime::now()
        .checked_sub(Duration::from_secs(60))
        .unwrap_or(std::time::UNIX_EPOCH);
    fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(past))
        .map_err(|e| format!("dating {} a minute back: {e}", path.display()))?;
    set_mode(path, mode)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {mode:o} {}: {e}", path.display()))
}

/// Every message in a Maildir's `new/` and `cur/` (Postfix writes into `tmp/` and renames).
fn read_maildir(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = fs::read_dir(dir.join(sub)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for f in files {
            if let Ok(b) = fs::read(&f) {
                out.push(String::from_utf8_lossy(&b).into_owned());
            }
        }
    }
    out
}

/// The `Delivered-To:` address the virtual agent put at the top of a message.
fn delivered_to(message: &str) -> &str {
    for line in message.lines() {
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("Delivered-To")
        {
            return v.trim();
        }
    }
    ""
}
