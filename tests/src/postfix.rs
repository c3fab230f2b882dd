//! A private Postfix instance on 127.0.0.1 for tests (being written).
