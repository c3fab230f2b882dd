//! SMTP reply reading (`sender::reply::read_reply`), replies read one after another as a
//! pipelining client reads them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (replies, _why) = mailcert_sender::read_replies_for_fuzzing(data);
    for r in &replies {
        let _ = (r.enhanced_code(), r.text(), r.to_string(), r.is_positive());
    }
});
