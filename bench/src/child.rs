//! Child processes: a system that may crash (a peer known to fail at some
//! size) or whose memory must be measured in a process of its own runs in
//! a fresh copy of this binary, so that its failure is reported as `fail`
//! instead of taking the harness down, and no other system's memory is
//! counted with its own.
//!
//! The parent runs `spindle-bench --child SCENARIO SYSTEM N` ([`run`]);
//! `main` hands that to the scenario's table of [`Entry`]s. A child speaks
//! on stdout through [`emit`] only, one line at a time: progress as it
//! goes, its result last. The parent keeps every line, so a child that
//! dies mid-way still leaves its last word. A panic in a child ends it at
//! once, the message as the last line of its stderr ([`set_panic_hook`]):
//! may catches a panic per coroutine, and a coroutine whose child panicked
//! can then wait forever on it.
//!
//! Adding a system to a scenario that runs its systems in children is a
//! row in that scenario's table: `("name", |n| ...)`.

use crate::harness::Sample;
use std::fmt::Display;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The hidden first argument that makes this binary a child.
pub(crate) const FLAG: &str = "--child";

/// A system a child can run: its name and what the child does with `n`.
pub(crate) type Entry = (&'static str, fn(usize));

/// Child side: prints one line for the parent.
pub(crate) fn emit(line: impl Display) {
    // stdout is line buffered: the line is out before the next statement,
    // so a crash right after cannot lose it.
    println!("{line}");
}

/// Child side: ends the process on the first panic, in any thread or
/// coroutine, with exit code 101 and the message on one stderr line.
pub(crate) fn set_panic_hook() {
    static FIRST: Mutex<()> = Mutex::new(());
    std::panic::set_hook(Box::new(|info| {
        // Only the first panic speaks: several workers can fail at once,
        // and the exit could cut another's line short, the one the parent
        // reads. The lock is never released: the others wait here for it.
        let _first = FIRST.lock();
        let message = info.payload_as_str().unwrap_or("(not a string)");
        let location = info
            .location()
            .map_or_else(String::new, |l| format!(" at {l}"));
        // No backtrace: when a child fails for want of memory maps, the
        // allocations a backtrace makes fail too, and abort.
        eprintln!("panicked{location}: {}", message.replace('\n', " "));
        std::process::exit(101);
    }));
}

/// Child side, for a scenario timed in children: runs `work` on a tenth of
/// `n` to warm up (as the harness does in its own process), then on `n`,
/// and emits how long that took, in nanoseconds.
pub(crate) fn time(n: usize, work: impl Fn(usize)) {
    work(n.div_ceil(10));
    let start = Instant::now();
    work(n);
    emit(start.elapsed().as_nanos());
}

/// Parent side: the [`Entry`] `system` of `scenario`, run on `n` in a
/// child and timed by the child ([`time`]); for [`System::timed`].
///
/// [`System::timed`]: crate::harness::System::timed
pub(crate) fn timed(
    scenario: &'static str,
    system: &'static str,
    timeout: Duration,
) -> impl FnMut(usize) -> Result<Duration, String> {
    move |n| {
        let last = run(scenario, system, n, timeout).last()?;
        let nanos = last
            .parse()
            .map_err(|_| format!("{system}: child printed {last:?}, not nanoseconds"))?;
        Ok(Duration::from_nanos(nanos))
    }
}

/// Parent side: the [`Entry`] `system` of `scenario`, run on `n` in a
/// child that prints its measured value last; for [`System::sampled`].
///
/// [`System::sampled`]: crate::harness::System::sampled
pub(crate) fn sampled(
    scenario: &'static str,
    system: &'static str,
    timeout: Duration,
) -> impl FnMut(usize) -> Sample {
    move |n| {
        let last = run(scenario, system, n, timeout).last()?;
        last.parse()
            .map_err(|_| format!("{system}: child printed {last:?}, not a number"))
    }
}

/// What a child printed, and how it ended.
pub(crate) struct Outcome {
    /// Every stdout line, in order.
    pub(crate) lines: Vec<String>,
    /// Why the child did not exit with 0 (its `n`, its exit code or
    /// signal, the last line of its stderr); `None` if it did.
    pub(crate) failure: Option<String>,
}

impl Outcome {
    /// The child's last line, if it exited with 0 after printing one.
    pub(crate) fn last(self) -> Result<String, String> {
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        self.lines
            .into_iter()
            .last()
            .ok_or_else(|| "the child printed nothing".to_string())
    }
}

/// Parent side: runs the [`Entry`] `system` of `scenario` on `n` in a
/// child, killing it after `timeout`.
pub(crate) fn run(scenario: &str, system: &str, n: usize, timeout: Duration) -> Outcome {
    let spawned = std::env::current_exe().and_then(|exe| {
        Command::new(exe)
            .args([FLAG, scenario, system, &n.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
    });
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            return Outcome {
                lines: Vec::new(),
                failure: Some(format!("cannot start a child: {err}")),
            };
        }
    };
    // Both pipes are drained as the child writes, so that it never blocks
    // on a full one.
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        // A read error leaves what was read: the reason is best effort.
        let _ = BufReader::new(stderr).read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + timeout;
    let ended = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(None) => {
                // Killing our own child, by its handle; it may have just
                // exited, which is as good.
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("no answer after {timeout:?}: killed"));
            }
            Err(err) => break Err(format!("cannot wait for the child: {err}")),
        }
    };
    let lines = lines.join().expect("child stdout reader");
    let errors = errors.join().expect("child stderr reader");
    let failure = match ended {
        Ok(status) if status.success() => {
            // A healthy child has nothing to say there; pass on what it did.
            eprint!("{errors}");
            None
        }
        Ok(status) => Some(match errors.lines().rfind(|l| !l.trim().is_empty()) {
            Some(last) => format!("{}: {last}", describe(status)),
            None => describe(status),
        }),
        Err(reason) => Some(reason),
    }
    .map(|reason| format!("n = {n}: {reason}"));
    Outcome { lines, failure }
}

/// "exit code 101", "killed by SIGSEGV", ...
fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exit code {code}");
    }
    match status.signal() {
        Some(libc::SIGABRT) => "aborted (SIGABRT)".to_string(),
        Some(libc::SIGSEGV) => "killed by SIGSEGV".to_string(),
        Some(libc::SIGBUS) => "killed by SIGBUS".to_string(),
        Some(libc::SIGKILL) => "killed by SIGKILL (out of memory?)".to_string(),
        Some(signal) => format!("killed by signal {signal}"),
        None => format!("{status}"),
    }
}
