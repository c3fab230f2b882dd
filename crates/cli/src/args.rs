//! The command line, as the design's interface contract lays it out.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use mailcert_store::StoreName;

/// The contract's exit codes, at the end of every command's help.
pub(crate) const EXIT_CODES: &str = "EXIT CODES:\n  0  ok\n  1  error (I/O, database, bad file, wrong password, wrong or missing master key)\n  2  usage\n  3  rejected by a rule (ineligible certificate, invalid setting, bound certificate)\n  4  not found (certificate, web application)\n  5  delivery failed";

/// The command line with the exit codes at the end of every subcommand's help too
/// (after its own examples), for `--help`, the man pages and the parser alike.
pub(crate) fn command() -> clap::Command {
    fn with_exit_codes(cmd: clap::Command) -> clap::Command {
        let after = match cmd.get_after_help() {
            Some(own) if own.to_string().contains("EXIT CODES:") => own.to_string(),
            Some(own) => format!("{own}\n\n{EXIT_CODES}"),
            None => EXIT_CODES.to_owned(),
        };
        let names: Vec<String> = cmd
            .get_subcommands()
            .map(|s| s.get_name().to_owned())
            .collect();
        let mut cmd = cmd.after_help(after);
        for name in names {
            cmd = cmd.mut_subcommand(name, with_exit_codes);
        }
        cmd
    }
    with_exit_codes(<Cli as clap::CommandFactory>::command())
}

/// Client certificates for SMTP relays that demand TLS client authentication.
#[derive(Debug, Parser)]
#[command(
    name = "mailcert",
    version,
    about,
    after_help = EXIT_CODES
)]
pub(crate) struct Cli {
    /// Farm database: a SQLite file, or postgres://USER@HOST[:PORT]/DB[?sslmode=...] for a
    /// farm shared by several servers (its password from ~/.pgpass or
    /// $MAILCERT_DB_PASSWORD_FILE, never here). Default: $MAILCERT_DB, else
    /// /var/lib/mailcert/farm.db for root where the package is installed, else
    /// $XDG_DATA_HOME/mailcert/farm.db.
    #[arg(long, global = true, value_name = "PATH|URL")]
    pub(crate) db: Option<PathBuf>,
    /// Act as (or, with `smtp set`/`smtp clear`, for) server NAME of the farm: its own
    /// settings apply, and it is the server `init --join` registers. Default: this
    /// server, named by $MAILCERT_SERVER, else the host name.
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        visible_alias = "server-name",
        value_parser = server_name
    )]
    pub(crate) server: Option<String>,
    /// Machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// More detail on stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// Colour on a terminal: auto (not when NO_COLOR is set or TERM=dumb), always, never.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub(crate) color: crate::color::ColorChoice,
    /// This server's mail queue (default: $MAILCERT_SPOOL, else
    /// $XDG_STATE_HOME/mailcert/spool.db); never the shared farm database.
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) spool: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the farm database and its master key (both mode 0600), or with --join make
    /// this server one more server of an existing (PostgreSQL) farm.
    #[command(
        after_help = "EXAMPLES:\n  mailcert init                                   # a SQLite farm on this server\n  mailcert --db postgres://mailcert@db.contoso.com/mailcert init\n  # on each further server, with the first server's master key file copied over (0600):\n  MAILCERT_MASTER_KEY_FILE=/etc/mailcert/farm.key mailcert --db postgres://mailcert@db.contoso.com/mailcert init --join"
    )]
    Init {
        /// Join an existing farm: check that this server's master key file is the farm's
        /// (a wrong key writes nothing) and register the server.
        #[arg(long)]
        join: bool,
    },
    /// The servers that share the farm.
    #[command(subcommand)]
    Server(ServerCommand),
    /// The farm as a whole: copy it to another database.
    #[command(subcommand)]
    Farm(FarmCommand),
    /// Manage certificates in the farm's stores.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Manage web applications.
    #[command(subcommand)]
    Webapp(WebappCommand),
    /// Outgoing e-mail (SMTP) settings of the farm and of web applications.
    #[command(subcommand)]
    Smtp(SmtpCommand),
    /// Send a message through a web application's outgoing e-mail settings,
    /// presenting the bound client certificate with its chain.
    #[command(
        after_help = "EXAMPLES:\n  echo 'Hello' | mailcert send --webapp https://intranet --to ops@contoso.com --subject Test\n  mailcert send --webapp https://intranet --message a.eml b.eml   # one connection, a line per message\n\nExit 5 when any message was not delivered."
    )]
    Send {
        #[command(flatten)]
        target: OptionalTarget,
        /// Recipients of a message built from --subject and the body.
        #[arg(long, value_name = "ADDR", num_args = 1.., required_unless_present = "message", conflicts_with = "message")]
        to: Vec<String>,
        /// Subject of the built message.
        #[arg(long, value_name = "TEXT", default_value = "")]
        subject: String,
        /// Body of the built message (standard input when left out).
        #[arg(long, value_name = "FILE")]
        body_file: Option<PathBuf>,
        /// Whole RFC 5322 messages to send (recipients from To/Cc/Bcc), over pooled connections.
        #[arg(long, value_name = "FILE", num_args = 1..)]
        message: Vec<PathBuf>,
        /// Sessions to spread the messages over (each opened when needed, pipelined and
        /// reused); 1 sends them all over one connection.
        #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
        connections: u16,
        /// Seconds each SMTP step may take, however slowly the server answers (lookup,
        /// connect and greeting; TLS; each command; each 64 KiB of the message);
        /// RFC 5321's timeouts are the ceiling.
        #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
        timeout: u64,
    },
    /// sendmail-compatible drop-in: reads a message on standard input and sends it.
    #[command(
        after_help = "Use it where /usr/sbin/sendmail is expected (cron, mailx, applications):\n  printf 'Subject: hi\\n\\nbody\\n' | mailcert sendmail ops@contoso.com\n  mailcert sendmail -t < message.eml\nThe web application is --webapp, else $MAILCERT_WEBAPP, else the farm's settings.\n-i, -o… , -B, -N and -F are accepted for compatibility."
    )]
    Sendmail {
        /// Read recipients from the To, Cc and Bcc headers (Bcc is removed).
        #[arg(short = 't')]
        read_recipients: bool,
        /// Envelope sender.
        #[arg(short = 'f', visible_short_alias = 'r', value_name = "FROM")]
        from: Option<String>,
        /// Full name of the sender (used when the message has no From header).
        #[arg(short = 'F', value_name = "NAME")]
        full_name: Option<String>,
        /// Ignored: a lone dot never ends the message here.
        #[arg(short = 'i')]
        ignore_dots: bool,
        /// Ignored sendmail options (-oi, -oem, …).
        #[arg(short = 'o', value_name = "OPT")]
        options: Vec<String>,
        /// Ignored body type (-B 8BITMIME).
        #[arg(short = 'B', value_name = "TYPE")]
        body_type: Option<String>,
        /// Ignored DSN request (-N never).
        #[arg(short = 'N', value_name = "DSN")]
        dsn: Option<String>,
        /// The web application whose settings to use.
        #[arg(long, value_name = "URL", env = "MAILCERT_WEBAPP")]
        webapp: Option<String>,
        /// On a temporary failure, exit 5 instead of queueing the message in the spool.
        #[arg(long)]
        no_queue: bool,
        /// Seconds each SMTP step may take (as for `send`).
        #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=600))]
        timeout: u64,
        /// Recipients.
        #[arg(value_name = "RCPT")]
        recipients: Vec<String>,
    },
    /// The whole job in a throw-away farm against a loopback relay: make a CA and a
    /// client certificate, import, bind, send, and show what the relay saw.
    Demo,
    /// Central Administration: the web page for certificates and outgoing e-mail settings.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Local relay: accept SMTP from applications, queue durably, deliver upstream with
    /// the bound client certificate.
    #[command(
        after_help = "Each message is committed to the spool (synced to disk) before the 250 reply to DATA,\nthen delivered through the web application's (or the farm's) settings; a change of\nsettings, certificate or binding applies without a restart. SIGTERM stops accepting,\nfinishes the deliveries in progress and exits 0.\n\nEXAMPLES:\n  mailcert relay --listen 127.0.0.1:2525 --webapp https://intranet.contoso.com\n  mailcert relay --listen 10.0.0.5:587 --tls-certificate name:relay-in \\\n      --auth-user app --auth-password-file /etc/mailcert/app.pw   # off loopback: AUTH over STARTTLS"
    )]
    Relay(RelayArgs),
    /// This server's mail queue (the relay's spool).
    #[command(subcommand)]
    Queue(QueueCommand),
    /// A shell completion script on standard output (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "EXAMPLES:\n  mailcert completions bash > /etc/bash_completion.d/mailcert\n  mailcert completions zsh > \"${fpath[1]}/_mailcert\"\n  mailcert completions fish > ~/.config/fish/completions/mailcert.fish"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// The manual page (roff), with a section for every subcommand, on standard output.
    #[command(
        after_help = "EXAMPLE:\n  mailcert man > /usr/share/man/man1/mailcert.1 && man mailcert"
    )]
    Man,
    /// Check this server's set-up: file modes, master key, bindings, the relay's spool and
    /// port, the system trust store. Each problem comes with its fix; exit 3 when any.
    Doctor {
        /// The address `mailcert relay` listens on (free, or in use by mailcert).
        #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:25")]
        relay_listen: std::net::SocketAddr,
    },
    /// Certificate settings (thresholds, request defaults) and notification contacts.
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// Certificate health rules over the bound certificates; exit 3 when any fires.
    #[command(
        after_help = "RULES:\n  no-contacts          warning    certificates are bound but nobody is notified\n  upcoming-expiration  attention  a bound certificate expires within attention-days (60)\n  about-to-expire      warning    a bound certificate expires within warning-days (15)\n  expired              error      a bound certificate expired (reported for error-days, 15)\n  binding-broken       error      a bound certificate removed, moved or otherwise ineligible\n\nThe clock is MAILCERT_NOW when set (to see what breaks on a date).\n--notify mails the findings to the notification contacts through the farm's outgoing\ne-mail settings, at most once a day per certificate and rule (run it from a timer).\n\nEXIT CODES:\n  0  healthy\n  3  a rule fired\n  5  --notify could not deliver the notification (it is part of the report)"
    )]
    Health {
        /// Mail the findings not mailed within the last day to the notification contacts.
        #[arg(long)]
        notify: bool,
        /// Seconds each SMTP step of the notification may take.
        #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=600))]
        timeout: u64,
    },
    /// Who changed which certificate, setting or binding, newest first.
    Audit {
        /// Only entries since TIME: RFC 3339 (2026-11-28T10:00:00Z), a date (2026-11-28),
        /// or an age (90m, 24h, 7d).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
    },
}

/// A server's name: not empty, at most 253 characters, no control characters or spaces.
fn server_name(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() || t.len() > 253 || t.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(
            "a server name is 1 to 253 characters, without spaces or control characters".into(),
        );
    }
    Ok(t.to_string())
}

/// `mailcert server ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ServerCommand {
    /// Every server of the farm with when it joined and was last seen.
    List,
}

/// `mailcert farm ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum FarmCommand {
    /// Copy the whole farm into a new, empty database (SQLite file or PostgreSQL), with
    /// its sealed keys as they are, and verify the copy (row counts, thumbprints, sealed
    /// keys) before it is committed. The copy uses this farm's master key file.
    #[command(
        after_help = "EXAMPLES:\n  # move a one-server farm to PostgreSQL (password in ~/.pgpass):\n  mailcert farm copy --to postgres://mailcert@db.contoso.com/mailcert\n  # then, on each server: MAILCERT_DB=postgres://... MAILCERT_MASTER_KEY_FILE=<copy of the key> mailcert init --join\n  # and back, into a new SQLite file:\n  mailcert --db postgres://mailcert@db.contoso.com/mailcert farm copy --to /var/backups/farm.db"
    )]
    Copy {
        /// The destination: a SQLite file that does not exist yet, or an empty PostgreSQL
        /// database.
        #[arg(long, value_name = "PATH|URL")]
        to: PathBuf,
    },
}

/// `mailcert relay`.
#[derive(Debug, Args)]
pub(crate) struct RelayArgs {
    /// Address to accept SMTP on (repeatable).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:25")]
    pub(crate) listen: Vec<std::net::SocketAddr>,
    #[command(flatten)]
    pub(crate) target: OptionalTarget,
    /// The user applications authenticate as (AUTH PLAIN/LOGIN, offered only after STARTTLS).
    #[arg(long, value_name = "USER", requires = "auth_password_file")]
    pub(crate) auth_user: Option<String>,
    /// File holding that user's password (`-` for standard input).
    #[arg(long, value_name = "FILE", requires = "auth_user")]
    pub(crate) auth_password_file: Option<PathBuf>,
    /// STARTTLS with this certificate of the End Entity store.
    #[arg(long, value_name = "REF")]
    pub(crate) tls_certificate: Option<String>,
    /// Largest message accepted, in bytes (K, M and G suffixes allowed); larger ones get 552.
    #[arg(long, value_name = "BYTES", default_value = "35M", value_parser = parse_bytes)]
    pub(crate) max_message_size: usize,
    /// How long a message may wait before it fails and its sender is notified (e.g. 5d, 12h).
    #[arg(long, value_name = "DURATION", default_value = "5d", value_parser = parse_duration)]
    pub(crate) max_queue_lifetime: std::time::Duration,
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics (loopback only).
    #[arg(long, value_name = "ADDR:PORT")]
    pub(crate) metrics: Option<std::net::SocketAddr>,
    /// Upstream sessions at most.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) connections: u16,
    /// Seconds each upstream SMTP step may take.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub(crate) timeout: u64,
}

/// `--max-message-size`: bytes, with an optional K, M or G (powers of 1024).
fn parse_bytes(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 1usize << 10),
        Some((i, 'M' | 'm')) => (&t[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    num.parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("'{s}' is not a size: give bytes, e.g. 10485760, 10240K or 10M"))
}

/// A duration: a number with s, m, h, d or w.
pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let secs: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => 0,
    };
    num.parse::<u64>()
        .ok()
        .filter(|_| secs > 0)
        .and_then(|n| n.checked_mul(secs))
        .filter(|n| *n > 0)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("'{s}' is not a duration: use e.g. 90m, 12h, 5d or 2w"))
}

/// `mailcert queue`.
#[derive(Debug, Subcommand)]
pub(crate) enum QueueCommand {
    /// Every queued message: id, state, webapp, from, recipients, size, attempts,
    /// next attempt, last reply, queued at.
    List,
    /// One message, with its headers.
    Show {
        /// The queue id.
        id: String,
    },
    /// Deliver everything that is due, once, then exit (for a timer).
    Run,
    /// Make every deferred message due now, and deliver.
    Flush,
    /// Delete messages from the queue.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["ids", "failed", "all"])))]
    Delete {
        /// Queue ids.
        ids: Vec<String>,
        /// Every failed message.
        #[arg(long)]
        failed: bool,
        /// Every message.
        #[arg(long)]
        all: bool,
    },
}

/// Which settings level a command is about.
#[derive(Debug, Args, Clone)]
#[group(required = true, multiple = false)]
pub(crate) struct TargetArgs {
    /// The farm-wide settings.
    #[arg(long)]
    pub(crate) farm: bool,
    /// A web application's settings.
    #[arg(long, value_name = "URL")]
    pub(crate) webapp: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// Set the administrator password (from a prompt, asked twice, or standard input).
    SetPassword,
    /// Serve Central Administration (127.0.0.1:8080 by default; HTTPS is required on
    /// any other address).
    Serve {
        /// Address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// HTTPS certificate chain (PEM), with --tls-key.
        #[arg(
            long,
            value_name = "FILE",
            requires = "tls_key",
            conflicts_with = "tls_certificate"
        )]
        tls_cert: Option<PathBuf>,
        /// HTTPS private key (PEM).
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// HTTPS with a certificate from the farm's End Entity store.
        #[arg(long, value_name = "REF")]
        tls_certificate: Option<String>,
    },
}

/// Settings level for sending: a web application, or the farm when none is given.
#[derive(Debug, Args, Clone)]
pub(crate) struct OptionalTarget {
    /// Use the farm's settings.
    #[arg(long, conflicts_with = "webapp")]
    pub(crate) farm: bool,
    /// Use this web application's effective settings.
    #[arg(long, value_name = "URL")]
    pub(crate) webapp: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum WebappCommand {
    /// Add a web application (the URL is normalised).
    Add {
        /// Its URL, e.g. https://intranet.contoso.com.
        url: String,
        /// A display name.
        #[arg(long)]
        name: Option<String>,
    },
    /// List web applications with their effective SMTP server, certificate and problems.
    List,
    /// Remove a web application with its settings and binding.
    Remove {
        /// Its URL.
        url: String,
        /// Also when a certificate is bound to its own settings (the binding goes too).
        #[arg(long)]
        force: bool,
    },
}

// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum SmtpCommand {
    /// Set outgoing e-mail settings; an option left out keeps its current value.
    #[command(
        after_help = "EXAMPLES:\n  mailcert smtp set --farm --smtp-server relay.contoso.com --from sharepoint@contoso.com\n  mailcert smtp set --webapp https://intranet --smtp-server relay --certificate name:relay-2026\n  mailcert smtp set --webapp https://intranet --smtp-user svc --smtp-password-file pw.txt\n  mailcert smtp set --farm --no-certificate\n  mailcert smtp set --farm --server mail2 --certificate name:mail2-2026   # mail2 only\n\nWith --server NAME the change is for server NAME only (SharePoint's -NotProvisionGlobally):\nthose settings override the level's on that server, and start as a copy of them."
    )]
    Set {
        #[command(flatten)]
        target: TargetArgs,
        /// SMTP server host name or IP address (needed the first time).
        #[arg(long, value_name = "HOST")]
        smtp_server: Option<String>,
        /// Port (default 25; 465 for implicit TLS).
        #[arg(long, value_name = "N")]
        port: Option<String>,
        /// starttls (default), tls (implicit TLS) or none.
        #[arg(long, value_name = "MODE", conflicts_with = "disable_smtp_encryption")]
        encryption: Option<mailcert_binding::Encryption>,
        /// Same as --encryption none.
        #[arg(long)]
        disable_smtp_encryption: bool,
        /// Client certificate to present (must be eligible).
        #[arg(long, value_name = "REF", conflicts_with = "no_certificate")]
        certificate: Option<String>,
        /// Stop presenting a client certificate.
        #[arg(long)]
        no_certificate: bool,
        /// From address (an empty value clears it).
        #[arg(long, value_name = "ADDR")]
        from: Option<String>,
        /// Reply-To address (an empty value clears it).
        #[arg(long, value_name = "ADDR")]
        reply_to: Option<String>,
        /// SMTP user name; the password comes from --smtp-password-file or a prompt.
        #[arg(long, value_name = "USER", conflicts_with = "no_smtp_credentials")]
        smtp_user: Option<String>,
        /// File holding the SMTP password (`-` for standard input).
        #[arg(long, value_name = "FILE", requires = "smtp_user")]
        smtp_password_file: Option<PathBuf>,
        /// Environment variable holding the SMTP password.
        #[arg(
            long,
            value_name = "VAR",
            requires = "smtp_user",
            conflicts_with = "smtp_password_file"
        )]
        smtp_password_env: Option<String>,
        /// Send anonymously: drop the stored credentials.
        #[arg(long)]
        no_smtp_credentials: bool,
        /// Character set of messages mailcert builds (default utf-8).
        #[arg(long, value_name = "CS")]
        charset: Option<String>,
        /// HELO/EHLO name (default: this host's name; an empty value returns to it).
        #[arg(long, value_name = "NAME")]
        helo: Option<String>,
        /// Exchange Online: the inbound connector's TlsSenderCertificateName, which the
        /// bound certificate's DNS name must match (checked now, by smtp test and by
        /// health); an empty value clears it.
        #[arg(long, value_name = "NAME")]
        tls_sender_name: Option<String>,
    },
    /// Show the effective settings and where they come from; exit 3 when the bound
    /// certificate has become ineligible or was removed.
    Show {
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Connect, negotiate TLS with the bound certificate, EHLO, authenticate, and quit
    /// without sending: a report of each step.
    Test {
        #[command(flatten)]
        target: TargetArgs,
        /// Seconds each SMTP step may take, however slowly the server answers (lookup,
        /// connect and greeting; TLS; each command; each 64 KiB of the message);
        /// RFC 5321's timeouts are the ceiling.
        #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
        timeout: u64,
    },
    /// Drop a web application's own settings so that it uses the farm's; with --server
    /// NAME, drop that server's own settings (of the farm or a web application) instead.
    Clear {
        /// The web application.
        #[arg(long, value_name = "URL", required_unless_present = "farm")]
        webapp: Option<String>,
        /// The farm's settings (with --server NAME: that server's own).
        #[arg(long, conflicts_with = "webapp")]
        farm: bool,
    },
}

/// Where a secret comes from; never the command line itself.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct PasswordSource {
    /// Read the password from FILE (`-` for standard input); one trailing newline is dropped.
    #[arg(long, value_name = "FILE", conflicts_with = "password_env")]
    pub(crate) password_file: Option<PathBuf>,
    /// Read the password from environment variable VAR.
    #[arg(long, value_name = "VAR")]
    pub(crate) password_env: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CertCommand {
    /// Import certificates (PFX/PKCS#12, PEM, DER, P7B) with their private keys.
    #[command(
        after_help = "EXAMPLES:\n  mailcert cert import client.pfx --password-file pass.txt --friendly-name relay\n  mailcert cert import client.pem --key client.key\n  mailcert cert import certs/*   # each file reported, bad ones change nothing"
    )]
    Import {
        /// Files to import; each is one transaction.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Store for the leaf certificate (default end-entity; CA certificates without a key go to intermediate/root).
        #[arg(long, value_name = "STORE")]
        store: Option<StoreName>,
        #[command(flatten)]
        password: PasswordSource,
        /// Private key file for a certificate file that has none (PEM or DER).
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Friendly name for the leaf.
        #[arg(long, value_name = "NAME")]
        friendly_name: Option<String>,
        /// Allow the private key to be exported later (pfx, pem).
        #[arg(long)]
        exportable: bool,
        /// The certificate renews one already bound (same subject and alternative names,
        /// later expiry): it takes over its bindings.
        #[arg(long)]
        replace: bool,
        /// A self-signed CA certificate that comes with the file goes to Pending, not
        /// Root: it does not become a trust anchor for the relays' server certificates.
        #[arg(long)]
        no_chain_trust: bool,
    },
    /// List certificates.
    List {
        /// Only this store.
        #[arg(long, value_name = "STORE")]
        store: Option<StoreName>,
        /// Only certificates eligible for SMTP client authentication now.
        #[arg(long)]
        eligible: bool,
        /// Only certificates that expire within DAYS days.
        #[arg(long, value_name = "DAYS")]
        expiring_within: Option<u32>,
        /// Only expired certificates.
        #[arg(long)]
        expired: bool,
        /// Only certificates bound to outgoing e-mail settings.
        #[arg(long)]
        in_use: bool,
        /// Show names in full, the NAME column as wide as the longest (the table is
        /// then printed once all rows are read).
        #[arg(long, short = 'w')]
        wide: bool,
    },
    /// Show one certificate in detail.
    Show {
        /// SHA-1 or SHA-256 thumbprint, a unique prefix (8+ hex digits), or name:FRIENDLY-NAME.
        reference: String,
    },
    /// Check eligibility for SMTP client authentication; exit 3 when ineligible.
    Check {
        /// Certificate reference.
        reference: String,
        /// Also the Exchange Online connector rule: a DNS name of the certificate (SAN,
        /// or CN without one; wildcards as Exchange matches them) equals NAME.
        #[arg(long, value_name = "NAME")]
        tls_sender_name: Option<String>,
    },
    /// Export a certificate (and, where allowed, its key).
    #[command(
        after_help = "pfx carries the key: refused unless it was imported --exportable.\npem carries the key when exportable, else the certificate only.\nder and p7b never carry a key."
    )]
    Export {
        /// Certificate reference.
        reference: String,
        /// pem, der, pfx or p7b.
        #[arg(long)]
        format: mailcert_store::ExportFormat,
        /// Output file (written 0600 when it carries the key), or - for standard output.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace FILE when it exists.
        #[arg(long)]
        force: bool,
        /// Add the issuing certificates held in the farm.
        #[arg(long)]
        include_chain: bool,
        #[command(flatten)]
        password: PasswordSource,
        /// PFX encryption: aes256 (default) or 3des for old systems.
        #[arg(long, value_name = "ALG", default_value = "aes256")]
        pfx_encryption: PfxEnc,
        /// PEM: the certificates alone, even when the key is exportable.
        #[arg(long)]
        no_key: bool,
    },
    /// Remove a certificate and its key.
    Remove {
        /// Certificate reference.
        reference: String,
        /// Also clear the bindings that use it.
        #[arg(long)]
        force: bool,
    },
    /// Move a certificate to another store.
    Move {
        /// Certificate reference.
        reference: String,
        /// Target store.
        #[arg(long, value_name = "STORE")]
        to: StoreName,
        /// Also clear the bindings that use it.
        #[arg(long)]
        force: bool,
    },
    /// Move every binding of OLD to NEW (NEW must be eligible), in one transaction.
    Switch {
        /// The certificate bound now.
        old_ref: String,
        /// The certificate to bind instead.
        new_ref: String,
    },
    /// Give a certificate a new friendly name.
    Rename {
        /// Certificate reference.
        reference: String,
        /// The new friendly name.
        new_friendly_name: String,
    },
    /// Certificate requests (New-SPCertificate): a key made and sealed in the farm, and a
    /// PKCS#10 request (CSR) for a CA to sign.
    #[command(subcommand)]
    Request(RequestCommand),
    /// Renew a certificate (Renew-SPCertificate): a request with its subject and
    /// alternative names; importing the signed certificate takes over its bindings.
    #[command(
        after_help = "The new key is of the same kind as the old one (RSA of the same size, or the same curve)
unless --same-key keeps the old key. Importing the signed certificate (mailcert cert import)
pairs it with the request's key and moves every binding of REF to it, in one transaction;
REF stays in its store until you remove it.

EXAMPLE:
  mailcert cert renew name:relay-2026 --out relay-2027.csr
  openssl x509 -req -in relay-2027.csr -CA ca.pem -CAkey ca.key -days 365 -copy_extensions copy -out relay-2027.pem
  mailcert cert import relay-2027.pem"
    )]
    Renew {
        /// Certificate reference.
        reference: String,
        /// Write the CSR (PEM) here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Replace FILE when it exists.
        #[arg(long, requires = "out")]
        force: bool,
        /// Keep the certificate's key instead of making a new one.
        #[arg(long)]
        same_key: bool,
    },
}

/// `mailcert cert request`.
// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum RequestCommand {
    /// Make a new key (sealed in the farm at once, never written in clear) and a CSR.
    #[command(
        after_help = "Defaults for the subject fields, key and hash come from `mailcert settings`.
The request asks for Client Authentication and digitalSignature; a common name that
is a fully qualified DNS name is also put first among the alternative names.
Import the signed certificate with `mailcert cert import FILE` (PEM, DER or P7B): it is
paired with the request's key and goes to End Entity.

EXAMPLES:
  mailcert cert request new --common-name relay-client.contoso.com --out relay.csr
  mailcert cert request new --common-name relay-client --key-algorithm ecc --elliptic-curve p384"
    )]
    New {
        /// The subject's common name (CN).
        #[arg(long, value_name = "CN")]
        common_name: String,
        /// A DNS name or IP address for the Subject Alternative Name (repeatable).
        #[arg(long, value_name = "NAME")]
        alternative_name: Vec<String>,
        /// Organization (O).
        #[arg(long, value_name = "O")]
        organization: Option<String>,
        /// Organizational unit (OU).
        #[arg(long, value_name = "OU")]
        organizational_unit: Option<String>,
        /// Locality or city (L).
        #[arg(long, value_name = "L")]
        locality: Option<String>,
        /// State or province (ST).
        #[arg(long, value_name = "S")]
        state: Option<String>,
        /// Two-letter country code (C).
        #[arg(long, value_name = "CC")]
        country: Option<String>,
        /// rsa or ecc.
        #[arg(long, value_name = "ALG")]
        key_algorithm: Option<KeyAlgorithmArg>,
        /// RSA key size: 2048, 3072 or 4096.
        #[arg(long, value_name = "BITS")]
        key_size: Option<u32>,
        /// ECC curve: p256 or p384.
        #[arg(long, value_name = "CURVE")]
        elliptic_curve: Option<CurveArg>,
        /// Signature hash: sha256, sha384 or sha512 (ECC keys use their curve's).
        #[arg(long, value_name = "HASH")]
        hash: Option<HashArg>,
        /// Friendly name the certificate gets when it is imported.
        #[arg(long, value_name = "NAME")]
        friendly_name: Option<String>,
        /// Allow the key to be exported once the certificate is imported.
        #[arg(long)]
        exportable: bool,
        /// Write the CSR (PEM) here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Replace FILE when it exists.
        #[arg(long, requires = "out")]
        force: bool,
    },
    /// The pending requests.
    List,
    /// One pending request, with its CSR.
    Show {
        /// Key id (SHA-1 of the public key) or a unique prefix of 8+ hex digits.
        key_id: String,
    },
    /// Remove a pending request and its key.
    Remove {
        /// Key id or a unique prefix.
        key_id: String,
    },
}

/// Key algorithm choices.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum KeyAlgorithmArg {
    /// RSA.
    Rsa,
    /// ECDSA.
    Ecc,
}

/// Curve choices.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum CurveArg {
    /// NIST P-256.
    P256,
    /// NIST P-384.
    P384,
}

/// Hash choices.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum HashArg {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// `mailcert settings`.
#[derive(Debug, Subcommand)]
pub(crate) enum SettingsCommand {
    /// The farm's certificate settings: health thresholds and request defaults.
    Show,
    /// Change certificate settings (Set-SPCertificateSettings); an option left out keeps
    /// its value.
    #[command(
        after_help = "Thresholds are days; 0 turns that health rule off. The attention threshold may not be
below the warning threshold. The error threshold is how many days after expiry the
`expired` rule reports a bound certificate (afterwards `binding-broken` does).
An empty text (e.g. --organization '') clears a subject default."
    )]
    Set {
        /// upcoming-expiration: days before expiry (default 60).
        #[arg(long, value_name = "N")]
        attention_days: Option<u32>,
        /// about-to-expire: days before expiry (default 15).
        #[arg(long, value_name = "N")]
        warning_days: Option<u32>,
        /// expired: days after expiry it is reported (default 15).
        #[arg(long, value_name = "N")]
        error_days: Option<u32>,
        /// Default key algorithm: rsa or ecc.
        #[arg(long, value_name = "ALG")]
        key_algorithm: Option<KeyAlgorithmArg>,
        /// Default RSA key size: 2048, 3072 or 4096.
        #[arg(long, value_name = "BITS")]
        key_size: Option<u32>,
        /// Default ECC curve: p256 or p384.
        #[arg(long, value_name = "CURVE")]
        elliptic_curve: Option<CurveArg>,
        /// Default hash.
        #[arg(long, value_name = "HASH")]
        hash: Option<HashArg>,
        /// Default organization (O).
        #[arg(long, value_name = "O")]
        organization: Option<String>,
        /// Default organizational unit (OU).
        #[arg(long, value_name = "OU")]
        organizational_unit: Option<String>,
        /// Default locality (L).
        #[arg(long, value_name = "L")]
        locality: Option<String>,
        /// Default state or province (ST).
        #[arg(long, value_name = "S")]
        state: Option<String>,
        /// Default two-letter country code (C).
        #[arg(long, value_name = "CC")]
        country: Option<String>,
    },
    /// Certificate notification contacts: who `mailcert health --notify` mails.
    #[command(subcommand)]
    Contacts(ContactsCommand),
}

/// `mailcert settings contacts`.
#[derive(Debug, Subcommand)]
pub(crate) enum ContactsCommand {
    /// Add contacts.
    Add {
        /// E-mail addresses.
        #[arg(required = true, value_name = "ADDR")]
        addresses: Vec<String>,
    },
    /// Remove contacts.
    Remove {
        /// E-mail addresses.
        #[arg(required = true, value_name = "ADDR")]
        addresses: Vec<String>,
    },
    /// The contacts.
    List,
    /// Remove every contact.
    Clear,
}

/// PFX encryption choices.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum PfxEnc {
    /// AES-256-CBC with PBKDF2-SHA256 and a SHA-256 MAC.
    Aes256,
    /// 3DES with a SHA-1 MAC, for old systems.
    #[value(name = "3des")]
    TripleDes,
}
