//! A folder as a gzip-compressed tar archive (POSIX ustar), written as the files are read:
//! memory stays flat whatever their size. Enough of the format for regular files in a tree of
//! folders, which is all an export holds; any `tar` reads it.

use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::{self, Read, Write};
use std::path::Path;

const BLOCK: usize = 512;

/// Writes every file under `dir` into `out` as `<root>/<path inside dir>`, in name order.
pub fn write_tar_gz(dir: &Path, root: &str, out: impl Write) -> io::Result<()> {
    let mut gz = GzEncoder::new(out, Compression::fast());
    let mut files = vec![];
    walk(dir, "", &mut files)?;
    for (rel, path) in files {
        let mut file = std::fs::File::open(&path)?;
        let size = file.metadata()?.len();
        gz.write_all(&header(&format!("{root}/{rel}"), size)?)?;
        let copied = io::copy(&mut (&mut file).take(size), &mut gz)?;
        if copied != size {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("{rel} shrank while it was archived")));
        }
        let pad = (BLOCK - (size as usize % BLOCK)) % BLOCK;
        gz.write_all(&[0u8; BLOCK][..pad])?;
    }
    // The end of the archive: two empty blocks.
    gz.write_all(&[0u8; 2 * BLOCK])?;
    gz.finish()?.flush()
}

/// The regular files under `dir`, as (path with `/`, full path), sorted.
fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, std::path::PathBuf)>) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        let kind = e.file_type()?;
        if kind.is_dir() {
            walk(&e.path(), &rel, out)?;
        } else if kind.is_file() {
            out.push((rel, e.path()));
        }
    }
    Ok(())
}

/// The ustar header of a regular file: mode 0644, owner 0, time 0 (the export's manifest
/// has the time), the path split into prefix and name where it is longer than 100 bytes.
fn header(path: &str, size: u64) -> io::Result<[u8; BLOCK]> {
    let too_long = || io::Error::new(io::ErrorKind::InvalidInput, format!("path too long for tar: {path}"));
    let (prefix, name) = if path.len() <= 100 {
        ("", path)
    } else {
        // The last '/' that leaves a name of at most 100 bytes and a prefix of at most 155.
        let cut = path
            .char_indices()
            .filter(|(i, c)| *c == '/' && *i <= 155 && path.len() - i - 1 <= 100)
            .map(|(i, _)| i)
            .next_back()
            .ok_or_else(too_long)?;
        (&path[..cut], &path[cut + 1..])
    };
    if size >= 8 << 30 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{path} is 8 GiB or larger")));
    }
    let mut h = [0u8; BLOCK];
    let put = |h: &mut [u8; BLOCK], at: usize, bytes: &[u8]| h[at..at + bytes.len()].copy_from_slice(bytes);
    put(&mut h, 0, name.as_bytes());
    put(&mut h, 100, b"0000644\0");
    put(&mut h, 108, b"0000000\0");
    put(&mut h, 116, b"0000000\0");
    put(&mut h, 124, format!("{size:011o}\0").as_bytes());
    put(&mut h, 136, b"00000000000\0");
    put(&mut h, 148, b"        ");
    h[156] = b'0';
    put(&mut h, 257, b"ustar\0");
    put(&mut h, 263, b"00");
    put(&mut h, 345, prefix.as_bytes());
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    put(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;

    /// Reads back (path, contents) of every file of an archive this module wrote.
    fn read_back(gz: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut raw = vec![];
        GzDecoder::new(gz).read_to_end(&mut raw).expect("gunzip");
        let mut out = vec![];
        let mut at = 0;
        while raw[at..at + BLOCK].iter().any(|b| *b != 0) {
            let h = &raw[at..at + BLOCK];
            let text = |from: usize, len: usize| {
                String::from_utf8(h[from..from + len].iter().copied().take_while(|b| *b != 0).collect()).expect("utf-8")
            };
            let sum: u32 =
                h.iter().enumerate().map(|(i, b)| if (148..156).contains(&i) { 32 } else { u32::from(*b) }).sum();
            assert_eq!(u32::from_str_radix(text(148, 6).trim(), 8).expect("sum"), sum, "checksum");
            let size = u64::from_str_radix(text(124, 11).trim(), 8).expect("size") as usize;
            let prefix = text(345, 155);
            let name = if prefix.is_empty() { text(0, 100) } else { format!("{prefix}/{}", text(0, 100)) };
            at += BLOCK;
            out.push((name, raw[at..at + size].to_vec()));
            at += size.div_ceil(BLOCK) * BLOCK;
        }
        out
    }

    #[test]
    fn a_folder_round_trips_with_long_paths_and_odd_sizes() {
        let dir = std::env::temp_dir().join(format!("rd-tar-{}", std::process::id()));
        let deep = dir.join("files/attachments").join("t".repeat(60)).join("a".repeat(50));
        std::fs::create_dir_all(&deep).expect("dirs");
        std::fs::write(dir.join("manifest.json"), b"{}").expect("write");
        std::fs::write(deep.join("photo.jpg"), vec![7u8; 1_000]).expect("write");
        std::fs::write(dir.join("empty.jsonl"), b"").expect("write");
        let mut gz = vec![];
        write_tar_gz(&dir, "export", &mut gz).expect("archive");
        let files = read_back(&gz);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        let long = format!("export/files/attachments/{}/{}/photo.jpg", "t".repeat(60), "a".repeat(50));
        assert_eq!(names, ["export/empty.jsonl", long.as_str(), "export/manifest.json"]);
        assert_eq!(files[1].1, vec![7u8; 1_000]);
        assert_eq!(files[2].1, b"{}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn a_path_that_cannot_be_split_is_refused() {
        assert!(header(&"x".repeat(300), 1).is_err());
        assert!(header(&format!("{}/{}", "p".repeat(10), "n".repeat(101)), 1).is_err());
    }
}
