//! Kernel versions as users and ci/matrix.toml write them: `MAJOR.MINOR`
//! (the newest patch release available) or `MAJOR.MINOR.PATCH`. One parser
//! for the command line (a clap value parser, so that a bad `--kernel` is
//! a usage error before anything runs), the matrix file and the fetcher.

use std::fmt;
use std::str::FromStr;

/// What a version looks like, for error messages.
pub const SYNTAX: &str = "MAJOR.MINOR (newest available) or MAJOR.MINOR.PATCH";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
    /// `None`: the newest patch release of `MAJOR.MINOR`.
    pub patch: Option<u32>,
}

impl KernelVersion {
    /// The numbers, `[major, minor]` or `[major, minor, patch]`.
    pub fn parts(&self) -> Vec<u32> {
        let mut v = vec![self.major, self.minor];
        v.extend(self.patch);
        v
    }
}

impl FromStr for KernelVersion {
    type Err = String;

    /// Decimal digits only in each part: no sign, no space, no suffix
    /// (`u32::from_str` alone would take `+12`).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a kernel version: use {SYNTAX}");
        let parts = s
            .split('.')
            .map(|p| {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                p.parse::<u32>().map_err(|_| bad())
            })
            .collect::<Result<Vec<u32>, String>>()?;
        match parts[..] {
            [major, minor] => Ok(Self {
                major,
                minor,
                patch: None,
            }),
            [major, minor, patch] => Ok(Self {
                major,
                minor,
                patch: Some(patch),
            }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if let Some(p) = self.patch {
            write!(f, ".{p}")?;
        }
        Ok(())
    }
}

/// clap value parser for a version argument: the text as given, once it
/// parses (the cache and the results name versions by their text).
pub fn arg(s: &str) -> Result<String, String> {
    s.parse::<KernelVersion>().map(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_users_write() {
        let v: KernelVersion = "6.12.107".parse().unwrap();
        assert_eq!(v.parts(), vec![6, 12, 107]);
        assert_eq!(v.to_string(), "6.12.107");
        let v: KernelVersion = "7.3".parse().unwrap();
        assert_eq!((v.major, v.minor, v.patch), (7, 3, None));
        assert_eq!(v.to_string(), "7.3");
        assert!(
            "6.12" < "6.2" && "6.12".parse::<KernelVersion>().unwrap() > "6.2".parse().unwrap()
        );
    }

    #[test]
    fn refuses_the_rest() {
        for bad in [
            "",
            "6",
            "6.",
            ".12",
            "6..1",
            "6.12.1.1",
            "v6.12",
            "6.12-rc1",
            "6.+12",
            "6. 12",
            "6.12.",
            "99999999999.1",
            "six.twelve",
        ] {
            let e = bad.parse::<KernelVersion>().unwrap_err();
            assert!(
                e.contains("is not a kernel version") && e.contains(SYNTAX),
                "{bad:?}: {e}"
            );
            assert!(arg(bad).is_err(), "{bad:?}");
        }
        assert_eq!(arg("6.12.107").unwrap(), "6.12.107");
    }
}
