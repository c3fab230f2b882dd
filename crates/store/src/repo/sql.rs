//! What the two backends (SQLite, PostgreSQL) have in common: the values a statement
//! takes and gives back, and the [`Exec`] trait through which the repository runs its
//! statements inside one transaction. The repository's SQL is written once, with `?N`
//! placeholders; where the dialects differ it picks by [`Dialect`].

use crate::error::{Error, Result};

/// Which SQL dialect a transaction speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// SQLite (the bundled library).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A value bound to a statement or read from a row. Both backends store only these four
/// kinds (flags are integers 0/1, as SQLite keeps them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Text(_) => "text",
            Value::Blob(_) => "bytes",
        }
    }
}

/// Turns a Rust value into a statement argument (see the `args!` macro).
pub(crate) trait ToValue {
    fn to_value(&self) -> Value;
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}
impl ToValue for u16 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for crate::Encryption {
    fn to_value(&self) -> Value {
        Value::Text(self.as_str().to_string())
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

/// The arguments of a statement, in placeholder order (`?1`, `?2`, ...).
macro_rules! args {
    ($($e:expr),* $(,)?) => {
        [$($crate::repo::sql::ToValue::to_value(&$e)),*]
    };
}
pub(crate) use args;

/// Reads a column of a [`Row`] as a Rust value; a value of another kind is a damaged
/// database, reported as such.
pub(crate) trait FromValue: Sized {
    fn from_value(v: &Value) -> Option<Self>;
    const EXPECTED: &'static str;
}

impl FromValue for i64 {
    const EXPECTED: &'static str = "an integer";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}
impl FromValue for bool {
    const EXPECTED: &'static str = "a flag (0 or 1)";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}
impl FromValue for String {
    const EXPECTED: &'static str = "text";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl FromValue for Vec<u8> {
    const EXPECTED: &'static str = "bytes";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}
impl FromValue for crate::Encryption {
    const EXPECTED: &'static str = "an encryption (starttls, tls or none)";
    /// Only the contract's spellings are read back.
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => match s.as_str() {
                "starttls" => Some(crate::Encryption::StartTls),
                "tls" => Some(crate::Encryption::Tls),
                "none" => Some(crate::Encryption::None),
                _ => None,
            },
            _ => None,
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// One result row.
#[derive(Debug, Clone)]
pub(crate) struct Row(pub(crate) Vec<Value>);

impl Row {
    /// Column `i`, converted; a missing column or a value of the wrong kind is
    /// [`Error::BadValue`].
    pub(crate) fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self.0.get(i).unwrap_or(&Value::Null);
        T::from_value(v).ok_or_else(|| Error::BadValue {
            column: i,
            expected: T::EXPECTED,
            found: v.kind(),
        })
    }
}

/// One transaction of a backend: the only way the repository reaches a database.
pub(crate) trait Exec {
    /// Which dialect the statements must be written in.
    fn dialect(&self) -> Dialect;
    /// Runs a statement that returns no rows; how many rows it changed.
    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<u64>;
    /// Runs a query, handing each row to `each` as it arrives (large listings stream).
    fn query(
        &mut self,
        sql: &str,
        args: &[Value],
        each: &mut dyn FnMut(Row) -> Result<()>,
    ) -> Result<()>;
}

/// SQLite's side of [`Exec`]: a transaction of the bundled library.
pub(crate) struct SqliteExec<'c>(pub(crate) &'c rusqlite::Transaction<'c>);

fn to_sqlite(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Null => rusqlite::types::Value::Null,
        Value::Int(i) => rusqlite::types::Value::Integer(*i),
        Value::Text(s) => rusqlite::types::Value::Text(s.clone()),
        Value::Blob(b) => rusqlite::types::Value::Blob(b.clone()),
    }
}

fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> Result<Value> {
    use rusqlite::types::ValueRef;
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Text(t) => Value::Text(
            std::str::from_utf8(t)
                .map_err(|_| Error::BadValue {
                    column: 0,
                    expected: "UTF-8 text",
                    found: "other bytes",
                })?
                .to_string(),
        ),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        ValueRef::Real(_) => {
            return Err(Error::BadValue {
                column: 0,
                expected: "an integer, text or bytes",
                found: "a floating-point number",
            });
        }
    })
}

impl Exec for SqliteExec<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<u64> {
        let mut st = self.0.prepare_cached(sql)?;
        let n = st.execute(rusqlite::params_from_iter(args.iter().map(to_sqlite)))?;
        Ok(n as u64)
    }

    fn query(
        &mut self,
        sql: &str,
        args: &[Value],
        each: &mut dyn FnMut(Row) -> Result<()>,
    ) -> Result<()> {
        let mut st = self.0.prepare_cached(sql)?;
        let width = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(args.iter().map(to_sqlite)))?;
        while let Some(r) = rows.next()? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(from_sqlite(r.get_ref(i)?)?);
            }
            each(Row(values))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_sqlite(f: impl FnOnce(&mut dyn Exec)) {
        let mut db = rusqlite::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let tx = db.transaction().unwrap_or_else(|e| panic!("{e}"));
        f(&mut SqliteExec(&tx));
    }

    #[test]
    fn values_round_trip_and_wrong_kinds_are_named() {
        with_sqlite(|db| {
            let mut rows = Vec::new();
            db.query(
                "SELECT ?1, ?2, ?3, ?4, ?5",
                &args![
                    7i64,
                    "x",
                    b"ab".as_slice(),
                    None::<String>,
                    crate::Encryption::Tls
                ],
                &mut |r| {
                    rows.push(r);
                    Ok(())
                },
            )
            .unwrap_or_else(|e| panic!("{e}"));
            let r = &rows[0];
            assert_eq!(r.get::<i64>(0).ok(), Some(7));
            assert_eq!(r.get::<String>(1).ok().as_deref(), Some("x"));
            assert_eq!(r.get::<Vec<u8>>(2).ok(), Some(b"ab".to_vec()));
            assert_eq!(r.get::<Option<String>>(3).ok(), Some(None));
            assert_eq!(
                r.get::<crate::Encryption>(4).ok(),
                Some(crate::Encryption::Tls)
            );
            let wrong = r.get::<i64>(1).err().map(|e| e.to_string());
            assert_eq!(
                wrong.as_deref(),
                Some(
                    "farm database: column 1 holds text where an integer belongs (the database is damaged)"
                )
            );
        });
    }

    #[test]
    fn a_damaged_encryption_is_refused() {
        with_sqlite(|db| {
            let mut got = None;
            db.query("SELECT 'STARTTLS '", &[], &mut |r| {
                got = Some(r.get::<crate::Encryption>(0));
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
            assert!(matches!(got, Some(Err(Error::BadValue { .. }))));
        });
    }
}
