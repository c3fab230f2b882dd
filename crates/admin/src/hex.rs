//! Hex for session cookies and CSRF tokens, through base16ct (constant-time, no
//! hand-written table).

/// Lower-case hex of `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(bytes)
}

/// The bytes of hex text in either case; `None` for anything else (odd length, a
/// character that is not a hex digit).
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    base16ct::mixed::decode_vec(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        assert_eq!(encode(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(decode("00ABff"), Some(vec![0, 0xab, 0xff]));
        for bad in ["0", "g0", "é0", "0x00"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
