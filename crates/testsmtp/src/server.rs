//! The listening server: accept loop, per-connection threads, recorded state, and
//! orderly shutdown.

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::dialogue;
use crate::error::Error;
use crate::record::{ConnectionInfo, ReceivedMessage};
use crate::tls;

/// Everything the connection threads record, guarded by one lock.
#[derive(Default)]
pub(crate) struct State {
    messages: Vec<ReceivedMessage>,
    connections: Vec<ConnectionInfo>,
}

/// State shared between the handle, the accept loop and the connection threads.
pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stopping: AtomicBool,
    /// A clone of every open client socket, so shutdown can unblock their threads.
    sockets: Mutex<Vec<(u64, TcpStream)>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `f` to the record of connection `id`.
    pub(crate) fn update_connection(&self, id: u64, f: impl FnOnce(&mut ConnectionInfo)) {
        let mut state = self.state();
        if let Some(info) = state.connections.iter_mut().find(|c| c.id == id) {
            f(info);
        }
        drop(state);
        self.changed.notify_all();
    }

    /// Records an accepted message (before the client is told `250`).
    pub(crate) fn push_message(&self, message: ReceivedMessage) {
        self.state().messages.push(message);
        self.changed.notify_all();
    }

    /// Marks connection `id` closed and forgets its socket clone.
    pub(crate) fn connection_closed(&self, id: u64) {
        self.sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(sid, _)| *sid != id);
        self.update_connection(id, |c| c.closed = true);
    }
}

/// A running loopback SMTP server. It stops (listener closed, connections shut,
/// threads joined) on [`shutdown`](TestServer::shutdown) or when dropped.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Binds the configured address (`127.0.0.1:0` by default) and starts accepting.
    pub fn start(config: Config) -> Result<TestServer, Error> {
        let tls_config = tls::server_config(&config)?;
        let listener = TcpListener::bind(config.addr).map_err(|source| Error::Bind {
            addr: config.addr,
            source,
        })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: config.addr,
            source,
        })?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            stopping: AtomicBool::new(false),
            sockets: Mutex::new(Vec::new()),
            workers: Mutex::new(Vec::new()),
        });
        let context = Arc::new(dialogue::Context { config, tls_config });
        let accept_shared = shared.clone();
        let accept_thread = thread::Builder::new()
            .name(format!("testsmtp-accept-{}", addr.port()))
            .spawn(move || accept_loop(&listener, &accept_shared, &context))
            .map_err(Error::Thread)?;
        Ok(TestServer {
            addr,
            shared,
            accept_thread: Some(accept_thread),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every message accepted so far, in acceptance order.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.shared.state().messages.clone()
    }

    /// Waits until at least `n` messages have been accepted or `timeout` has passed,
    /// and returns the messages accepted by then (fewer than `n` on timeout).
    pub fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state();
        while state.messages.len() < n {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state.messages.clone()
    }

    /// How many TCP connections have been accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.state().connections.len()
    }

    /// What happened on each connection so far, in accept order.
    pub fn connection_log(&self) -> Vec<ConnectionInfo> {
        self.shared.state().connections.clone()
    }

    /// Waits until every accepted connection has ended or `timeout` has passed, and
    /// returns the connection log as it is then.
    pub fn wait_for_idle(&self, timeout: Duration) -> Vec<ConnectionInfo> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state();
        while state.connections.iter().any(|c| !c.closed) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state.connections.clone()
    }

    /// Stops the server: closes the listener, shuts every open connection and joins
    /// all threads. Calling it again does nothing.
    pub fn shutdown(&mut self) {
        let Some(accept_thread) = self.accept_thread.take() else {
            return;
        };
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept() with a connection of our own.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        if TcpStream::connect_timeout(&wake, Duration::from_secs(1)).is_ok() {
            let _ = accept_thread.join();
        }
        for (_, socket) in self
            .shared
            .sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            let _ = socket.shutdown(Shutdown::Both);
        }
        let workers: Vec<_> = self
            .shared
            .workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect();
        for worker in workers {
            let _ = worker.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, context: &Arc<dialogue::Context>) {
    let mut next_id = 1u64;
    loop {
        let accepted = listener.accept();
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(_) => {
                // Out of descriptors or an aborted handshake: back off briefly.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let id = next_id;
        next_id += 1;
        shared
            .state()
            .connections
            .push(ConnectionInfo::new(id, peer));
        if let Ok(clone) = stream.try_clone() {
            shared
                .sockets
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((id, clone));
        }
        let thread_shared = shared.clone();
        let thread_context = context.clone();
        let spawned = thread::Builder::new()
            .name(format!("testsmtp-conn-{id}"))
            .spawn(move || {
                dialogue::run(&thread_shared, &thread_context, id, stream);
                thread_shared.connection_closed(id);
            });
        let mut workers = shared
            .workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        workers.retain(|w| !w.is_finished());
        match spawned {
            Ok(handle) => workers.push(handle),
            Err(_) => {
                drop(workers);
                shared.connection_closed(id);
            }
        }
    }
}
