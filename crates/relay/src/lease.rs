//! Who holds a claim on a spooled message: a process (its pid and start time, so a
//! reused pid is not mistaken for it) and a worker within it. The spool is local to one
//! server, so whether the owner still runs can be read from `/proc`.

/// The owner of a claim, as stored in the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(String);

/// The start time of process `pid` in clock ticks since boot (field 22 of
/// `/proc/PID/stat`), or `None` when there is no such process.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    let after_name = stat.get(stat.rfind(')')? + 1..)?;
    after_name.split_whitespace().nth(19)?.parse().ok()
}

impl Owner {
    /// This process, as the main worker.
    pub fn current() -> Owner {
        let pid = std::process::id();
        let start = start_time(pid).unwrap_or(0);
        Owner(format!("pid:{pid}:{start}:main"))
    }

    /// Another worker of the same process as `base`.
    pub fn named(base: &Owner, worker: &str) -> Owner {
        let prefix = base.0.rsplit_once(':').map_or(base.0.as_str(), |(p, _)| p);
        Owner(format!("{prefix}:{worker}"))
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the process behind a stored owner still runs. Anything unreadable counts
    /// as alive: a claim is then held until its lease expires, never taken early.
    pub fn is_alive(stored: &str) -> bool {
        let mut parts = stored.split(':');
        let (Some("pid"), Some(pid), Some(start)) = (parts.next(), parts.next(), parts.next())
        else {
            return true;
        };
        let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
            return true;
        };
        if !std::path::Path::new("/proc/self/stat").exists() {
            return true;
        }
        start_time(pid) == Some(start)
    }

    /// An owner from its stored form (tests of dead owners).
    #[cfg(test)]
    pub(crate) fn parse_for_test(stored: &str) -> Owner {
        Owner(stored.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::Owner;

    #[test]
    fn this_process_is_alive_and_a_made_up_one_is_not() {
        let me = Owner::current();
        assert!(Owner::is_alive(me.as_str()), "{me:?}");
        assert!(Owner::is_alive(Owner::named(&me, "w3").as_str()));
        assert!(!Owner::is_alive("pid:999999999:5:main"));
        // Our pid with another start time: a reused pid, not us.
        let pid = std::process::id();
        assert!(!Owner::is_alive(&format!("pid:{pid}:1:main")));
        assert!(Owner::is_alive("something else"));
    }
}
