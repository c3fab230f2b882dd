//! The parsers meet hostile bytes: every fixture container truncated and bit-flipped at
//! many places must give a typed error or a bundle, never a panic. (A stable-toolchain
//! stand-in for a fuzz target, seeded from fixtures/.)
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;

use mailcert_store::{Input, parse_bundle};

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/files");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".json") || name.ends_with(".txt") {
            continue;
        }
        out.push((name, std::fs::read(&p).unwrap()));
    }
    out.sort();
    out
}

fn parse(name: &str, bytes: &[u8]) {
    let path = Path::new(name);
    let result = std::panic::catch_unwind(|| {
        let _ = parse_bundle(Input { path, bytes }, None, Some("fixture-pass"));
        let _ = parse_bundle(Input { path, bytes }, None, None);
    });
    assert!(
        result.is_ok(),
        "{name}: the parser panicked on {} bytes",
        bytes.len()
    );
}

#[test]
fn truncated_and_flipped_containers_never_panic() {
    let files = fixtures();
    assert!(files.len() > 40, "fixtures missing");
    let mut cases = 0;
    for (name, bytes) in &files {
        // PKCS#12 files cost a key derivation per try: fewer places for them.
        let places = if name.ends_with(".pfx") || name.ends_with(".p12") {
            6
        } else {
            40
        };
        // Truncations: many prefix lengths, including every one near the start.
        let step = (bytes.len() / places).max(1);
        let near_start = if places == 40 { 24 } else { 4 };
        for cut in (0..bytes.len())
            .step_by(step)
            .chain(0..bytes.len().min(near_start))
        {
            parse(name, &bytes[..cut]);
            cases += 1;
        }
        // Single-byte corruptions at spread-out places, three ways each.
        let step = (bytes.len() / (places * 2 / 3)).max(1);
        for at in (0..bytes.len()).step_by(step) {
            for f in [0x01u8, 0x80, 0xFF] {
                let mut m = bytes.clone();
                m[at] ^= f;
                parse(name, &m);
                cases += 1;
            }
        }
    }
    assert!(cases > 3_000, "{cases}");
}

#[test]
fn length_fields_that_lie_are_refused() {
    // DER headers claiming far more content than there is.
    for bytes in [
        &[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0x02, 0x01, 0x03][..],
        &[0x30, 0x82, 0x10, 0x00, 0x06, 0x09][..],
        &[0x30, 0x80, 0x00, 0x00][..],
        &[0x30][..],
        b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
        b"-----BEGIN PKCS7-----\nMAA=\n-----END PKCS7-----\n",
    ] {
        let r = parse_bundle(
            Input {
                path: Path::new("lying.der"),
                bytes,
            },
            None,
            None,
        );
        assert!(r.is_err(), "{bytes:?}");
    }
}
