//! Files only their owner may read: the database holds secret verifiers and sealed keys, and the
//! server key opens them. Whatever the umask, Trustgate creates its directory 0700 and its files
//! 0600, and tightens files that an older version left readable by others.

use std::io;
use std::path::Path;

/// Creates `path` (and missing parents) readable by its owner only. An existing `path` that
/// others may enter or list is made private (0700) with a warning (issue #20: a data directory
/// made 0777 beforehand stayed so); its parents are the operator's and left as they are.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(path)?.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the data directory was open to others; making it private (0700)");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Creates an empty file readable and writable by its owner only, unless it exists.
pub fn create_private_file(path: &Path) -> io::Result<()> {
    match create_new_private_file(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates an empty file readable and writable by its owner only; fails if it exists.
pub fn create_new_private_file(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Makes an existing file readable and writable by its owner only; a missing file is fine.
pub fn restrict_to_owner(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if metadata.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the file was readable by others; making it private (0600)");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
