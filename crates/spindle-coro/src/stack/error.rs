use core::fmt;

/// Why a stack could not be had.
#[derive(Debug)]
pub struct StackError {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    TooSmall(usize),
    TooLarge(usize),
    ClosureTooLarge {
        closure: usize,
        stack: usize,
    },
    Os {
        call: &'static str,
        len: usize,
        error: std::io::Error,
    },
}

impl StackError {
    pub(crate) fn too_small(size: usize) -> Self {
        StackError {
            kind: Kind::TooSmall(size),
        }
    }
    pub(crate) fn too_large(size: usize) -> Self {
        StackError {
            kind: Kind::TooLarge(size),
        }
    }
    pub(crate) fn closure_too_large(closure: usize, stack: usize) -> Self {
        StackError {
            kind: Kind::ClosureTooLarge { closure, stack },
        }
    }
    /// The last OS error, from `call` asked for `len` bytes.
    pub(crate) fn os(call: &'static str, len: usize) -> Self {
        StackError {
            kind: Kind::Os {
                call,
                len,
                error: std::io::Error::last_os_error(),
            },
        }
    }

    /// The system's error, if the system refused the memory.
    pub fn os_error(&self) -> Option<&std::io::Error> {
        match &self.kind {
            Kind::Os { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::TooSmall(n) => write!(
                f,
                "stack size {n} is below the minimum of {} bytes",
                super::MIN_STACK_SIZE
            ),
            Kind::TooLarge(n) => write!(f, "stack size {n} is too large"),
            Kind::ClosureTooLarge { closure, stack } => write!(
                f,
                "a coroutine function of {closure} bytes does not fit in a quarter of its {stack}-byte stack"
            ),
            Kind::Os { call, len, error } => {
                write!(
                    f,
                    "could not get {len} bytes of stack memory: {call} failed: {error}"
                )
            }
        }
    }
}

impl std::error::Error for StackError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.os_error().map(|e| e as _)
    }
}
