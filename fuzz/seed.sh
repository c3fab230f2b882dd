#!/usr/bin/env bash
# Seeds each fuzz target's corpus (fuzz/corpus/TARGET, not committed) from the fixtures
# and the regression inputs, so libFuzzer starts from real files instead of nothing.
#
#   bash fuzz/seed.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FIX="$HERE/../fixtures/files"
REG="$HERE/../fixtures/regressions"
CORPUS="$HERE/corpus"

# seed TARGET FILE...: copies each existing file into the target's corpus.
seed() {
    local target=$1
    shift
    mkdir -p "$CORPUS/$target"
    local f
    for f in "$@"; do
        [ -f "$f" ] && cp "$f" "$CORPUS/$target/"
    done
    return 0
}

shopt -s nullglob
# (a) containers: every certificate file and container.
seed parse_bundle "$FIX"/*.pem "$FIX"/*.cer "$FIX"/*.p7b "$FIX"/*.pfx "$FIX"/*.p12 \
    "$REG"/parse_bundle/*
# (b) keys: every key file (PKCS#8, encrypted PKCS#8, PKCS#1, SEC1, Proc-Type PEM), plus
#     DER forms of a few, made here so that the DER path has seeds too.
seed private_key "$FIX"/*.key "$REG"/private_key/*
if command -v openssl >/dev/null; then
    for k in client-rsa client-p256 client-ed25519; do
        openssl pkey -in "$FIX/$k.key" -outform DER -out "$CORPUS/private_key/$k.der" 2>/dev/null || true
    done
    openssl pkey -in "$FIX/client-rsa.key" -traditional -outform DER \
        -out "$CORPUS/private_key/client-rsa.pkcs1.der" 2>/dev/null || true
fi
# (c) SMTP replies, as relays send them.
mkdir -p "$CORPUS/smtp_reply"
printf '220 mx.example.org ESMTP Postfix\r\n' >"$CORPUS/smtp_reply/greeting"
printf '250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n' \
    >"$CORPUS/smtp_reply/ehlo"
printf '250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <x@example.org>: Recipient address rejected\r\n354 End data with <CR><LF>.<CR><LF>\r\n' \
    >"$CORPUS/smtp_reply/pipelined"
printf '334 VXNlcm5hbWU6\r\n235 2.7.0 Authentication successful\r\n221 2.0.0 Bye\r\n' \
    >"$CORPUS/smtp_reply/auth"
printf '421 4.7.0 mx.example.org Error: too many errors\n' >"$CORPUS/smtp_reply/lf-only"
seed smtp_reply "$REG"/smtp_reply/*
# (d) whole messages for sendmail -t.
mkdir -p "$CORPUS/raw_message"
printf 'From: App <app@example.org>\r\nTo: a@example.org, "B, Person" <b@example.org>\r\nCc: c@example.org\r\nBcc: hidden@example.org\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\r\nbody\r\n' \
    >"$CORPUS/raw_message/headers"
printf 'To: group: a@example.org, b@example.org;\nSubject: folded\n  continuation\nX-Long: x\n\n.\n..dots\n' \
    >"$CORPUS/raw_message/folded"
printf 'Subject: backup\n\ndone\n' >"$CORPUS/raw_message/no-recipients"
seed raw_message "$REG"/raw_message/*
for t in parse_bundle private_key smtp_reply raw_message; do
    printf '%s: %s seed files\n' "$t" "$(find "$CORPUS/$t" -type f | wc -l)"
done
