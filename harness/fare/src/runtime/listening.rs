//! Which TCP ports a service's processes listen on, read from `/proc`: so
//! that a service that binds another port than the one fare handed it is
//! told so at once, with the port it took, instead of "not ready" when the
//! readiness deadline runs out.

use std::collections::BTreeSet;

/// The ports every process of the group `leader` leads listens on (IPv4
/// and IPv6); empty where `/proc` cannot tell (another OS, a process gone).
pub fn ports_of_group(leader: u32) -> BTreeSet<u16> {
    let inodes = socket_inodes(&group_members(leader));
    if inodes.is_empty() {
        return BTreeSet::new();
    }
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| listening(&text))
        .filter(|(_, inode)| inodes.contains(inode))
        .map(|(port, _)| port)
        .collect()
}

/// The pids whose process group is `leader`.
fn group_members(leader: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses.
            let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
            after.split_whitespace().nth(2).and_then(|g| g.parse::<u32>().ok()) == Some(leader)
        })
        .collect()
}

/// The inodes of the sockets `pids` hold open.
fn socket_inodes(pids: &[u32]) -> BTreeSet<u64> {
    let mut inodes = BTreeSet::new();
    for pid in pids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { continue };
        for fd in fds.filter_map(Result::ok) {
            let Ok(target) = std::fs::read_link(fd.path()) else { continue };
            let target = target.to_string_lossy();
            if let Some(inode) = target.strip_prefix("socket:[").and_then(|t| t.strip_suffix(']')) {
                inodes.extend(inode.parse::<u64>().ok());
            }
        }
    }
    inodes
}

/// (port, inode) of each socket in LISTEN state (`0A`) of a `/proc/net/tcp` table.
fn listening(table: &str) -> Vec<(u16, u64)> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            if *state != "0A" {
                return None;
            }
            let port = u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()?;
            Some((port, inode.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_row_in_listen_state_gives_its_port_and_inode() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
                     0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1\n\
                     1: 0100007F:A1B2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 4343 1\n";
        assert_eq!(listening(table), [(8080, 4242)]);
    }

    #[test]
    fn a_process_group_listening_is_seen() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // SAFETY: getpgrp(2) has no preconditions.
        let group = unsafe { libc::getpgrp() } as u32;
        assert!(ports_of_group(group).contains(&port), "{:?} lacks {port}", ports_of_group(group));
    }
}
