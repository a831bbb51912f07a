//! Resident memory, for the scenarios that measure it (Linux only: it
//! reads `/proc`).

/// This process's resident set size in bytes: `VmRSS` of
/// `/proc/self/status`, every page of the process in RAM (heap, stacks,
/// mapped files). The kernel keeps it with per-CPU counters, so it may lag
/// by a few hundred KiB: negligible against the tens of thousands of tasks
/// the memory scenarios divide it by.
pub(crate) fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib * 1024
}
