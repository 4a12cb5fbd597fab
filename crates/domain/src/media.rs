//! Content types from magic bytes: the declared type of an upload is never trusted.

/// The image type of `head` (the first bytes of a file), if it is one we accept.
pub fn sniff_image(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some("image/jpeg");
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return match &head[8..12] {
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" => Some("image/heic"),
            b"mif1" | b"msf1" | b"avif" => Some("image/heif"),
            _ => None,
        };
    }
    None
}

pub fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/heic" => "heic",
        "image/heif" => "heif",
        "application/pdf" => "pdf",
        "application/json" => "json",
        _ => "bin",
    }
}
/// Longest file name kept, in characters.
pub const MAX_FILENAME_CHARS: usize = 200;

/// A sender's file name as it is stored: the last path component, with control characters
/// (CR and LF included, which would split a header) removed and blanks trimmed; `None` when
/// nothing is left. Longer names are cut, keeping their end (where the extension is).
pub fn stored_filename(raw: Option<&str>) -> Option<String> {
    let raw = raw?;
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let clean: String = base.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim();
    if clean.is_empty() {
        return None;
    }
    let n = clean.chars().count();
    Some(clean.chars().skip(n.saturating_sub(MAX_FILENAME_CHARS)).collect())
}

/// The name a file downloads under: the stored name's stem (or `fallback`) with the extension
/// of what the file really is, so a PNG sent as `poly.html` downloads as `poly.png`. Only
/// characters safe in a quoted `Content-Disposition` value are kept.
pub fn download_filename(stored: Option<&str>, fallback: &str, content_type: &str) -> String {
    let safe = |s: &str| -> String {
        s.chars().filter(|c| c.is_ascii_alphanumeric() || "-_. ".contains(*c)).collect::<String>().trim().to_string()
    };
    let stem = stored
        .map(|name| match name.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem,
            _ => name,
        })
        .map(safe)
        .filter(|s| !s.trim_matches('.').is_empty())
        .unwrap_or_else(|| safe(fallback));
    format!("{}.{}", stem.trim_end_matches('.'), extension(content_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_lose_paths_and_control_characters() {
        assert_eq!(stored_filename(Some("a\r\nSet-Cookie: x.png")).as_deref(), Some("aSet-Cookie: x.png"));
        assert_eq!(stored_filename(Some("C:\\Users\\me\\IMG_1.jpg")).as_deref(), Some("IMG_1.jpg"));
        assert_eq!(stored_filename(Some("../../etc/passwd")).as_deref(), Some("passwd"));
        assert_eq!(stored_filename(Some(" \u{7}\t ")), None);
        assert_eq!(stored_filename(None), None);
        let long = format!("{}.jpg", "x".repeat(300));
        let kept = stored_filename(Some(&long)).expect("a name");
        assert_eq!(kept.chars().count(), MAX_FILENAME_CHARS);
        assert!(kept.ends_with(".jpg"));
    }

    #[test]
    fn downloads_are_named_for_what_they_are() {
        assert_eq!(download_filename(Some("poly.html"), "att_1", "image/png"), "poly.png");
        assert_eq!(download_filename(Some("IMG 1.HEIC"), "att_1", "image/jpeg"), "IMG 1.jpg");
        assert_eq!(download_filename(Some("noext"), "att_1", "image/webp"), "noext.webp");
        assert_eq!(download_filename(Some("\"><script>.png"), "att_1", "image/png"), "script.png");
        assert_eq!(download_filename(Some("..."), "att_1", "image/png"), "att_1.png");
        assert_eq!(download_filename(None, "att_1", "image/jpeg"), "att_1.jpg");
    }

    #[test]
    fn known_images_are_recognised() {
        assert_eq!(sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Some("image/jpeg"));
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\n\0\0"), Some("image/png"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image(b"\0\0\0\x18ftypheic\0\0"), Some("image/heic"));
        assert_eq!(sniff_image(b"\0\0\0\x18ftypmif1\0\0"), Some("image/heif"));
        assert_eq!(sniff_image(b"GIF89a"), None);
        assert_eq!(sniff_image(b"%PDF-1.7"), None);
        assert_eq!(sniff_image(b""), None);
    }
}
