//! Linux and Android: `sched_getaffinity` / `sched_setaffinity` on the
//! calling thread (pid 0).

use core::mem;
use std::io;

pub(crate) const SUPPORTED: bool = true;

/// `CPU_SETSIZE`: the CPUs a `cpu_set_t` can name.
const SET_SIZE: usize = 8 * mem::size_of::<libc::cpu_set_t>();

pub(crate) fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: `cpu_set_t` is a plain bit array; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
    // SAFETY: pid 0 names the calling thread; the size and the pointer
    // describe `set`, which the call fills in.
    let rc = unsafe { libc::sched_getaffinity(0, mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((0..SET_SIZE)
        // SAFETY: `cpu` is below the set's size; `set` is initialized.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

pub(crate) fn pin_current_thread(cpu: usize) -> io::Result<()> {
    if cpu >= SET_SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "CPU number beyond CPU_SETSIZE",
        ));
    }
    // SAFETY: as in `allowed_cpus`.
    let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
    // SAFETY: `cpu` is below the set's size (checked above).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 names the calling thread; the size and the pointer
    // describe `set`, which the call only reads.
    let rc = unsafe { libc::sched_setaffinity(0, mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
