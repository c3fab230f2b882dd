//! The client against servers that refuse, stall or cheat, scripted over raw
//! loopback sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use mailcert_sender::{ConnectOptions, Security, SendError, Session};

/// Runs `script` on the first connection to a fresh loopback listener.
fn scripted(script: impl FnOnce(TcpStream) + Send + 'static) -> (u16, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        script(stream);
    });
    (port, handle)
}

fn opts(port: u16, security: Security) -> ConnectOptions {
    let mut options = ConnectOptions::new("127.0.0.1", port);
    options.security = security;
    options.extra_roots = support::root();
    options.use_platform_roots = false;
    options.timeout = Duration::from_millis(500);
    options
}

fn read_line(reader: &mut impl BufRead) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line
}

#[test]
fn connection_refused_is_named() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let err = Session::connect(&opts(port, Security::StartTls)).unwrap_err();
    assert!(matches!(err, SendError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains("connection refused"), "{err}");
    assert_eq!(err.step(), "connect");
}

#[test]
fn silent_server_times_out_at_the_greeting() {
    let (port, handle) = scripted(|stream| {
        thread::sleep(Duration::from_millis(1500));
        drop(stream);
    });
    let started = Instant::now();
    let err = Session::connect(&opts(port, Security::StartTls)).unwrap_err();
    assert!(
        matches!(err, SendError::Timeout { step: "connect" }),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(1400));
    handle.join().unwrap();
}

#[test]
fn data_injected_after_starttls_reply_is_refused() {
    let (port, handle) = scripted(|stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut out = stream;
        out.write_all(b"220 evil ESMTP\r\n").unwrap();
        read_line(&mut reader); // EHLO
        out.write_all(b"250-evil\r\n250 STARTTLS\r\n").unwrap();
        read_line(&mut reader); // STARTTLS
        out.write_all(b"220 go ahead\r\n250 injected in clear\r\n")
            .unwrap();
        thread::sleep(Duration::from_millis(300));
    });
    let err = Session::connect(&opts(port, Security::StartTls)).unwrap_err();
    assert!(
        matches!(
            err,
            SendError::Protocol {
                step: "starttls",
                ..
            }
        ),
        "{err:?}"
    );
    handle.join().unwrap();
}

#[test]
fn starttls_refusal_carries_the_reply() {
    let (port, handle) = scripted(|stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut out = stream;
        out.write_all(b"220 mx ESMTP\r\n").unwrap();
        read_line(&mut reader);
        out.write_all(b"250-mx\r\n250 STARTTLS\r\n").unwrap();
        read_line(&mut reader);
        out.write_all(b"454 4.7.0 TLS not available due to local problem\r\n")
            .unwrap();
        read_line(&mut reader); // QUIT
    });
    let err = Session::connect(&opts(port, Security::StartTls)).unwrap_err();
    match &err {
        SendError::StartTlsRefused { reply } => assert_eq!(reply.code, 454),
        other => panic!("expected StartTlsRefused, got {other:?}"),
    }
    assert!(err.is_transient());
    handle.join().unwrap();
}

#[test]
fn endless_reply_is_cut_off() {
    let (port, handle) = scripted(|mut stream| {
        let line = b"220-spam spam spam spam spam spam spam spam spam spam spam\r\n";
        for _ in 0..200 {
            if stream.write_all(line).is_err() {
                break;
            }
        }
    });
    let err = Session::connect(&opts(port, Security::StartTls)).unwrap_err();
    assert!(
        matches!(&err, SendError::Protocol { step: "connect", detail } if detail.contains("100 lines")),
        "{err:?}"
    );
    handle.join().unwrap();
}

#[test]
fn greeting_refusal_is_reported() {
    let (port, handle) = scripted(|mut stream| {
        stream
            .write_all(b"554 5.3.2 No service for you\r\n")
            .unwrap();
    });
    let err = Session::connect(&opts(port, Security::StartTls)).unwrap_err();
    assert!(
        matches!(&err, SendError::Greeting { reply } if reply.code == 554),
        "{err:?}"
    );
    handle.join().unwrap();
}

#[test]
fn server_closing_with_421_mid_transaction_is_transient_and_final() {
    let (port, handle) = scripted(|stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut out = stream;
        out.write_all(b"220 mx ESMTP\r\n").unwrap();
        read_line(&mut reader); // EHLO
        out.write_all(b"250-mx\r\n250 PIPELINING\r\n").unwrap();
        read_line(&mut reader); // MAIL (RCPT and DATA follow in the same write)
        out.write_all(b"421 4.3.2 Shutting down\r\n").unwrap();
    });
    let mut session = Session::connect(&opts(port, Security::None)).unwrap();
    let err = session
        .send(
            &mailcert_sender::Envelope::new("a@example.org", ["b@example.org"]),
            b"hi\r\n",
        )
        .unwrap_err();
    assert!(
        matches!(&err, SendError::SenderRefused { reply } if reply.code == 421),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(!session.is_usable());
    assert!(matches!(
        session.send(&mailcert_sender::Envelope::new("a@x", ["b@x"]), b"x"),
        Err(SendError::Protocol { .. })
    ));
    handle.join().unwrap();
}

/// Writes `bytes` one at a time with `gap` between them, stopping when the client has
/// gone; returns whether every byte was written.
fn drip(stream: &mut TcpStream, bytes: &[u8], gap: Duration) -> bool {
    for b in bytes {
        if stream.write_all(&[*b]).is_err() {
            return false;
        }
        thread::sleep(gap);
    }
    true
}

/// Regression (issue 8): a greeting dripped a byte at a time, each byte well within the
/// per-read timeout, used to hold the client for as long as the server liked.
#[test]
fn dripped_greeting_hits_the_step_deadline() {
    let (port, handle) = scripted(|mut stream| {
        // 24 bytes at 100 ms: 2.4 s in all, each gap a fifth of the 500 ms step deadline.
        drip(
            &mut stream,
            b"220 slow.example ESMTP\r\n",
            Duration::from_millis(100),
        );
    });
    let started = Instant::now();
    let err = Session::connect(&opts(port, Security::None)).unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, SendError::Timeout { step: "connect" }),
        "{err:?}"
    );
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    handle.join().unwrap();
}

/// A dripped reply after a prompt greeting: the EHLO step has its own deadline.
#[test]
fn dripped_ehlo_reply_hits_the_step_deadline() {
    let (port, handle) = scripted(|stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut out = stream;
        out.write_all(b"220 mx ESMTP\r\n").unwrap();
        read_line(&mut reader); // EHLO
        drip(
            &mut out,
            b"250-mx.example greets you\r\n250 PIPELINING\r\n",
            Duration::from_millis(100),
        );
    });
    let started = Instant::now();
    let err = Session::connect(&opts(port, Security::None)).unwrap_err();
    assert!(
        matches!(err, SendError::Timeout { step: "ehlo" }),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(1500));
    handle.join().unwrap();
}

/// A server that reads the message a few bytes at a time: the data step ends at its
/// deadline instead of lasting as long as the server reads.
#[test]
fn slow_reading_server_hits_the_data_deadline() {
    let (port, handle) = scripted(|stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut out = stream;
        out.write_all(b"220 mx ESMTP\r\n").unwrap();
        read_line(&mut reader); // EHLO
        out.write_all(b"250 mx\r\n").unwrap();
        read_line(&mut reader); // MAIL
        out.write_all(b"250 ok\r\n").unwrap();
        read_line(&mut reader); // RCPT
        out.write_all(b"250 ok\r\n").unwrap();
        read_line(&mut reader); // DATA
        out.write_all(b"354 go\r\n").unwrap();
        let mut buf = [0u8; 16];
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            use std::io::Read;
            match reader.get_mut().read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => thread::sleep(Duration::from_millis(50)),
            }
        }
    });
    let mut session = Session::connect(&opts(port, Security::None)).unwrap();
    // Far more than the socket buffers hold, so the writes must wait for the reader.
    let message = vec![b'x'; 32 * 1024 * 1024];
    let started = Instant::now();
    let err = session
        .send(
            &mailcert_sender::Envelope::new("a@example.org", ["b@example.org"]),
            &message,
        )
        .unwrap_err();
    assert!(
        matches!(err, SendError::Timeout { step: "data" }),
        "{err:?}"
    );
    drop(session);
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    handle.join().unwrap();
}
