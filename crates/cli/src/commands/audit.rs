//! `mailcert audit [--since TIME]`.

use anyhow::{Result, bail};
use mailcert_store::rfc3339;

use super::Globals;
use crate::{Exit, context, exit};

/// The earliest time `--since` may name: 0001-01-01T00:00:00Z.
const MIN_TIME: i64 = -62_135_596_800;

/// Parses `--since`: RFC 3339, a date, or an age such as 90m, 24h, 7d.
pub(crate) fn parse_since(s: &str, now: i64) -> Result<i64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    if !num.is_empty() {
        let secs: i64 = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 604_800,
            _ => 0,
        };
        if secs > 0 {
            // An age beyond what the clock can count back is a usage error, not an overflow.
            return num
                .parse::<i64>()
                .ok()
                .and_then(|n| n.checked_mul(secs))
                .and_then(|age| now.checked_sub(age))
                .filter(|t| *t >= MIN_TIME)
                .ok_or_else(|| {
                    Exit {
                        code: exit::USAGE,
                        message: format!(
                            "--since '{s}' reaches back before the year 1; give a smaller age or a date"
                        ),
                    }
                    .into()
                });
        }
    }
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(s, fmt) {
        return Ok(d.midnight().assume_utc().unix_timestamp());
    }
    bail!(Exit {
        code: exit::USAGE,
        message: format!(
            "--since '{s}' is not a time: use 2026-11-28T10:00:00Z, 2026-11-28, or an age like 24h or 7d"
        ),
    })
}

pub(crate) fn run(g: &Globals, since: Option<&str>) -> Result<u8> {
    let mut farm = context::open(g)?;
    let now = context::now()?;
    let since = match since {
        Some(s) => parse_since(s, now)?,
        None => 0,
    };
    let entries = farm.read(|tx| tx.audit_since(since))?;
    if g.json {
        let v: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "at": rfc3339(e.at),
                    "actor": e.actor,
                    "action": e.action,
                    "object": e.object,
                    "detail": e.detail,
                })
            })
            .collect();
        outln!("{}", serde_json::Value::Array(v));
    } else {
        outln!(
            "{:<20}  {:<12}  {:<16}  {:<44}  DETAIL",
            "TIME",
            "USER",
            "ACTION",
            "OBJECT"
        );
        for e in &entries {
            outln!(
                "{:<20}  {:<12}  {:<16}  {:<44}  {}",
                rfc3339(e.at),
                e.actor,
                e.action,
                e.object,
                e.detail
            );
        }
    }
    Ok(exit::OK)
}
