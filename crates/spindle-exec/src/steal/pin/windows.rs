//! Windows: `GetProcessAffinityMask` / `SetThreadAffinityMask`.
//!
//! Both work within the process's processor group, so on a machine with
//! more than 64 logical CPUs a pool pins to the CPUs of that one group.

use std::io;
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, GetCurrentThread, GetProcessAffinityMask, SetThreadAffinityMask,
};

pub(crate) const SUPPORTED: bool = true;

pub(crate) fn allowed_cpus() -> io::Result<Vec<usize>> {
    let mut process_mask = 0_usize;
    let mut system_mask = 0_usize;
    // SAFETY: `GetCurrentProcess` returns a pseudo-handle that needs no
    // closing; both out-pointers point to live `usize`s.
    let ok =
        unsafe { GetProcessAffinityMask(GetCurrentProcess(), &mut process_mask, &mut system_mask) };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((0..usize::BITS as usize)
        .filter(|&cpu| process_mask >> cpu & 1 == 1)
        .collect())
}

pub(crate) fn pin_current_thread(cpu: usize) -> io::Result<()> {
    if cpu >= usize::BITS as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "CPU number beyond the affinity mask",
        ));
    }
    // SAFETY: `GetCurrentThread` returns a pseudo-handle for the calling
    // thread that needs no closing; the mask is a plain value.
    let previous = unsafe { SetThreadAffinityMask(GetCurrentThread(), 1 << cpu) };
    if previous == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
