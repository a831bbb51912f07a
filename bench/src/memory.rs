//! Resident memory, for the scenarios that measure it (Linux only: it
//! reads `/proc`).

/// This process's resident anonymous memory in bytes: `RssAnon` of
/// `/proc/self/status`, every page of heap, stacks and other private
/// memory in RAM. Pages of mapped files are left out: code of the C
/// library or the binary paged in while a measurement runs (a few dozen
/// KiB, read on first use) is not memory the tasks hold, and would show
/// as a byte or so per task. The kernel keeps the count with per-CPU
/// counters, so it may lag by a few hundred KiB: negligible against the
/// tens of thousands of tasks the memory scenarios divide it by.
pub(crate) fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("RssAnon:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse().ok())
        .expect("RssAnon in /proc/self/status");
    kib * 1024
}
