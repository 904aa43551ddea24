//! Kernel sources: `asi-tool kernel fetch/list`.
//!
//! A kernel version lives in `<cache>/kernels/<version>/`: `src/` is a git
//! repository holding one commit (the pristine tree, tagged `v<version>`,
//! made with a fixed author and date so its id is the same on every
//! machine), `source.json` says where it came from. `source.json` is written
//! last: a directory without it is an interrupted import and is redone.
//!
//! Where sources come from, in order: the pristine upstream `orig.tar.xz`
//! of Debian's `linux` / `linux-X.Y` source packages (found with a private
//! apt state directory whose deb-src lines reuse the archive URLs of the
//! machine's own apt configuration); else the `linux-source-X.Y` binary
//! package; or a local tarball (`--tarball`) or tree (`--tree`).

use crate::cache::{self, Cache};
use crate::cmd;
use crate::error::{fail, Exit};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

/// Fixed identity and date of the import commit: same tarball, same commit id.
const IMPORT_DATE: &str = "2000-01-01T00:00:00Z";

/// What `source.json` records about a cached kernel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    pub version: String,
    /// e.g. "debian orig linux_6.12.107.orig.tar.xz", "tarball /x.tar.xz", "tree /src/linux".
    pub origin: String,
    pub sha256: Option<String>,
    pub tag: String,
    pub commit: String,
}

/// A kernel tree ready for the queue.
#[derive(Debug, Clone)]
pub struct Kernel {
    pub record: Record,
    /// The repository, which is also asi-tool's work tree for it.
    pub dir: PathBuf,
}

/// Where to get a kernel from.
#[derive(Debug, Clone)]
pub enum Origin {
    Debian,
    Tarball(PathBuf),
    Tree(PathBuf),
}

/// Checks that `dir` is the top of a Linux source tree.
pub fn require_kernel_tree(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        return Err(fail(
            Exit::Infra,
            format!("kernel tree {} does not exist", dir.display()),
        ));
    }
    if kernel_version(dir).is_none()
        || !dir.join("Kconfig").is_file()
        || !dir.join("scripts").is_dir()
    {
        return Err(fail(
            Exit::Infra,
            format!(
                "{} is not a Linux kernel source tree (no top-level Makefile with VERSION and \
                 PATCHLEVEL, Kconfig and scripts/). Point --tree at the top of a kernel checkout.",
                dir.display()
            ),
        ));
    }
    Ok(())
}

/// `VERSION.PATCHLEVEL.SUBLEVEL` from the top-level Makefile.
pub fn kernel_version(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("Makefile")).ok()?;
    let field = |name: &str| {
        text.lines().take(20).find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    };
    let (v, p) = (field("VERSION")?, field("PATCHLEVEL")?);
    let s = field("SUBLEVEL").unwrap_or_else(|| "0".into());
    if v.is_empty() || p.is_empty() {
        return None;
    }
    Some(if s.is_empty() || s == "0" {
        format!("{v}.{p}")
    } else {
        format!("{v}.{p}.{s}")
    })
}

/// Checks a user-supplied version string: `6.12` or `6.12.107`.
pub fn parse_version(v: &str) -> Result<Vec<u32>> {
    v.parse::<crate::version::KernelVersion>()
        .map(|k| k.parts())
        .map_err(|e| fail(Exit::Usage, e))
}

/// Reads the record of a fully imported kernel, if the cache has one.
pub fn cached(cache: &Cache, version: &str) -> Option<Kernel> {
    let dir = cache.kernel(version);
    let text = std::fs::read_to_string(dir.join("source.json")).ok()?;
    let record: Record = serde_json::from_str(&text).ok()?;
    let src = dir.join("src");
    src.join(".git")
        .exists()
        .then_some(Kernel { record, dir: src })
}

/// Every fully imported kernel in the cache.
pub fn list(cache: &Cache) -> Vec<Kernel> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(cache.kernels()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(k) = cached(cache, &name) {
                out.push(k);
            }
        }
    }
    out.sort_by_key(|k| version_key(&k.record.version));
    out
}

fn version_key(v: &str) -> Vec<u32> {
    v.split('.').filter_map(|p| p.parse().ok()).collect()
}

/// The cached kernel `version` names: itself, or for `MAJOR.MINOR` the
/// newest cached `MAJOR.MINOR.x`.
pub fn cached_line(cache: &Cache, version: &str) -> Option<Kernel> {
    if let Some(k) = cached(cache, version) {
        return Some(k);
    }
    if version.split('.').count() != 2 {
        return None;
    }
    let prefix = format!("{version}.");
    list(cache)
        .into_iter()
        .rev()
        .find(|k| k.record.version.starts_with(&prefix))
}

/// Fetches `version` into the cache (a no-op when it is there already).
pub fn fetch(cache: &Cache, version: &str, origin: &Origin) -> Result<Kernel> {
    parse_version(version)?;
    if let Some(k) = cached(cache, version) {
        return Ok(k);
    }
    // A MAJOR.MINOR request may already be satisfied by a cached MAJOR.MINOR.x.
    if matches!(origin, Origin::Debian) {
        if let Some(k) = cached_line(cache, version) {
            return Ok(k);
        }
    }
    cache::require_space(cache.root(), 3 << 30, "a kernel source tree")?;
    match origin {
        Origin::Tarball(path) => {
            let sha = sha256_file(path)?;
            import_tarball(
                cache,
                version,
                path,
                &format!("tarball {}", path.display()),
                Some(sha),
            )
        }
        Origin::Tree(path) => import_tree(cache, version, path),
        Origin::Debian => {
            let got = debian::download(cache, version)?;
            import_tarball(
                cache,
                &got.version,
                &got.path,
                &got.origin,
                Some(got.sha256),
            )
        }
    }
}

fn sha256_file(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut f, &mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn fresh_dir(cache: &Cache, version: &str) -> Result<PathBuf> {
    let dir = cache.kernel(version);
    if dir.exists() {
        eprintln!(
            "asi-tool: removing the unfinished import in {}",
            dir.display()
        );
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    let src = dir.join("src");
    Cache::ensure(&src)?;
    Ok(src)
}

fn import_tarball(
    cache: &Cache,
    version: &str,
    tarball: &Path,
    origin: &str,
    sha256: Option<String>,
) -> Result<Kernel> {
    if !tarball.is_file() {
        return Err(fail(
            Exit::Infra,
            format!("tarball {} does not exist", tarball.display()),
        ));
    }
    let src = fresh_dir(cache, version)?;
    eprintln!(
        "asi-tool: unpacking {} into {}",
        tarball.display(),
        src.display()
    );
    let sh = Shell::new()?;
    sh.change_dir(&src);
    cmd::run(
        &sh,
        cmd!(sh, "tar -xf {tarball} --strip-components=1 --no-same-owner"),
    )
    .with_context(|| {
        format!(
            "cannot unpack {} (is it a kernel tarball?)",
            tarball.display()
        )
    })?;
    commit_import(cache, version, &src, origin, sha256)
}

fn import_tree(cache: &Cache, version: &str, tree: &Path) -> Result<Kernel> {
    require_kernel_tree(tree)?;
    let src = fresh_dir(cache, version)?;
    let sh = Shell::new()?;
    if git2::Repository::open(tree).is_ok() {
        crate::apply::require_clean(tree, "the kernel tree")?;
        let head = crate::apply::resolve(tree, "HEAD")?;
        eprintln!(
            "asi-tool: cloning {} ({}) into {}",
            tree.display(),
            &head[..12],
            src.display()
        );
        std::fs::remove_dir(&src).ok();
        cmd::run(
            &sh,
            cmd!(sh, "git clone --quiet --local --no-checkout {tree} {src}"),
        )?;
        sh.change_dir(&src);
        cmd::run(&sh, cmd!(sh, "git checkout -q --detach {head}"))?;
        let tag = format!("v{version}");
        cmd::run(&sh, cmd!(sh, "git tag -f {tag} {head}"))?;
        let record = Record {
            version: version.to_string(),
            origin: format!("tree {} at {head}", tree.display()),
            sha256: None,
            tag,
            commit: head,
        };
        return finish(cache, version, &src, record);
    }
    eprintln!(
        "asi-tool: copying {} into {}",
        tree.display(),
        src.display()
    );
    let from = format!("{}/.", tree.display());
    cmd::run(&sh, cmd!(sh, "cp -a {from} {src}"))?;
    commit_import(
        cache,
        version,
        &src,
        &format!("tree {}", tree.display()),
        None,
    )
}

/// One deterministic commit of everything in `src`, tagged `v<version>`.
fn commit_import(
    cache: &Cache,
    version: &str,
    src: &Path,
    origin: &str,
    sha256: Option<String>,
) -> Result<Kernel> {
    require_kernel_tree(src)?;
    let found = kernel_version(src).unwrap_or_default();
    if found != version && !found.starts_with(&format!("{version}.")) {
        eprintln!("asi-tool: note: the Makefile says {found}, imported as {version}");
    }
    let sh = Shell::new()?;
    sh.change_dir(src);
    for (k, v) in [
        ("GIT_AUTHOR_NAME", "asi-tool"),
        ("GIT_AUTHOR_EMAIL", "asi-tool@localhost"),
        ("GIT_COMMITTER_NAME", "asi-tool"),
        ("GIT_COMMITTER_EMAIL", "asi-tool@localhost"),
        ("GIT_AUTHOR_DATE", IMPORT_DATE),
        ("GIT_COMMITTER_DATE", IMPORT_DATE),
    ] {
        sh.set_var(k, v);
    }
    eprintln!("asi-tool: importing into git (about a minute for a full kernel)");
    cmd::run(&sh, cmd!(sh, "git init -q -b base"))?;
    // Debian's linux-source trees ship a .gitignore that ignores everything: -f.
    cmd::run(&sh, cmd!(sh, "git add -f -A ."))?;
    let msg = format!("Linux {version}\n\nImported by asi-tool from {origin}.");
    cmd::run(
        &sh,
        cmd!(sh, "git commit -q --no-verify --no-gpg-sign -m {msg}"),
    )?;
    let tag = format!("v{version}");
    cmd::run(&sh, cmd!(sh, "git tag {tag}"))?;
    let commit = crate::apply::resolve(src, "HEAD")?;
    let record = Record {
        version: version.to_string(),
        origin: origin.to_string(),
        sha256,
        tag,
        commit,
    };
    finish(cache, version, src, record)
}

fn finish(cache: &Cache, version: &str, src: &Path, record: Record) -> Result<Kernel> {
    let path = cache.kernel(version).join("source.json");
    std::fs::write(&path, serde_json::to_string_pretty(&record)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Kernel {
        record,
        dir: src.to_path_buf(),
    })
}

/// Debian's archive, through a private apt state directory.
pub mod debian {
    use super::*;

    pub struct Download {
        pub version: String,
        pub path: PathBuf,
        pub origin: String,
        pub sha256: String,
    }

    /// `deb`/`deb-src` URIs of the machine's apt configuration (one-line and
    /// deb822 formats), Debian archives only, in order, without duplicates.
    pub fn archive_uris(texts: &[String]) -> Vec<String> {
        let mut uris = Vec::new();
        for text in texts {
            for line in text.lines() {
                let line = line.trim();
                let uri = if let Some(rest) = line.strip_prefix("URIs:") {
                    rest.split_whitespace().next()
                } else if line.starts_with("deb ") || line.starts_with("deb-src ") {
                    line.split_whitespace()
                        .skip(1)
                        .find(|w| !w.starts_with('['))
                } else {
                    None
                };
                if let Some(u) = uri {
                    let u = u.trim_end_matches('/').to_string();
                    if u.contains("debian") && !uris.contains(&u) {
                        uris.push(u);
                    }
                }
            }
        }
        uris
    }

    fn system_apt_texts() -> Vec<String> {
        let mut texts = Vec::new();
        if let Ok(t) = std::fs::read_to_string("/etc/apt/sources.list") {
            texts.push(t);
        }
        if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
            let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for p in paths {
                let name = p.to_string_lossy();
                if name.ends_with(".list") || name.ends_with(".sources") {
                    if let Ok(t) = std::fs::read_to_string(&p) {
                        texts.push(t);
                    }
                }
            }
        }
        texts
    }

    /// The private sources.list for the suites that carry kernels (stable
    /// and its updates, backports, testing, unstable): deb-src lines, plus
    /// deb lines when `binaries` (only the linux-source-X.Y fallback needs
    /// them; their indexes are most of the download).
    pub fn sources_list(uris: &[String], binaries: bool) -> String {
        let mut out = String::new();
        for uri in uris {
            let suites: &[&str] = if uri.contains("security") {
                &["bookworm-security", "trixie-security"]
            } else {
                &[
                    "bookworm",
                    "bookworm-updates",
                    "bookworm-backports",
                    "trixie",
                    "trixie-backports",
                    "sid",
                ]
            };
            for suite in suites {
                if binaries {
                    out.push_str(&format!("deb {uri} {suite} main\n"));
                }
                out.push_str(&format!("deb-src {uri} {suite} main\n"));
            }
        }
        out
    }

    /// A shell and the apt options of the private state, after `apt-get update`.
    fn apt_shell(cache: &Cache, binaries: bool) -> Result<(Shell, Vec<String>)> {
        let root = cache.apt();
        for d in ["state/lists/partial", "cache/archives/partial", "etc"] {
            Cache::ensure(&root.join(d))?;
        }
        let uris = archive_uris(&system_apt_texts());
        if uris.is_empty() {
            return Err(fail(
                Exit::Infra,
                "no Debian archive in the machine's apt configuration (/etc/apt/sources.list*): \
                 fetch with --tarball FILE or --tree DIR instead",
            ));
        }
        std::fs::write(root.join("etc/sources.list"), sources_list(&uris, binaries))?;
        let r = root.display().to_string();
        let opts = vec![
            format!("-oDir::State={r}/state"),
            format!("-oDir::Cache={r}/cache"),
            format!("-oDir::Etc::SourceList={r}/etc/sources.list"),
            "-oDir::Etc::SourceParts=/dev/null".to_string(),
            "-oAPT::Sandbox::User=root".to_string(),
            "-oAcquire::Languages=none".to_string(),
        ];
        let sh = Shell::new()?;
        eprintln!(
            "asi-tool: reading Debian's {} index (private apt state in {})",
            if binaries { "package" } else { "source" },
            root.display()
        );
        let o = &opts;
        cmd::run(&sh, cmd!(sh, "apt-get -q {o...} update"))
            .context("apt-get update on the private apt state failed (network? archive URL?)")?;
        Ok((sh, opts))
    }

    /// One orig tarball a source package offers.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Orig {
        pub package: String,
        pub package_version: String,
        pub upstream: String,
        pub file: String,
    }

    /// Orig tarballs listed by `apt-cache showsrc`.
    pub fn parse_showsrc(text: &str) -> Vec<Orig> {
        let mut out = Vec::new();
        for record in text.split("\n\n") {
            let field = |name: &str| {
                record
                    .lines()
                    .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            };
            let (Some(package), Some(version)) = (field("Package:"), field("Version:")) else {
                continue;
            };
            for line in record.lines() {
                let Some(file) = line.split_whitespace().nth(2) else {
                    continue;
                };
                if !line.starts_with(' ') || !file.ends_with(".orig.tar.xz") {
                    continue;
                }
                let Some(upstream) = file
                    .strip_suffix(".orig.tar.xz")
                    .and_then(|f| f.rsplit_once('_'))
                    .map(|(_, v)| v.to_string())
                else {
                    continue;
                };
                let o = Orig {
                    package: package.clone(),
                    package_version: version.clone(),
                    upstream,
                    file: file.to_string(),
                };
                if !out.contains(&o) {
                    out.push(o);
                }
            }
        }
        out
    }

    /// Candidates for a request, best first: exact match, or the newest of a series.
    pub fn choose(origs: &[Orig], want: &str) -> Vec<Orig> {
        let series = want.split('.').count() == 2;
        let mut c: Vec<Orig> = origs
            .iter()
            .filter(|o| {
                if series {
                    o.upstream.starts_with(&format!("{want}.")) || o.upstream == want
                } else {
                    o.upstream == want
                }
            })
            .cloned()
            .collect();
        c.sort_by_key(|o| std::cmp::Reverse(version_key(&o.upstream)));
        c
    }

    pub fn download(cache: &Cache, want: &str) -> Result<Download> {
        let (sh, apt_opts) = apt_shell(cache, false)?;
        let opts = &apt_opts;
        let mm: Vec<&str> = want.split('.').take(2).collect();
        let versioned = format!("linux-{}", mm.join("."));
        let out = cmd::output(
            &sh,
            cmd!(sh, "apt-cache {opts...} showsrc linux {versioned}"),
        )?;
        let origs = parse_showsrc(&String::from_utf8_lossy(&out.stdout));
        let downloads = cache.downloads();
        Cache::ensure(&downloads)?;
        let mut tried = Vec::new();
        for o in choose(&origs, want).into_iter().take(6) {
            match fetch_orig(&sh, opts, &o, &downloads) {
                Ok(d) => return Ok(d),
                Err(e) => {
                    eprintln!(
                        "asi-tool: {} {} not downloadable: {e:#}",
                        o.package, o.package_version
                    );
                    tried.push(format!("{} ({})", o.file, o.package_version));
                }
            }
        }
        let fallback = apt_shell(cache, true)
            .and_then(|(sh, bin_opts)| linux_source_package(&sh, &bin_opts, want, &downloads));
        fallback.map_err(|e| {
            fail(
                Exit::Infra,
                format!(
                    "kernel {want} is not available from Debian's archive (tried: {}; linux-source package: {e:#}). \
                     `asi-tool kernel fetch` takes MAJOR.MINOR or MAJOR.MINOR.PATCH; or use --tarball FILE / --tree DIR.",
                    if tried.is_empty() { "no orig tarball listed".to_string() } else { tried.join(", ") }
                ),
            )
        })
    }

    fn fetch_orig(sh: &Shell, opts: &[String], o: &Orig, downloads: &Path) -> Result<Download> {
        let spec = format!("{}={}", o.package, o.package_version);
        let uris = cmd::read(
            sh,
            cmd!(sh, "apt-get -q {opts...} source --print-uris {spec}"),
        )?;
        // 'URI' file size SHA256:hash
        let line = uris.lines().find(|l| l.contains(&o.file)).ok_or_else(|| {
            anyhow::anyhow!("apt-get source --print-uris does not list {}", o.file)
        })?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let (uri, hash) = match words.as_slice() {
            [uri, _file, _size, hash, ..] => (uri.trim_matches('\''), *hash),
            _ => anyhow::bail!("unexpected apt-get output: {line}"),
        };
        let dest = downloads.join(&o.file);
        let sha = hash.strip_prefix("SHA256:").map(str::to_string);
        if !(dest.is_file() && sha.as_deref() == super::sha256_file(&dest).ok().as_deref()) {
            eprintln!("asi-tool: downloading {}", o.file);
            let partial = downloads.join(format!("{}.partial", o.file));
            cmd::run(
                sh,
                cmd!(
                    sh,
                    "/usr/lib/apt/apt-helper download-file {uri} {partial} {hash}"
                ),
            )?;
            std::fs::rename(&partial, &dest)?;
        }
        let sha256 = super::sha256_file(&dest)?;
        Ok(Download {
            version: o.upstream.clone(),
            origin: format!(
                "debian orig {} ({} {})",
                o.file, o.package, o.package_version
            ),
            path: dest,
            sha256,
        })
    }

    fn linux_source_package(
        sh: &Shell,
        opts: &[String],
        want: &str,
        downloads: &Path,
    ) -> Result<Download> {
        let mm: Vec<&str> = want.split('.').take(2).collect();
        let pkg = format!("linux-source-{}", mm.join("."));
        let policy = cmd::read(
            sh,
            cmd!(sh, "apt-cache {opts...} show --no-all-versions {pkg}"),
        )?;
        let pkg_version = policy
            .lines()
            .find_map(|l| l.strip_prefix("Version:"))
            .map(|v| v.trim().to_string())
            .ok_or_else(|| anyhow::anyhow!("{pkg} is not in the archive"))?;
        let upstream = pkg_version
            .split(['-', '~', '+'])
            .next()
            .unwrap_or("")
            .to_string();
        if want.split('.').count() == 3 && upstream != want {
            anyhow::bail!("{pkg} is version {pkg_version}, not {want}");
        }
        let sh2 = Shell::new()?;
        sh2.change_dir(downloads);
        cmd::run(&sh2, cmd!(sh2, "apt-get -q {opts...} download {pkg}"))?;
        let deb = std::fs::read_dir(downloads)?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                let n = p
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                n.starts_with(&format!("{pkg}_")) && n.ends_with(".deb")
            })
            .ok_or_else(|| anyhow::anyhow!("apt-get download {pkg} left no .deb"))?;
        let tarball = downloads.join(format!("{pkg}_{upstream}.tar.xz"));
        let inner = format!("./usr/src/{pkg}.tar.xz");
        let script = format!(
            "dpkg-deb --fsys-tarfile {} | tar -xO {} > {}",
            cmd::shell_quote(&deb.to_string_lossy()),
            cmd::shell_quote(&inner),
            cmd::shell_quote(&tarball.to_string_lossy())
        );
        cmd::run(&sh2, cmd!(sh2, "sh -c {script}"))?;
        let sha256 = super::sha256_file(&tarball)?;
        Ok(Download {
            version: upstream,
            origin: format!("debian {pkg} {pkg_version} (Debian-patched)"),
            path: tarball,
            sha256,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::debian::*;
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("6.12").unwrap(), vec![6, 12]);
        assert_eq!(parse_version("6.12.107").unwrap(), vec![6, 12, 107]);
        for bad in ["6", "six.12", "6.12.1.2", "", "v6.12"] {
            let e = parse_version(bad).unwrap_err();
            assert_eq!(crate::error::exit_code_of(&e), Exit::Usage, "{bad}");
        }
    }

    #[test]
    fn reads_makefile_version() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("Makefile"),
            "# SPDX\nVERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 107\nEXTRAVERSION =\n",
        )
        .unwrap();
        assert_eq!(kernel_version(d.path()).as_deref(), Some("6.12.107"));
        let e = require_kernel_tree(d.path()).unwrap_err();
        assert!(format!("{e}").contains("not a Linux kernel source tree"));
        std::fs::write(d.path().join("Kconfig"), "").unwrap();
        std::fs::create_dir(d.path().join("scripts")).unwrap();
        require_kernel_tree(d.path()).unwrap();
        let e = require_kernel_tree(&d.path().join("nope")).unwrap_err();
        assert!(format!("{e}").contains("does not exist"));
    }

    #[test]
    fn apt_uris_from_both_formats() {
        let deb822 = "Types: deb\n# comment http://x\nURIs: http://deb.example/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://sec.example/debian-security/\n".to_string();
        let oneline = "deb [arch=amd64] http://mirror.example/debian bookworm main\ndeb https://packages.other.example/apt stable main\n".to_string();
        let uris = archive_uris(&[deb822, oneline]);
        assert_eq!(
            uris,
            vec![
                "http://deb.example/debian",
                "http://sec.example/debian-security",
                "http://mirror.example/debian"
            ]
        );
        let list = sources_list(&uris[..2], false);
        assert!(list.contains("deb-src http://deb.example/debian sid main"));
        assert!(!list.contains("deb http"));
        assert!(sources_list(&uris[..2], true).contains("deb http://deb.example/debian sid main"));
        assert!(list.contains("deb-src http://sec.example/debian-security bookworm-security main"));
        assert!(!list.contains("debian-security sid"));
    }

    #[test]
    fn showsrc_and_choice() {
        let text = "Package: linux\nVersion: 6.12.107-1\nChecksums-Sha256:\n aa 1 linux_6.12.107-1.dsc\n bb 151398592 linux_6.12.107.orig.tar.xz\n\n\
Package: linux-6.12\nVersion: 6.12.117-1~deb12u1\nFiles:\n cc 1 linux-6.12_6.12.117.orig.tar.xz\n\n\
Package: linux\nVersion: 6.12.9-1\nFiles:\n dd 1 linux_6.12.9.orig.tar.xz\n\n\
Package: linux\nVersion: 7.2.8-1\nFiles:\n ee 1 linux_7.2.8.orig.tar.xz\n";
        let origs = parse_showsrc(text);
        assert_eq!(origs.len(), 4);
        let best: Vec<String> = choose(&origs, "6.12")
            .iter()
            .map(|o| o.upstream.clone())
            .collect();
        assert_eq!(best, vec!["6.12.117", "6.12.107", "6.12.9"]);
        let exact = choose(&origs, "6.12.107");
        assert_eq!(exact.len(), 1);
        assert_eq!(exact[0].package, "linux");
        assert!(choose(&origs, "6.13").is_empty());
    }

    #[test]
    fn import_is_deterministic_and_refetch_is_a_noop() {
        let d = tempfile::tempdir().unwrap();
        let tree = d.path().join("linux-9.9.1");
        std::fs::create_dir_all(tree.join("scripts")).unwrap();
        std::fs::write(
            tree.join("Makefile"),
            "VERSION = 9\nPATCHLEVEL = 9\nSUBLEVEL = 1\n",
        )
        .unwrap();
        std::fs::write(tree.join("Kconfig"), "").unwrap();
        std::fs::write(tree.join(".gitignore"), "*\n").unwrap();
        let tarball = d.path().join("linux-9.9.1.tar.xz");
        let st = std::process::Command::new("tar")
            .args(["-cJf"])
            .arg(&tarball)
            .arg("-C")
            .arg(d.path())
            .arg("linux-9.9.1")
            .status()
            .unwrap();
        assert!(st.success());
        let c1 = Cache::at(d.path().join("c1"));
        let c2 = Cache::at(d.path().join("c2"));
        let k1 = fetch(&c1, "9.9.1", &Origin::Tarball(tarball.clone())).unwrap();
        let k2 = fetch(&c2, "9.9.1", &Origin::Tarball(tarball.clone())).unwrap();
        assert_eq!(
            k1.record.commit, k2.record.commit,
            "import must be deterministic"
        );
        assert!(k1.dir.join("Makefile").is_file());
        // The .gitignore that ignores everything did not hide the files.
        let files = std::process::Command::new("git")
            .args(["ls-files"])
            .current_dir(&k1.dir)
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&files.stdout).contains("Makefile"));
        // Re-fetch: no-op, same record, tarball not even needed.
        let again = fetch(&c1, "9.9.1", &Origin::Tarball(d.path().join("gone.tar.xz"))).unwrap();
        assert_eq!(again.record, k1.record);
        assert_eq!(list(&c1).len(), 1);
        // An interrupted import (no source.json) is redone.
        std::fs::remove_file(c1.kernel("9.9.1").join("source.json")).unwrap();
        assert!(cached(&c1, "9.9.1").is_none());
        let redo = fetch(&c1, "9.9.1", &Origin::Tarball(tarball)).unwrap();
        assert_eq!(redo.record.commit, k1.record.commit);
    }

    #[test]
    fn fetch_from_a_git_tree_clones_its_head_and_refuses_a_dirty_one() {
        let d = tempfile::tempdir().unwrap();
        let tree = d.path().join("linux");
        std::fs::create_dir_all(tree.join("scripts")).unwrap();
        std::fs::write(
            tree.join("Makefile"),
            "VERSION = 9\nPATCHLEVEL = 8\nSUBLEVEL = 0\n",
        )
        .unwrap();
        std::fs::write(tree.join("Kconfig"), "").unwrap();
        let git = |args: &[&str]| {
            let st = std::process::Command::new("git")
                .args(args)
                .current_dir(&tree)
                .env("GIT_AUTHOR_NAME", "a")
                .env("GIT_AUTHOR_EMAIL", "a@b")
                .env("GIT_COMMITTER_NAME", "a")
                .env("GIT_COMMITTER_EMAIL", "a@b")
                .status()
                .unwrap();
            assert!(st.success(), "git {args:?}");
        };
        git(&["init", "-q"]);
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "base"]);
        let head = crate::apply::resolve(&tree, "HEAD").unwrap();
        std::fs::write(tree.join("Kconfig"), "dirty\n").unwrap();
        let c = Cache::at(d.path().join("cache"));
        let e = fetch(&c, "9.8", &Origin::Tree(tree.clone())).unwrap_err();
        assert!(format!("{e}").contains("uncommitted changes"), "{e}");
        git(&["checkout", "-q", "--", "Kconfig"]);
        let k = fetch(&c, "9.8", &Origin::Tree(tree.clone())).unwrap();
        assert_eq!(k.record.commit, head);
        assert_eq!(crate::apply::resolve(&k.dir, "v9.8").unwrap(), head);
        assert!(k.dir.join("Makefile").is_file());
        assert_ne!(k.dir, tree);
    }
}
