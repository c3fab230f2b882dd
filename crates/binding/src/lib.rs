//! mailcert-binding: web applications, outgoing e-mail settings and certificate bindings.
