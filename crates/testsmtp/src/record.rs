//! What the server records: messages received and connections seen.

use std::net::SocketAddr;

/// One message accepted by the server (after the final `250` to DATA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The connection it arrived on (see [`ConnectionInfo::id`]).
    pub connection_id: u64,
    /// The reverse path from MAIL FROM (empty for the null sender `<>`).
    pub mail_from: String,
    /// The accepted forward paths from RCPT TO, in order.
    pub recipients: Vec<String>,
    /// The message as received, dot-unstuffed, without the final `.` line.
    pub data: Vec<u8>,
    /// The DER certificates the client presented in the TLS handshake, leaf first;
    /// empty when it presented none or TLS was not used.
    pub client_chain: Vec<Vec<u8>>,
    /// Whether the message travelled over TLS.
    pub tls: bool,
    /// The user authenticated with AUTH, if any.
    pub auth_user: Option<String>,
    /// The SIZE parameter of MAIL FROM, if given.
    pub size_param: Option<usize>,
    /// Whether MAIL FROM carried BODY=8BITMIME.
    pub body_8bitmime: bool,
}

/// One accepted TCP connection and what happened on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// Connection number, from 1 in accept order.
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether a TLS handshake completed.
    pub tls: bool,
    /// The TLS version negotiated, e.g. `TLSv1_3`.
    pub tls_version: Option<String>,
    /// Why a TLS handshake failed, if one did (as rustls words it).
    pub tls_error: Option<String>,
    /// The client's certificate chain (DER, leaf first) if it presented one.
    pub client_chain: Vec<Vec<u8>>,
    /// The commands received, by verb (`EHLO`, `STARTTLS`, `MAIL`, ...), in order;
    /// unparsable lines are recorded as `?`.
    pub commands: Vec<String>,
    /// Bytes the client sent after STARTTLS before the handshake, which were
    /// discarded (a client doing this is open to command injection).
    pub discarded_after_starttls: usize,
    /// Whether the connection has ended.
    pub closed: bool,
}

impl ConnectionInfo {
    pub(crate) fn new(id: u64, peer: SocketAddr) -> Self {
        ConnectionInfo {
            id,
            peer,
            tls: false,
            tls_version: None,
            tls_error: None,
            client_chain: Vec::new(),
            commands: Vec::new(),
            discarded_after_starttls: 0,
            closed: false,
        }
    }
}
