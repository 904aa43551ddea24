//! Exit codes and the error that carries one.
//!
//! Every stage returns `anyhow::Result`; a stage that knows *why* it failed
//! (a conflict, a dropped config option, a guest panic) wraps its message in
//! a [`Failure`] with the matching [`Exit`] code. `main` walks the error
//! chain for the first `Failure` and exits with its code, so scripts can tell
//! "our patches conflict" from "the machine lacks qemu".

use std::fmt;

/// Process exit codes of `asi-tool`, documented in README.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything ran and every test passed.
    Ok = 0,
    /// A test failed (the kernel or the patches are at fault).
    TestFailed = 1,
    /// Bad command line (clap's own convention).
    Usage = 2,
    /// Infrastructure: missing tool, no disk space, build failure, bad input files.
    Infra = 3,
    /// A patch of the queue does not apply.
    Conflict = 4,
    /// `asi-tool config`: a requested Kconfig option did not survive.
    ConfigCheck = 5,
    /// Wall-clock timeout of the guest or of a test run.
    Timeout = 124,
    /// The guest kernel panicked, oopsed or warned.
    GuestPanic = 255,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// An error with a known exit code. Its message is the first line the user sees.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Builds an `anyhow::Error` carrying `exit`.
pub fn fail(exit: Exit, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        exit,
        message: message.into(),
    })
}

/// The exit code for an error: the first [`Failure`] in its chain, else `Infra`.
pub fn exit_code_of(err: &anyhow::Error) -> Exit {
    err.chain()
        .find_map(|e| e.downcast_ref::<Failure>())
        .map(|f| f.exit)
        .unwrap_or(Exit::Infra)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn exit_code_survives_context() {
        let err = Err::<(), _>(fail(Exit::Conflict, "patch 2 does not apply"))
            .context("applying the queue")
            .unwrap_err();
        assert_eq!(exit_code_of(&err), Exit::Conflict);
        assert_eq!(exit_code_of(&anyhow::anyhow!("plain")), Exit::Infra);
    }
}
