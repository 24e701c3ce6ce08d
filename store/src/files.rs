//! Durable files beside the database: the voice messages' Ogg/Opus recordings.
//!
//! # The protocol
//!
//! 1. Name the file with [`new_voice_file_name`] (`vm-<32 hex>.opus`, a new name every time).
//! 2. [`write_durably`] it into the voice directory: a temporary file in the same directory,
//!    `sync_all`, `rename` to the final name, then `fsync` of the directory, so after a crash
//!    the file is either complete under its name or absent (a leftover temporary at most).
//! 3. Only then insert the row that references it
//!    ([`Store::insert_message`](crate::Store::insert_message)), and acknowledge the message only
//!    after that commit.
//!
//! If step 2 fails — **a full disk** (`ErrorKind::StorageFull`, `ENOSPC`), a quota, an I/O
//! error — the error is returned, the temporary file is removed (best effort), and the caller
//! must refuse the message: nothing is inserted and nothing is acknowledged, so the citizen's
//! client keeps the message and may retry. If step 3 fails or is a retry of a stored message
//! (`created == false`), the new file is unreferenced: delete it, or leave it to the sweep.
//!
//! [`sweep_orphans`] removes what a crash or a failure left behind: temporary files, and voice
//! files no row references. It only ever touches names of our patterns (never anything else in
//! the directory) and never files younger than a minimum age (see there).

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

const VOICE_PREFIX: &str = "vm-";
const VOICE_SUFFIX: &str = ".opus";
const VOICE_HEX: usize = 32;
const TEMP_SUFFIX: &str = ".tmp";
const TEMP_HEX: usize = 16;

/// A new, unique voice file name: `vm-<32 lowercase hex>.opus`.
pub fn new_voice_file_name() -> String {
    format!("{VOICE_PREFIX}{}{VOICE_SUFFIX}", uuid::Uuid::new_v4().simple())
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `name` is a voice file name as [`new_voice_file_name`] makes them.
pub fn is_voice_file_name(name: &str) -> bool {
    name.strip_prefix(VOICE_PREFIX)
        .and_then(|rest| rest.strip_suffix(VOICE_SUFFIX))
        .is_some_and(|hex| is_lower_hex(hex, VOICE_HEX))
}

/// The final name a temporary file of [`write_durably`] is for, if `name` is one:
/// `.<final name>.<16 hex>.tmp`.
fn temp_target(name: &str) -> Option<&str> {
    let rest = name.strip_prefix('.')?.strip_suffix(TEMP_SUFFIX)?;
    let (target, random) = rest.rsplit_once('.')?;
    is_lower_hex(random, TEMP_HEX).then_some(target)
}

/// A plain file name: not empty, not `.`/`..`, no path separator or NUL, not hidden (`.` first
/// is reserved for temporary files), at most 255 bytes.
fn check_name(name: &str) -> io::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0']);
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a plain file name"),
        ))
    }
}

/// Writes `bytes` to `dir/name` so that after a crash it is either complete or absent: a
/// temporary file `.<name>.<16 hex>.tmp` in `dir`, `sync_all`, `rename` to `name` (replacing a
/// file of that name: use new names), `fsync` of `dir`.
///
/// Errors: a name that is not a plain file name (`InvalidInput`; see the module documentation
/// for the rules), a missing directory, a full disk (`StorageFull`), any I/O error. On error
/// the temporary file is removed (best effort) and `dir/name` is untouched unless the rename
/// itself succeeded and only the directory sync failed — then the file exists but is not known
/// durable: the caller must treat the write as failed (refuse the message) all the same.
pub fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    check_name(name)?;
    let temp = dir.join(format!(".{name}.{:016x}{TEMP_SUFFIX}", rand::random::<u64>()));
    let written = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, dir.join(name))
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    File::open(dir)?.sync_all()
}

/// What [`sweep_orphans`] removed and kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Temporary files removed (interrupted writes), by name, sorted.
    pub removed_temp: Vec<String>,
    /// Voice files no row referenced, removed, by name, sorted.
    pub removed_orphans: Vec<String>,
    /// Referenced voice files (kept).
    pub referenced: usize,
    /// Files of our patterns kept because they are younger than the minimum age.
    pub too_young: usize,
    /// Other entries in the directory, never touched.
    pub ignored: usize,
}

/// Removes, in `dir`, the temporary files of [`write_durably`] for voice file names and the
/// voice files ([`is_voice_file_name`]) not in `referenced`, if last modified at least
/// `min_age` ago. Nothing else in the directory is touched (other names, subdirectories).
///
/// `min_age` closes the window between writing a file and committing its row: read
/// `referenced` ([`Store::voice_files`](crate::Store::voice_files)) right before the sweep and
/// pass more than the longest write-to-commit time plus that read (e.g. 10 minutes) on a
/// running server; zero only when nothing is being written (at start-up, before serving). A
/// file that cannot be removed (already gone) is skipped; other errors end the sweep.
pub fn sweep_orphans(
    dir: &Path,
    referenced: &HashSet<String>,
    min_age: Duration,
) -> io::Result<SweepReport> {
    let now = SystemTime::now();
    let mut report = SweepReport::default();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            report.ignored += 1;
            continue;
        };
        let is_temp = temp_target(&name).is_some_and(is_voice_file_name);
        let is_voice = is_voice_file_name(&name);
        let meta = entry.metadata()?;
        if !(is_temp || is_voice) || !meta.is_file() {
            report.ignored += 1;
            continue;
        }
        if is_voice && referenced.contains(&name) {
            report.referenced += 1;
            continue;
        }
        let age = meta.modified().ok().and_then(|m| now.duration_since(m).ok());
        if age.is_none_or(|age| age < min_age) {
            report.too_young += 1;
            continue;
        }
        match fs::remove_file(entry.path()) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
        if is_temp {
            report.removed_temp.push(name);
        } else {
            report.removed_orphans.push(name);
        }
    }
    if !report.removed_temp.is_empty() || !report.removed_orphans.is_empty() {
        File::open(dir)?.sync_all()?;
    }
    report.removed_temp.sort();
    report.removed_orphans.sort();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("voicedesk-files-{}", uuid::Uuid::new_v4()));
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn voice_file_names_follow_the_pattern() {
        let name = new_voice_file_name();
        assert!(is_voice_file_name(&name), "{name}");
        assert_ne!(name, new_voice_file_name());
        for bad in [
            "",
            "vm-.opus",
            "vm-0123456789abcdef0123456789abcdef.ogg",
            "vm-0123456789ABCDEF0123456789abcdef.opus",
            "vm-0123456789abcdef0123456789abcde.opus",
            "x/vm-0123456789abcdef0123456789abcdef.opus",
            "notes.txt",
        ] {
            assert!(!is_voice_file_name(bad), "{bad}");
        }
        assert_eq!(
            temp_target(".vm-0123456789abcdef0123456789abcdef.opus.0123456789abcdef.tmp"),
            Some("vm-0123456789abcdef0123456789abcdef.opus")
        );
        assert_eq!(temp_target(".notes.txt.tmp"), None);
    }

    #[test]
    fn write_durably_leaves_exactly_the_file() {
        let dir = TempDir::new();
        let name = new_voice_file_name();
        write_durably(&dir.0, &name, b"OggS and more").unwrap();
        assert_eq!(fs::read(dir.0.join(&name)).unwrap(), b"OggS and more");
        assert_eq!(names(&dir.0), std::slice::from_ref(&name), "no temporary file left");
        // Replacing is atomic: the new content, still one file.
        write_durably(&dir.0, &name, b"second").unwrap();
        assert_eq!(fs::read(dir.0.join(&name)).unwrap(), b"second");
        assert_eq!(names(&dir.0), [name]);
        write_durably(&dir.0, "empty.bin", b"").unwrap();
        assert_eq!(fs::read(dir.0.join("empty.bin")).unwrap(), b"");
    }

    #[test]
    fn write_durably_refuses_paths_and_cleans_up_on_failure() {
        let dir = TempDir::new();
        for bad in ["", ".", "..", "../escape", "a/b", "a\\b", ".hidden", "nul\0"] {
            let err = write_durably(&dir.0, bad, b"x").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
        assert!(names(&dir.0).is_empty());
        // A missing directory is an error, not a panic, and creates nothing.
        let missing = dir.0.join("missing");
        assert!(write_durably(&missing, "a.opus", b"x").is_err());
        assert!(!missing.exists());
        // The rename fails (a non-empty directory has the name): the temporary file is removed.
        fs::create_dir(dir.0.join("taken")).unwrap();
        fs::write(dir.0.join("taken").join("inside"), b"keep").unwrap();
        assert!(write_durably(&dir.0, "taken", b"x").is_err());
        assert_eq!(names(&dir.0), ["taken"]);
        assert_eq!(fs::read(dir.0.join("taken").join("inside")).unwrap(), b"keep");
    }

    #[test]
    fn sweep_removes_temporaries_and_orphans_and_nothing_else() {
        let dir = TempDir::new();
        let (kept, orphan) = (new_voice_file_name(), new_voice_file_name());
        write_durably(&dir.0, &kept, b"kept").unwrap();
        write_durably(&dir.0, &orphan, b"orphan").unwrap();
        let temp = format!(".{}.0123456789abcdef.tmp", new_voice_file_name());
        fs::write(dir.0.join(&temp), b"half").unwrap();
        // Not ours: never touched.
        let foreign = [
            "README.txt",
            ".notes.txt.0123456789abcdef.tmp",
            "vm-NOTHEX.opus",
            "vm-0123456789abcdef0123456789abcdef.opus.bak",
        ];
        for f in foreign {
            fs::write(dir.0.join(f), b"foreign").unwrap();
        }
        fs::create_dir(dir.0.join(new_voice_file_name())).unwrap();
        let referenced: HashSet<String> = [kept.clone()].into();

        // Young files are kept.
        let report = sweep_orphans(&dir.0, &referenced, Duration::from_secs(3600)).unwrap();
        assert_eq!(report.too_young, 2, "{report:?}");
        assert!(report.removed_orphans.is_empty() && report.removed_temp.is_empty());
        assert_eq!(names(&dir.0).len(), 8);

        let report = sweep_orphans(&dir.0, &referenced, Duration::ZERO).unwrap();
        assert_eq!(report.removed_orphans, std::slice::from_ref(&orphan));
        assert_eq!(report.removed_temp, [temp]);
        assert_eq!((report.referenced, report.too_young, report.ignored), (1, 0, 5));
        let left = names(&dir.0);
        assert!(left.contains(&kept) && !left.contains(&orphan));
        for f in foreign {
            assert!(left.contains(&f.to_owned()), "{f} kept");
        }
        assert_eq!(left.len(), 6);
        // A second sweep finds nothing more.
        let again = sweep_orphans(&dir.0, &referenced, Duration::ZERO).unwrap();
        assert!(again.removed_orphans.is_empty() && again.removed_temp.is_empty());
    }
}
