//! A process's CPU time and peak memory, read from Linux's `/proc`.

use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use crate::cmd;

/// What the router used during one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Usage {
    /// User plus system CPU time over the run.
    pub(super) cpu: Duration,
    /// The largest resident set size (`VmHWM`) during the run.
    pub(super) peak_rss_kib: u64,
}

impl Usage {
    /// CPU microseconds per completed request; `None` when nothing completed.
    pub(super) fn cpu_per_request_us(&self, requests: u64) -> Option<f64> {
        (requests > 0).then(|| self.cpu.as_secs_f64() * 1e6 / requests as f64)
    }
}

/// `utime + stime` of `pid`, in clock ticks (all threads, live and exited).
pub(super) fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    parse_cpu_ticks(&stat).with_context(|| format!("unexpected /proc/{pid}/stat: {stat}"))
}

/// The peak resident set size of `pid` in KiB.
pub(super) fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    parse_vm_hwm(&status).with_context(|| format!("no VmHWM in /proc/{pid}/status"))
}

/// Resets `pid`'s peak RSS to its current RSS, so the next reading is the peak of one run.
/// Best effort: an older kernel without it just reports the peak since start.
pub(super) fn reset_peak_rss(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`), 100 when it cannot be read.
pub(super) fn clock_ticks_per_second() -> u64 {
    cmd::output(Command::new("getconf").arg("CLK_TCK"))
        .ok()
        .and_then(|it| it.trim().parse().ok())
        .filter(|&it| it > 0)
        .unwrap_or(100)
}

pub(super) fn ticks_to_duration(ticks: u64, ticks_per_second: u64) -> Duration {
    Duration::from_secs_f64(ticks as f64 / ticks_per_second as f64)
}

/// Fields 14 and 15 of `/proc/<pid>/stat`, counted after the command name, which is in
/// parentheses and may itself contain spaces or parentheses.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    // After the name come field 3 (state) onwards; utime is field 14, stime field 15.
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_ticks_after_a_tricky_command_name() {
        let stat = "4242 (router (srv) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 \
                    250 75 0 0 20 0 3 0 100 200000000 5000 18446744073709551615";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
        assert_eq!(parse_cpu_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn reads_peak_rss() {
        let status =
            "Name:\trouter-server\nVmPeak:\t  900000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(20_480));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
    }

    #[test]
    fn reads_our_own_process() {
        let pid = std::process::id();
        assert!(peak_rss_kib(pid).unwrap() > 0);
        cpu_ticks(pid).unwrap();
        let usage = Usage {
            cpu: ticks_to_duration(50, 100),
            peak_rss_kib: 1,
        };
        assert_eq!(usage.cpu, Duration::from_millis(500));
        assert_eq!(usage.cpu_per_request_us(20_000), Some(25.0));
        assert_eq!(usage.cpu_per_request_us(0), None);
    }
}
