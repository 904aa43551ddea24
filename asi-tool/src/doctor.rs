//! `asi-tool doctor` and `asi-tool setup`: the prerequisites, checked one
//! by one, with the exact command that installs what is missing.

use crate::build::which;
use crate::cmd;
use anyhow::Result;
use std::path::Path;

/// virtme-ng version the project is tested with.
pub const VIRTME_NG: &str = "virtme-ng==1.42";

#[derive(Debug, Clone, Copy)]
pub enum Probe {
    Program(&'static str),
    File(&'static str),
}

#[derive(Debug, Clone, Copy)]
pub struct Prereq {
    pub what: &'static str,
    pub probe: Probe,
    /// Debian package, or None for a pip package.
    pub package: Option<&'static str>,
}

pub const PREREQS: &[Prereq] = &[
    Prereq {
        what: "git",
        probe: Probe::Program("git"),
        package: Some("git"),
    },
    Prereq {
        what: "gcc",
        probe: Probe::Program("gcc"),
        package: Some("gcc"),
    },
    Prereq {
        what: "static libc (gcc -static)",
        probe: Probe::File("/usr/lib/x86_64-linux-gnu/libc.a"),
        package: Some("libc6-dev"),
    },
    Prereq {
        what: "make",
        probe: Probe::Program("make"),
        package: Some("make"),
    },
    Prereq {
        what: "flex",
        probe: Probe::Program("flex"),
        package: Some("flex"),
    },
    Prereq {
        what: "bison",
        probe: Probe::Program("bison"),
        package: Some("bison"),
    },
    Prereq {
        what: "bc",
        probe: Probe::Program("bc"),
        package: Some("bc"),
    },
    Prereq {
        what: "perl (checkpatch.pl)",
        probe: Probe::Program("perl"),
        package: Some("perl"),
    },
    Prereq {
        what: "python3-ply (checkpatch's SPDX check)",
        probe: Probe::File("/usr/lib/python3/dist-packages/ply"),
        package: Some("python3-ply"),
    },
    Prereq {
        what: "python3-git (checkpatch's SPDX check)",
        probe: Probe::File("/usr/lib/python3/dist-packages/git"),
        package: Some("python3-git"),
    },
    Prereq {
        what: "iproute2 (in-guest network tests)",
        probe: Probe::Program("ip"),
        package: Some("iproute2"),
    },
    Prereq {
        what: "ping (in-guest network tests: veth and loopback)",
        probe: Probe::Program("ping"),
        package: Some("iputils-ping"),
    },
    Prereq {
        what: "python3 (in-guest network tests: TCP streams)",
        probe: Probe::Program("python3"),
        package: Some("python3"),
    },
    Prereq {
        what: "libcap (static, for the memfd_secret selftest)",
        probe: Probe::File("/usr/lib/x86_64-linux-gnu/libcap.a"),
        package: Some("libcap-dev"),
    },
    Prereq {
        what: "libelf headers",
        probe: Probe::File("/usr/include/libelf.h"),
        package: Some("libelf-dev"),
    },
    Prereq {
        what: "libssl headers",
        probe: Probe::File("/usr/include/openssl/ssl.h"),
        package: Some("libssl-dev"),
    },
    Prereq {
        what: "pahole",
        probe: Probe::Program("pahole"),
        package: Some("dwarves"),
    },
    Prereq {
        what: "ccache",
        probe: Probe::Program("ccache"),
        package: Some("ccache"),
    },
    Prereq {
        what: "xz",
        probe: Probe::Program("xz"),
        package: Some("xz-utils"),
    },
    Prereq {
        what: "qemu-system-x86_64",
        probe: Probe::Program("qemu-system-x86_64"),
        package: Some("qemu-system-x86"),
    },
    Prereq {
        what: "udev (vng needs it to return the guest's exit code)",
        probe: Probe::Program("udevadm"),
        package: Some("udev"),
    },
    Prereq {
        what: "kexec (the crash-dump test loads a capture kernel)",
        probe: Probe::Program("kexec"),
        package: Some("kexec-tools"),
    },
    Prereq {
        what: "makedumpfile (the crash-dump test filters the dump)",
        probe: Probe::Program("makedumpfile"),
        package: Some("makedumpfile"),
    },
    Prereq {
        what: "python3-pip",
        probe: Probe::Program("pip3"),
        package: Some("python3-pip"),
    },
    Prereq {
        what: "virtme-ng (vng)",
        probe: Probe::Program("vng"),
        package: None,
    },
];

pub fn present(p: &Prereq) -> bool {
    match p.probe {
        // kexec and makedumpfile live in /usr/sbin, which a user's PATH
        // may leave out; the guest runs them as root.
        Probe::Program(name) => {
            which(name).is_some()
                || ["/usr/sbin", "/sbin"]
                    .iter()
                    .any(|d| Path::new(d).join(name).is_file())
        }
        Probe::File(path) => Path::new(path).exists(),
    }
}

/// The debconf answer that keeps kexec-tools from changing how the host
/// reboots: its postinst would otherwise set `LOAD_KEXEC=true` in
/// /etc/default/kexec, so that every reboot of the host kexecs into its
/// kernel instead of going through the firmware. asi-tool only needs the
/// `kexec` program, inside guests.
pub const KEXEC_PRESEED: &str = "kexec-tools kexec-tools/load_kexec boolean false";

/// The commands that install `missing`.
pub fn install_commands(missing: &[&Prereq]) -> Vec<String> {
    let mut out = Vec::new();
    let debs: Vec<&str> = missing.iter().filter_map(|p| p.package).collect();
    if !debs.is_empty() {
        out.push("apt-get update".to_string());
        if debs.contains(&"kexec-tools") {
            out.push(format!("echo '{KEXEC_PRESEED}' | debconf-set-selections"));
        }
        out.push(format!(
            "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {}",
            debs.join(" ")
        ));
    }
    if missing.iter().any(|p| p.package.is_none()) {
        out.push(format!("pip3 install {VIRTME_NG}"));
    }
    out
}

/// Prints the report; returns the missing prerequisites.
pub fn doctor(cache: &crate::cache::Cache) -> Vec<&'static Prereq> {
    let mut missing = Vec::new();
    for p in PREREQS {
        let ok = present(p);
        println!("{:<4} {}", if ok { "ok" } else { "MISS" }, p.what);
        if !ok {
            missing.push(p);
        }
    }
    let kvm = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    let verdict = match (kvm, crate::vm::remembered_accel(cache)) {
        (false, _) => "is not usable: guests run under TCG (slower, works)",
        (true, Some(crate::vm::Accel::Kvm)) => "can boot a guest (probed since the host booted): KVM is used",
        (true, Some(crate::vm::Accel::Tcg)) => {
            "exists but could not boot a guest (probed since the host booted; nested KVM hangs): TCG is used"
        }
        (true, None) => {
            "is usable; whether it can really boot a guest is probed at the first boot (TCG if not)"
        }
    };
    println!("{:<4} /dev/kvm {verdict}", "info");
    // The cache holds the kernel trees and builds: its file system is the
    // one that must have room, not the current directory's.
    if let Some(free) = crate::cache::free_bytes(cache.root()) {
        println!(
            "{:<4} {} free at the cache {} (a kernel tree + build needs about 4 GiB)",
            "info",
            crate::cache::human_bytes(free),
            cache.root().display()
        );
    }
    if missing.is_empty() {
        println!("Everything asi-tool needs is installed.");
    } else {
        println!("\nMissing: install with (as root), or run `asi-tool setup`:");
        for c in install_commands(&missing) {
            println!("  {c}");
        }
    }
    missing
}

/// Installs the missing prerequisites (Debian/Ubuntu, as root).
pub fn setup() -> Result<()> {
    let missing: Vec<&Prereq> = PREREQS.iter().filter(|p| !present(p)).collect();
    if missing.is_empty() {
        println!("Everything asi-tool needs is installed.");
        return Ok(());
    }
    if which("apt-get").is_none() {
        anyhow::bail!(
            "`asi-tool setup` needs apt-get (Debian/Ubuntu); install by hand: {}",
            install_commands(&missing).join(" && ")
        );
    }
    for c in install_commands(&missing) {
        println!("$ {c}");
        let sh = xshell::Shell::new()?;
        sh.set_var("DEBIAN_FRONTEND", "noninteractive");
        let script = c
            .trim_start_matches("DEBIAN_FRONTEND=noninteractive ")
            .to_string();
        cmd::run(&sh, xshell::cmd!(sh, "sh -c {script}"))?;
    }
    let still: Vec<&str> = PREREQS
        .iter()
        .filter(|p| !present(p))
        .map(|p| p.what)
        .collect();
    if !still.is_empty() {
        anyhow::bail!("still missing after setup: {}", still.join(", "));
    }
    println!("Setup complete.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_lines() {
        let missing: Vec<&Prereq> = PREREQS
            .iter()
            .filter(|p| matches!(p.what, "flex" | "virtme-ng (vng)"))
            .collect();
        let c = install_commands(&missing);
        assert_eq!(c.len(), 3);
        assert!(c[1].ends_with("--no-install-recommends flex"));
        assert_eq!(c[2], "pip3 install virtme-ng==1.42");
        assert!(install_commands(&[]).is_empty());
    }

    #[test]
    fn kexec_tools_is_installed_without_touching_host_reboots() {
        let missing: Vec<&Prereq> = PREREQS
            .iter()
            .filter(|p| p.package == Some("kexec-tools"))
            .collect();
        let c = install_commands(&missing);
        assert_eq!(c.len(), 3, "{c:?}");
        assert_eq!(
            c[1],
            "echo 'kexec-tools kexec-tools/load_kexec boolean false' | debconf-set-selections"
        );
        assert!(c[2].ends_with(" kexec-tools"), "{c:?}");
    }
}
