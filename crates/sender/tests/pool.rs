//! `send_pooled` against scripted plain-text servers: the pool shrinks when the server
//! says "too many connections", a session closed with 421 mid-way loses and duplicates
//! nothing, and results come back in input order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use mailcert_sender::{ConnectOptions, Envelope, Outgoing, Security, send_pooled};

/// What the server saw: each message's X-Seq, in arrival order.
#[derive(Default)]
struct Seen {
    seqs: Mutex<Vec<u32>>,
    connections: AtomicUsize,
}

/// A plain SMTP server that refuses connections beyond `max_sessions` with `busy_reply`
/// at the greeting, and closes a session with 421 after `close_after` messages.
fn server(
    max_sessions: usize,
    busy_reply: &'static str,
    close_after: Option<usize>,
) -> (u16, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Seen::default());
    let open = Arc::new(AtomicUsize::new(0));
    let s2 = seen.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            s2.connections.fetch_add(1, Ordering::SeqCst);
            if open.fetch_add(1, Ordering::SeqCst) >= max_sessions {
                open.fetch_sub(1, Ordering::SeqCst);
                let mut s = stream;
                let _ = s.write_all(busy_reply.as_bytes());
                continue;
            }
            let seen = s2.clone();
            let open = open.clone();
            thread::spawn(move || {
                session(stream, &seen, close_after);
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (port, seen)
}

fn session(stream: TcpStream, seen: &Seen, close_after: Option<usize>) {
    let mut out = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let _ = out.write_all(b"220 pool.test ESMTP\r\n");
    let mut delivered = 0;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-pool.test\r\n250 8BITMIME\r\n",
            "MAIL" if close_after.is_some_and(|n| delivered >= n) => {
                let _ = out.write_all(b"421 4.3.2 Shutting down\r\n");
                return;
            }
            "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 ok\r\n",
            "DATA" => {
                let _ = out.write_all(b"354 go\r\n");
                let mut seq: Option<u32> = None;
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("X-Seq: ") {
                        seq = v.trim().parse().ok();
                    }
                }
                seen.seqs.lock().unwrap().extend(seq);
                delivered += 1;
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = out.write_all(b"221 bye\r\n");
                return;
            }
            _ => b"500 what\r\n",
        };
        if out.write_all(reply).is_err() {
            return;
        }
    }
}

fn messages(n: u32) -> Vec<Outgoing> {
    (0..n)
        .map(|i| Outgoing {
            envelope: Envelope::new("a@example.org", ["b@example.org"]),
            data: format!("Subject: {i}\r\nX-Seq: {i}\r\n\r\nbody\r\n").into_bytes(),
        })
        .collect()
}

fn options(port: u16) -> ConnectOptions {
    let mut o = ConnectOptions::new("127.0.0.1", port);
    o.security = Security::None;
    o.timeout = Duration::from_secs(5);
    o
}

fn sorted(seen: &Seen) -> Vec<u32> {
    let mut v = seen.seqs.lock().unwrap().clone();
    v.sort_unstable();
    v
}

#[test]
fn too_many_connections_shrinks_the_pool_and_every_message_arrives_once() {
    for busy in [
        "452 4.3.2 Too many connections\r\n",
        "421 4.7.0 Too many connections\r\n",
    ] {
        let (port, seen) = server(2, busy, None);
        let results = send_pooled(&options(port), &messages(30), 4);
        assert_eq!(results.len(), 30);
        assert!(results.iter().all(Result::is_ok), "{busy}: {results:?}");
        assert_eq!(sorted(&seen), (0..30).collect::<Vec<_>>(), "each once");
    }
}

#[test]
fn a_session_closed_with_421_loses_and_duplicates_nothing() {
    // Every session ends with 421 after 3 messages: the pool reconnects and goes on.
    let (port, seen) = server(4, "421 busy\r\n", Some(3));
    let results = send_pooled(&options(port), &messages(25), 3);
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 25, "{results:?}");
    assert_eq!(sorted(&seen), (0..25).collect::<Vec<_>>(), "each once");
    assert!(
        seen.connections.load(Ordering::SeqCst) >= 9,
        "it reconnected"
    );
}

#[test]
fn nothing_listening_fails_every_message_with_the_reason() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let results = send_pooled(&options(port), &messages(5), 4);
    assert_eq!(results.len(), 5);
    assert!(results.iter().all(Result::is_err));
    let first = results.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert!(first.to_string().contains("refused"), "{first}");
}
