//! Reading the files and standard input that commands take, with a limit per kind of
//! input. Only regular files are read (a FIFO would hang, `/dev/zero` would never end),
//! and every read goes through `take(limit + 1)`, so the limit holds whatever the file's
//! metadata claims and whatever arrives on standard input.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use zeroize::Zeroizing;

use crate::{Exit, exit};

/// What is being read, which decides the limit and the words of an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A certificate container or key file (PFX, PEM, DER, P7B).
    Certificate,
    /// A whole RFC 5322 message or a message body.
    Message,
    /// A password file.
    Password,
}

/// Largest message `send`/`sendmail` read: 64 MiB.
pub(crate) const MAX_MESSAGE_BYTES: u64 = 64 * 1024 * 1024;
/// Largest password file: 64 KiB.
pub(crate) const MAX_PASSWORD_BYTES: u64 = 64 * 1024;

impl Kind {
    /// The most bytes accepted for this kind.
    pub(crate) fn limit(self) -> u64 {
        match self {
            Kind::Certificate => mailcert_store::MAX_INPUT_BYTES as u64,
            Kind::Message => MAX_MESSAGE_BYTES,
            Kind::Password => MAX_PASSWORD_BYTES,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Certificate => "certificate file",
            Kind::Message => "message",
            Kind::Password => "password file",
        }
    }
}

/// A byte count for people: "64 MiB", "16 MiB", "64 KiB".
fn size(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

fn failure(message: String) -> anyhow::Error {
    Exit {
        code: exit::ERROR,
        message,
    }
    .into()
}

fn file_type_name(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a named pipe (FIFO)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

/// Reads all of `reader`, refusing more than `kind`'s limit.
fn read_limited(mut reader: impl Read, kind: Kind, name: &str) -> anyhow::Result<Vec<u8>> {
    let limit = kind.limit();
    let mut buf = Vec::new();
    reader
        .by_ref()
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| failure(format!("{name}: cannot read the {}: {e}", kind.noun())))?;
    if buf.len() as u64 > limit {
        return Err(failure(format!(
            "{name}: the {} is larger than the {} limit for a {}; nothing was done",
            kind.noun(),
            size(limit),
            kind.noun()
        )));
    }
    Ok(buf)
}

/// Reads a regular file of the given kind.
pub(crate) fn file(path: &Path, kind: Kind) -> anyhow::Result<Vec<u8>> {
    let name = path.display().to_string();
    // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting; the
    // type check below then refuses it. It changes nothing for a regular file.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| failure(format!("{name}: cannot open the {}: {e}", kind.noun())))?;
    let meta = f
        .metadata()
        .map_err(|e| failure(format!("{name}: cannot read the {}: {e}", kind.noun())))?;
    if !meta.is_file() {
        let hint = if meta.is_dir() && kind == Kind::Certificate {
            "; give the files in it (e.g. DIR/*)"
        } else {
            ""
        };
        return Err(failure(format!(
            "{name}: is {}, not a regular file; give a {}{hint}",
            file_type_name(&meta),
            kind.noun()
        )));
    }
    if meta.len() > kind.limit() {
        return Err(failure(format!(
            "{name}: the {} is {} bytes, larger than the {} limit for a {}; nothing was done",
            kind.noun(),
            meta.len(),
            size(kind.limit()),
            kind.noun()
        )));
    }
    read_limited(f, kind, &name)
}

/// Reads standard input as the given kind.
pub(crate) fn stdin(kind: Kind) -> anyhow::Result<Vec<u8>> {
    read_limited(std::io::stdin().lock(), kind, "standard input")
}

/// Reads `path`, or standard input when it is `-`.
pub(crate) fn file_or_stdin(path: &Path, kind: Kind) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        stdin(kind)
    } else {
        file(path, kind)
    }
}

/// Reads a password from `path` (or standard input for `-`) as UTF-8 text, kept in
/// memory that is wiped when dropped.
pub(crate) fn password(path: &Path) -> anyhow::Result<Zeroizing<String>> {
    let bytes = Zeroizing::new(file_or_stdin(path, Kind::Password)?);
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        failure(format!(
            "{}: the password is not UTF-8 text",
            if path.as_os_str() == "-" {
                "standard input".to_string()
            } else {
                path.display().to_string()
            }
        ))
    })?;
    Ok(Zeroizing::new(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_for_people() {
        assert_eq!(size(64 * 1024 * 1024), "64 MiB");
        assert_eq!(size(64 * 1024), "64 KiB");
        assert_eq!(size(1000), "1000 bytes");
    }

    #[test]
    fn the_limit_holds_for_endless_readers() {
        let endless = std::io::repeat(0);
        let err = read_limited(endless, Kind::Password, "x").err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("64 KiB limit"), "{text}");
        let ok = read_limited(&b"secret\n"[..], Kind::Password, "x").ok();
        assert_eq!(ok.as_deref(), Some(&b"secret\n"[..]));
    }
}
