//! Streaming structural check of uploaded images: does the file end where its own structure says?
//!
//! Uploads are written to disk chunk by chunk, so [`IntegrityCheck`] follows along with a few dozen
//! bytes of state and never buffers the file. It walks the container structure of the sniffed type
//! (JPEG marker segments and entropy-coded scans, PNG chunks, the RIFF header of WebP, ISO BMFF
//! top-level boxes for HEIC/HEIF) so that a photo cut off mid-transfer is refused instead of stored.
//! Pixel data is never decoded.

use std::cmp::min;

/// Why a file is not a complete image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageDefect {
    /// The file ends before the image's own structure says it should.
    Truncated,
    /// The structure is not that of the sniffed type (bad signature, impossible lengths).
    Malformed,
}

impl ImageDefect {
    pub fn code(self) -> &'static str {
        match self {
            ImageDefect::Truncated => "truncated_image",
            ImageDefect::Malformed => "malformed_image",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            ImageDefect::Truncated => "the image file is incomplete; the upload was probably cut off, please retry",
            ImageDefect::Malformed => {
                "the file is damaged or not a valid image of its type; please upload the original photo"
            }
        }
    }
}

/// Streaming structural check of an image file.
///
/// Feed every byte of the file in order with [`IntegrityCheck::feed`], then ask
/// [`IntegrityCheck::finish`] for the verdict. Once the structure is found to be malformed the
/// check stays malformed whatever follows.
#[derive(Debug, Clone)]
pub struct IntegrityCheck {
    len: u64,
    malformed: bool,
    format: Format,
}

#[derive(Debug, Clone)]
enum Format {
    Jpeg(Jpeg),
    Png(Png),
    Webp(Webp),
    Bmff(Bmff),
}

/// The structure seen so far is impossible for the format.
struct Bad;

#[allow(clippy::len_without_is_empty)]
impl IntegrityCheck {
    /// None for a content type this module does not check.
    pub fn new(content_type: &str) -> Option<Self> {
        let format = match content_type {
            "image/jpeg" => Format::Jpeg(Jpeg::Soi(0)),
            "image/png" => Format::Png(Png::Signature(0)),
            "image/webp" => Format::Webp(Webp::Header { buf: [0; 12], got: 0 }),
            "image/heic" | "image/heif" => {
                Format::Bmff(Bmff { boxes: 0, state: BoxState::Header { buf: [0; 8], got: 0 } })
            }
            _ => return None,
        };
        Some(IntegrityCheck { len: 0, malformed: false, format })
    }

    /// Feed the next bytes of the file (chunks of any size, including 1 byte or empty).
    pub fn feed(&mut self, chunk: &[u8]) {
        self.len = self.len.saturating_add(chunk.len() as u64);
        if self.malformed {
            return;
        }
        let step = match &mut self.format {
            Format::Jpeg(jpeg) => jpeg.feed(chunk),
            Format::Png(png) => png.feed(chunk),
            Format::Webp(webp) => webp.feed(chunk),
            Format::Bmff(bmff) => bmff.feed(chunk),
        };
        if step.is_err() {
            self.malformed = true;
        }
    }

    /// Total bytes fed.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The verdict once the whole file was fed.
    pub fn finish(&self) -> Result<(), ImageDefect> {
        if self.malformed {
            return Err(ImageDefect::Malformed);
        }
        let complete = match &self.format {
            Format::Jpeg(jpeg) => matches!(jpeg, Jpeg::Done),
            Format::Png(png) => matches!(png, Png::Done),
            Format::Webp(webp) => matches!(webp, Webp::Body { end } if self.len >= *end),
            Format::Bmff(bmff) => bmff.complete(),
        };
        if complete {
            Ok(())
        } else {
            Err(ImageDefect::Truncated)
        }
    }
}

/// How many of the `available` bytes belong to a payload with `remaining` bytes left.
fn take(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |remaining| min(remaining, available))
}

/// Copies bytes from `data[*i..]` into the unfilled tail of `buf`; true once `buf` is full.
fn fill<const N: usize>(buf: &mut [u8; N], got: &mut u8, data: &[u8], i: &mut usize) -> bool {
    let start = usize::from(*got);
    let n = min(N - start, data.len() - *i);
    buf[start..start + n].copy_from_slice(&data[*i..*i + n]);
    *i += n;
    *got += n as u8;
    usize::from(*got) == N
}

// ---------------------------------------------------------------------------------------------
// JPEG

/// Position in the marker/segment walk of a JPEG file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Jpeg {
    /// Expecting byte `n` of the SOI marker FF D8.
    Soi(u8),
    /// Expecting the FF that starts the next marker.
    Marker,
    /// After FF (and any fill bytes): expecting the marker code.
    Code,
    /// Expecting the high byte of a segment length; `sos` says entropy-coded data follows.
    LenHi { sos: bool },
    /// Expecting the low byte of a segment length.
    LenLo { hi: u8, sos: bool },
    /// Skipping a segment payload (never zero bytes left).
    Payload { remaining: u16, sos: bool },
    /// Inside entropy-coded data.
    Scan,
    /// Inside entropy-coded data, right after an FF.
    ScanFf,
    /// EOI seen; whatever follows is a trailer.
    Done,
}

impl Jpeg {
    fn feed(&mut self, data: &[u8]) -> Result<(), Bad> {
        let mut i = 0;
        while i < data.len() {
            match *self {
                Jpeg::Done => return Ok(()),
                Jpeg::Payload { remaining, sos } => {
                    let n = take(u64::from(remaining), data.len() - i);
                    i += n;
                    let left = usize::from(remaining) - n;
                    *self = if left == 0 {
                        Jpeg::after_segment(sos)
                    } else {
                        Jpeg::Payload { remaining: left as u16, sos }
                    };
                }
                Jpeg::Scan => match data[i..].iter().position(|&b| b == 0xFF) {
                    Some(at) => {
                        i += at + 1;
                        *self = Jpeg::ScanFf;
                    }
                    None => i = data.len(),
                },
                state => {
                    *self = state.step(data[i])?;
                    i += 1;
                }
            }
        }
        Ok(())
    }

    fn after_segment(sos: bool) -> Jpeg {
        if sos {
            Jpeg::Scan
        } else {
            Jpeg::Marker
        }
    }

    fn step(self, b: u8) -> Result<Jpeg, Bad> {
        Ok(match self {
            Jpeg::Soi(0) if b == 0xFF => Jpeg::Soi(1),
            Jpeg::Soi(1) if b == 0xD8 => Jpeg::Marker,
            Jpeg::Soi(_) => return Err(Bad),
            Jpeg::Marker if b == 0xFF => Jpeg::Code,
            Jpeg::Marker => return Err(Bad),
            Jpeg::Code | Jpeg::ScanFf => {
                let in_scan = self == Jpeg::ScanFf;
                match b {
                    // Fill bytes before a marker.
                    0xFF => self,
                    // A stuffed FF or a restart marker inside entropy-coded data.
                    0x00 | 0xD0..=0xD7 if in_scan => Jpeg::Scan,
                    0x00 => return Err(Bad),
                    // TEM, RSTn and SOI carry no length.
                    0x01 | 0xD0..=0xD8 => Jpeg::Marker,
                    0xD9 => Jpeg::Done,
                    0xDA => Jpeg::LenHi { sos: true },
                    _ => Jpeg::LenHi { sos: false },
                }
            }
            Jpeg::LenHi { sos } => Jpeg::LenLo { hi: b, sos },
            Jpeg::LenLo { hi, sos } => match u16::from_be_bytes([hi, b]) {
                0 | 1 => return Err(Bad),
                2 => Jpeg::after_segment(sos),
                len => Jpeg::Payload { remaining: len - 2, sos },
            },
            // Handled in bulk by `feed`.
            Jpeg::Payload { .. } | Jpeg::Scan | Jpeg::Done => self,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// PNG

const PNG_SIGNATURE: [u8; 8] = *b"\x89PNG\r\n\x1a\n";

/// Position in the chunk walk of a PNG file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Png {
    /// Expecting byte `n` of the signature.
    Signature(u8),
    /// Reading a chunk's length and type.
    Header { buf: [u8; 8], got: u8, first: bool },
    /// Reading chunk data (never zero bytes left); `crc` runs over type and data.
    Data { remaining: u32, crc: u32, iend: bool },
    /// Reading the chunk's CRC.
    Crc { value: u32, got: u8, crc: u32, iend: bool },
    /// IEND and its CRC read; whatever follows is a trailer.
    Done,
}

impl Png {
    fn feed(&mut self, data: &[u8]) -> Result<(), Bad> {
        let mut i = 0;
        while i < data.len() {
            match self {
                Png::Done => return Ok(()),
                Png::Signature(got) => {
                    if data[i] != PNG_SIGNATURE[usize::from(*got)] {
                        return Err(Bad);
                    }
                    i += 1;
                    *got += 1;
                    if usize::from(*got) == PNG_SIGNATURE.len() {
                        *self = Png::Header { buf: [0; 8], got: 0, first: true };
                    }
                }
                Png::Header { buf, got, first } => {
                    if fill(buf, got, data, &mut i) {
                        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
                        let kind = [buf[4], buf[5], buf[6], buf[7]];
                        if len > 0x7FFF_FFFF || !kind.iter().all(u8::is_ascii_alphabetic) {
                            return Err(Bad);
                        }
                        if *first && &kind != b"IHDR" {
                            return Err(Bad);
                        }
                        let crc = crc32_update(0xFFFF_FFFF, &kind);
                        let iend = &kind == b"IEND";
                        *self = if len == 0 {
                            Png::Crc { value: 0, got: 0, crc, iend }
                        } else {
                            Png::Data { remaining: len, crc, iend }
                        };
                    }
                }
                Png::Data { remaining, crc, iend } => {
                    let n = take(u64::from(*remaining), data.len() - i);
                    let crc = crc32_update(*crc, &data[i..i + n]);
                    i += n;
                    let left = *remaining as usize - n;
                    *self = if left == 0 {
                        Png::Crc { value: 0, got: 0, crc, iend: *iend }
                    } else {
                        Png::Data { remaining: left as u32, crc, iend: *iend }
                    };
                }
                Png::Crc { value, got, crc, iend } => {
                    *value = (*value << 8) | u32::from(data[i]);
                    *got += 1;
                    i += 1;
                    if *got == 4 {
                        if *value != !*crc {
                            return Err(Bad);
                        }
                        *self = if *iend { Png::Done } else { Png::Header { buf: [0; 8], got: 0, first: false } };
                    }
                }
            }
        }
        Ok(())
    }
}

/// CRC-32 (ISO 3309, as used by PNG) lookup table.
const CRC32_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// Continues a CRC-32 register (start with all ones, complement at the end).
fn crc32_update(mut crc: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        crc = CRC32_TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    crc
}

// ---------------------------------------------------------------------------------------------
// WebP

/// Position in a RIFF/WebP file: only the header is parsed, then bytes are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Webp {
    /// Reading "RIFF", the little-endian size and "WEBP".
    Header { buf: [u8; 12], got: u8 },
    /// Header read; the file is complete once `end` bytes were fed.
    Body { end: u64 },
}

impl Webp {
    fn feed(&mut self, data: &[u8]) -> Result<(), Bad> {
        let mut i = 0;
        if let Webp::Header { buf, got } = self {
            if fill(buf, got, data, &mut i) {
                let size = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
                if &buf[0..4] != b"RIFF" || &buf[8..12] != b"WEBP" || size < 4 {
                    return Err(Bad);
                }
                *self = Webp::Body { end: 8 + u64::from(size) };
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// HEIC / HEIF (ISO base media file format)

/// Walk over the top-level boxes of an ISO BMFF file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bmff {
    /// Complete top-level boxes read so far.
    boxes: u32,
    state: BoxState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BoxState {
    /// Reading a box's 32-bit size and type.
    Header { buf: [u8; 8], got: u8 },
    /// Reading the 64-bit size that follows a size of 1.
    LargeSize { buf: [u8; 8], got: u8 },
    /// Skipping a box body (never zero bytes left).
    Body { remaining: u64 },
    /// A box of size 0 runs to the end of the file.
    ToEnd,
}

impl Bmff {
    fn feed(&mut self, data: &[u8]) -> Result<(), Bad> {
        let mut i = 0;
        while i < data.len() {
            match &mut self.state {
                BoxState::ToEnd => return Ok(()),
                BoxState::Header { buf, got } => {
                    if fill(buf, got, data, &mut i) {
                        let size = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
                        let is_ftyp = &buf[4..8] == b"ftyp";
                        if self.boxes == 0 && !is_ftyp {
                            return Err(Bad);
                        }
                        match size {
                            // The file type box cannot be the whole file.
                            0 if self.boxes == 0 => return Err(Bad),
                            0 => self.state = BoxState::ToEnd,
                            1 => self.state = BoxState::LargeSize { buf: [0; 8], got: 0 },
                            _ => self.enter_body(u64::from(size), 8)?,
                        }
                    }
                }
                BoxState::LargeSize { buf, got } => {
                    if fill(buf, got, data, &mut i) {
                        let size = u64::from_be_bytes(*buf);
                        self.enter_body(size, 16)?;
                    }
                }
                BoxState::Body { remaining } => {
                    let n = take(*remaining, data.len() - i);
                    i += n;
                    *remaining -= n as u64;
                    if *remaining == 0 {
                        self.end_box();
                    }
                }
            }
        }
        Ok(())
    }

    /// A box of `size` bytes whose `header` bytes were just read.
    fn enter_body(&mut self, size: u64, header: u64) -> Result<(), Bad> {
        // The file type box holds at least a major brand and a minor version.
        let minimum = if self.boxes == 0 { header + 8 } else { header };
        if size < minimum {
            return Err(Bad);
        }
        if size == header {
            self.end_box();
        } else {
            self.state = BoxState::Body { remaining: size - header };
        }
        Ok(())
    }

    fn end_box(&mut self) {
        self.boxes = self.boxes.saturating_add(1);
        self.state = BoxState::Header { buf: [0; 8], got: 0 };
    }

    fn complete(&self) -> bool {
        match self.state {
            BoxState::ToEnd => true,
            BoxState::Header { got: 0, .. } => self.boxes >= 2,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::sniff_image;

    const ALL_TYPES: [&str; 5] = ["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"];

    /// A fixed, irregular chunking (with empty chunks) standing in for network reads.
    const PATTERN: [usize; 11] = [1, 3, 0, 7, 2, 13, 5, 0, 31, 4, 64];

    fn check_with(content_type: &str, bytes: &[u8], sizes: &mut dyn Iterator<Item = usize>) -> Result<(), ImageDefect> {
        let mut check = IntegrityCheck::new(content_type).expect("checked type");
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = sizes.next().expect("endless sizes").min(rest.len());
            check.feed(&rest[..n]);
            rest = &rest[n..];
        }
        assert_eq!(check.len(), bytes.len() as u64);
        check.finish()
    }

    fn whole(content_type: &str, bytes: &[u8]) -> Result<(), ImageDefect> {
        let mut check = IntegrityCheck::new(content_type).expect("checked type");
        check.feed(bytes);
        check.finish()
    }

    fn byte_by_byte(content_type: &str, bytes: &[u8]) -> Result<(), ImageDefect> {
        check_with(content_type, bytes, &mut std::iter::repeat(1))
    }

    fn patterned(content_type: &str, bytes: &[u8], skip: usize) -> Result<(), ImageDefect> {
        check_with(content_type, bytes, &mut PATTERN.iter().copied().cycle().skip(skip))
    }

    /// The same verdict whatever the chunking.
    fn verdict(content_type: &str, bytes: &[u8]) -> Result<(), ImageDefect> {
        let expected = whole(content_type, bytes);
        assert_eq!(byte_by_byte(content_type, bytes), expected, "byte by byte");
        for skip in 0..PATTERN.len() {
            assert_eq!(patterned(content_type, bytes, skip), expected, "pattern offset {skip}");
        }
        expected
    }

    fn assert_complete(content_type: &str, bytes: &[u8]) {
        assert_eq!(sniff_image(bytes), Some(content_type), "fixture sniffs as its type");
        assert_eq!(verdict(content_type, bytes), Ok(()));
    }

    /// Every strict prefix of `bytes` is truncated, except cuts listed in `boundaries`.
    fn assert_prefixes_truncated_except(content_type: &str, bytes: &[u8], boundaries: &[usize]) {
        for cut in 0..bytes.len() {
            let prefix = &bytes[..cut];
            if boundaries.contains(&cut) {
                assert_eq!(whole(content_type, prefix), Ok(()), "cut at {cut}");
                continue;
            }
            assert_eq!(whole(content_type, prefix), Err(ImageDefect::Truncated), "cut at {cut}");
            assert_eq!(
                patterned(content_type, prefix, cut % PATTERN.len()),
                Err(ImageDefect::Truncated),
                "cut at {cut}"
            );
        }
    }

    fn assert_prefixes_truncated(content_type: &str, bytes: &[u8]) {
        assert_prefixes_truncated_except(content_type, bytes, &[]);
    }

    // --- JPEG fixtures ------------------------------------------------------------------------

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let len = u16::try_from(payload.len() + 2).expect("short segment");
        let mut out = vec![0xFF, marker];
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn jfif_app0() -> Vec<u8> {
        segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0")
    }

    fn sos() -> Vec<u8> {
        segment(0xDA, &[0x01, 0x01, 0x00, 0x00, 0x3F, 0x00])
    }

    /// Baseline JPEG whose scan data holds stuffed bytes, restart markers and fill bytes.
    fn baseline_jpeg() -> Vec<u8> {
        let mut f = vec![0xFF, 0xD8];
        f.extend(jfif_app0());
        f.extend(segment(0xDB, &[0u8; 65]));
        f.extend(segment(0xC0, &[0x08, 0x00, 0x10, 0x00, 0x10, 0x01, 0x01, 0x11, 0x00]));
        f.extend(segment(0xC4, &[0x00, 0x01, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        f.extend(sos());
        f.extend([0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD0, 0x78, 0xD9, 0xFF, 0xFF, 0xD1, 0x9A, 0xFF, 0x00]);
        f.extend([0xFF, 0xD9]);
        f
    }

    /// Progressive JPEG: two scans with a DHT segment between them.
    fn progressive_jpeg() -> Vec<u8> {
        let mut f = vec![0xFF, 0xD8];
        f.extend(jfif_app0());
        f.extend(segment(0xC2, &[0x08, 0x00, 0x10, 0x00, 0x10, 0x01, 0x01, 0x11, 0x00]));
        f.extend(segment(0xC4, &[0x00, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05]));
        f.extend(segment(0xDA, &[0x01, 0x01, 0x00, 0x00, 0x00, 0x01]));
        f.extend([0xAA, 0xFF, 0x00, 0xBB, 0xCC]);
        f.extend(segment(0xC4, &[0x10, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07]));
        f.extend(segment(0xDA, &[0x01, 0x01, 0x00, 0x01, 0x3F, 0x10]));
        f.extend([0xDD, 0xEE, 0xFF, 0xD3, 0x01, 0x02]);
        f.extend([0xFF, 0xD9]);
        f
    }

    /// A tiny complete JPEG used as an EXIF thumbnail.
    fn thumbnail() -> Vec<u8> {
        let mut f = vec![0xFF, 0xD8];
        f.extend(segment(0xC0, &[0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x11, 0x00]));
        f.extend(sos());
        f.extend([0x55, 0x66, 0xFF, 0xD9]);
        f
    }

    /// The APP1 EXIF segment of a phone photo, with an embedded thumbnail.
    fn exif_app1() -> Vec<u8> {
        let mut payload = b"Exif\0\0MM\0\x2A\0\0\0\x08\0\0".to_vec();
        payload.extend(thumbnail());
        payload.extend([0x00, 0x00]);
        segment(0xE1, &payload)
    }

    /// SOI + EXIF APP1, then the main image of the baseline fixture.
    fn exif_jpeg() -> (Vec<u8>, usize) {
        let mut f = vec![0xFF, 0xD8];
        f.extend(exif_app1());
        let after_app1 = f.len();
        f.extend_from_slice(&baseline_jpeg()[2..]);
        (f, after_app1)
    }

    #[test]
    fn complete_jpegs_pass_any_chunking() {
        assert_complete("image/jpeg", &baseline_jpeg());
        assert_complete("image/jpeg", &progressive_jpeg());
        assert_complete("image/jpeg", &exif_jpeg().0);
        assert_complete("image/jpeg", &thumbnail());
    }

    #[test]
    fn every_jpeg_prefix_is_truncated() {
        assert_prefixes_truncated("image/jpeg", &baseline_jpeg());
        assert_prefixes_truncated("image/jpeg", &progressive_jpeg());
        assert_prefixes_truncated("image/jpeg", &exif_jpeg().0);
    }

    #[test]
    fn jpeg_cut_after_exif_thumbnail_is_truncated() {
        let (file, after_app1) = exif_jpeg();
        let thumb = thumbnail();
        // The cut file ends with the thumbnail's EOI, a few bytes before the end of APP1 ...
        let thumb_end = after_app1 - 2;
        assert_eq!(&file[thumb_end - 2..thumb_end], &[0xFF, 0xD9]);
        assert_eq!(&file[thumb_end - thumb.len()..thumb_end], thumb.as_slice());
        assert_eq!(verdict("image/jpeg", &file[..thumb_end]), Err(ImageDefect::Truncated));
        // ... or right after the whole APP1 segment.
        assert_eq!(verdict("image/jpeg", &file[..after_app1]), Err(ImageDefect::Truncated));
    }

    #[test]
    fn jpeg_scan_with_stuffing_and_restarts_passes() {
        let file = baseline_jpeg();
        assert!(file.windows(2).any(|w| w == [0xFF, 0x00]));
        assert!(file.windows(2).any(|w| w == [0xFF, 0xD0]));
        assert_eq!(verdict("image/jpeg", &file), Ok(()));
        // Cut inside the scan just after a stuffed byte or a restart marker.
        let scan = file.len() - 17;
        for cut in scan..file.len() {
            assert_eq!(verdict("image/jpeg", &file[..cut]), Err(ImageDefect::Truncated), "cut at {cut}");
        }
    }

    #[test]
    fn progressive_jpeg_with_two_scans_passes() {
        let file = progressive_jpeg();
        assert_eq!(file.windows(2).filter(|w| *w == [0xFF, 0xDA]).count(), 2);
        assert_eq!(verdict("image/jpeg", &file), Ok(()));
    }

    #[test]
    fn bytes_after_jpeg_eoi_are_accepted() {
        let mut file = baseline_jpeg();
        file.extend(b"\0\0trailer\xFF\xD8\xFF\x00garbage\xFF");
        assert_eq!(verdict("image/jpeg", &file), Ok(()));
    }

    #[test]
    fn malformed_jpegs() {
        // No SOI.
        assert_eq!(verdict("image/jpeg", &[0xFF, 0xD9]), Err(ImageDefect::Malformed));
        assert_eq!(verdict("image/jpeg", b"GIF89a"), Err(ImageDefect::Malformed));
        // Junk where a marker must start.
        let mut junk = vec![0xFF, 0xD8];
        junk.extend(jfif_app0());
        junk.extend([0x00, 0xFF, 0xD9]);
        assert_eq!(verdict("image/jpeg", &junk), Err(ImageDefect::Malformed));
        // FF 00 outside entropy-coded data.
        assert_eq!(verdict("image/jpeg", &[0xFF, 0xD8, 0xFF, 0x00, 0xFF, 0xD9]), Err(ImageDefect::Malformed));
        // Segment lengths below 2.
        assert_eq!(
            verdict("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01, 0xFF, 0xD9]),
            Err(ImageDefect::Malformed)
        );
        assert_eq!(verdict("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x00]), Err(ImageDefect::Malformed));
    }

    // --- PNG fixtures -------------------------------------------------------------------------

    fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let len = u32::try_from(data.len()).expect("small chunk");
        let mut out = len.to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = !crc32_update(crc32_update(0xFFFF_FFFF, kind), data);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    fn png() -> Vec<u8> {
        let mut f = PNG_SIGNATURE.to_vec();
        f.extend(png_chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]));
        f.extend(png_chunk(b"tEXt", b"Software\0test"));
        f.extend(png_chunk(b"IDAT", &[0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0x00, 0x00, 0x03, 0x01, 0x01, 0x00]));
        f.extend(png_chunk(b"IEND", &[]));
        f
    }

    #[test]
    fn crc32_matches_png_reference() {
        assert_eq!(!crc32_update(0xFFFF_FFFF, b"IEND"), 0xAE42_6082);
        assert_eq!(!crc32_update(0xFFFF_FFFF, b"123456789"), 0xCBF4_3926);
        assert_eq!(&png()[png().len() - 4..], &[0xAE, 0x42, 0x60, 0x82]);
    }

    #[test]
    fn complete_png_passes_any_chunking() {
        assert_complete("image/png", &png());
    }

    #[test]
    fn every_png_prefix_is_truncated() {
        assert_prefixes_truncated("image/png", &png());
    }

    #[test]
    fn bytes_after_png_iend_are_accepted() {
        let mut file = png();
        file.extend(b"trailing \0\0\0\0 bytes");
        assert_eq!(verdict("image/png", &file), Ok(()));
    }

    #[test]
    fn malformed_pngs() {
        // Bad signature.
        let mut bad = png();
        bad[1] = b'Q';
        assert_eq!(verdict("image/png", &bad), Err(ImageDefect::Malformed));
        // CRC mismatch.
        let mut bad = png();
        let last = bad.len() - 1;
        bad[last] ^= 0x01;
        assert_eq!(verdict("image/png", &bad), Err(ImageDefect::Malformed));
        // Corrupted data inside a chunk.
        let mut bad = png();
        bad[PNG_SIGNATURE.len() + 8 + 3] ^= 0x40;
        assert_eq!(verdict("image/png", &bad), Err(ImageDefect::Malformed));
        // Length above 2^31 - 1.
        let mut bad = PNG_SIGNATURE.to_vec();
        bad.extend([0x80, 0, 0, 0]);
        bad.extend(b"IHDR");
        assert_eq!(verdict("image/png", &bad), Err(ImageDefect::Malformed));
        // Chunk type that is not four letters.
        let mut bad = PNG_SIGNATURE.to_vec();
        bad.extend(png_chunk(b"IH1R", &[0; 13]));
        assert_eq!(verdict("image/png", &bad), Err(ImageDefect::Malformed));
        // First chunk is not IHDR.
        let mut bad = PNG_SIGNATURE.to_vec();
        bad.extend(png_chunk(b"IEND", &[]));
        assert_eq!(verdict("image/png", &bad), Err(ImageDefect::Malformed));
    }

    // --- WebP fixtures ------------------------------------------------------------------------

    fn webp() -> Vec<u8> {
        let vp8l = [0x2F, 0x00, 0x00, 0x00, 0x10];
        let mut body = b"WEBPVP8L".to_vec();
        body.extend(u32::try_from(vp8l.len()).expect("small").to_le_bytes());
        body.extend(vp8l);
        let mut f = b"RIFF".to_vec();
        f.extend(u32::try_from(body.len()).expect("small").to_le_bytes());
        f.extend(body);
        f
    }

    #[test]
    fn complete_webp_passes_any_chunking() {
        let file = webp();
        assert_eq!(file.len() % 2, 1, "odd RIFF size without padding byte");
        assert_complete("image/webp", &file);
        let mut padded = file.clone();
        padded.push(0);
        assert_complete("image/webp", &padded);
    }

    #[test]
    fn every_webp_prefix_is_truncated() {
        assert_prefixes_truncated("image/webp", &webp());
    }

    #[test]
    fn malformed_webps() {
        let mut bad = webp();
        bad[3] = b'X';
        assert_eq!(verdict("image/webp", &bad), Err(ImageDefect::Malformed));
        let mut bad = webp();
        bad[8..12].copy_from_slice(b"WAVE");
        assert_eq!(verdict("image/webp", &bad), Err(ImageDefect::Malformed));
        let mut bad = webp();
        bad[4..8].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(verdict("image/webp", &bad), Err(ImageDefect::Malformed));
    }

    // --- HEIC / HEIF fixtures -----------------------------------------------------------------

    fn bmff_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = u32::try_from(body.len() + 8).expect("small box").to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn ftyp(brand: &[u8; 4]) -> Vec<u8> {
        let mut body = brand.to_vec();
        body.extend([0, 0, 0, 0]);
        body.extend(b"mif1");
        body.extend(brand);
        bmff_box(b"ftyp", &body)
    }

    fn large_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = 1u32.to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend((body.len() as u64 + 16).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    /// ftyp followed by a single mdat box that uses a 64-bit largesize.
    fn heic_largesize() -> Vec<u8> {
        let mut f = ftyp(b"heic");
        f.extend(large_box(b"mdat", &[0x42; 37]));
        f
    }

    /// The usual phone layout: ftyp, meta, mdat. Returns the file and the end of meta.
    fn heic_three_boxes(brand: &[u8; 4]) -> (Vec<u8>, usize) {
        let mut f = ftyp(brand);
        f.extend(bmff_box(b"meta", &[0, 0, 0, 0, 0, 0, 0, 8, b'p', b'i', b't', b'm']));
        let meta_end = f.len();
        f.extend(bmff_box(b"mdat", &[0x17; 29]));
        (f, meta_end)
    }

    #[test]
    fn complete_heic_with_largesize_passes_any_chunking() {
        assert_complete("image/heic", &heic_largesize());
    }

    #[test]
    fn every_heic_prefix_is_truncated() {
        assert_prefixes_truncated("image/heic", &heic_largesize());
    }

    #[test]
    fn heif_prefixes_are_truncated_except_at_a_box_boundary() {
        let (file, meta_end) = heic_three_boxes(b"mif1");
        assert_complete("image/heif", &file);
        // A cut exactly between two top-level boxes (after ftyp and one more) looks complete.
        assert_prefixes_truncated_except("image/heif", &file, &[meta_end]);
        let (file, _) = heic_three_boxes(b"heic");
        assert_complete("image/heic", &file);
    }

    #[test]
    fn heic_box_running_to_end_of_file_passes() {
        let mut file = ftyp(b"heic");
        file.extend(0u32.to_be_bytes());
        file.extend(b"mdat");
        assert_eq!(verdict("image/heic", &file), Ok(()));
        file.extend([0x99; 100]);
        assert_eq!(verdict("image/heic", &file), Ok(()));
    }

    #[test]
    fn heic_with_only_ftyp_is_truncated() {
        assert_eq!(verdict("image/heic", &ftyp(b"heic")), Err(ImageDefect::Truncated));
    }

    #[test]
    fn malformed_heics() {
        // First box is not ftyp.
        let mut bad = bmff_box(b"meta", &[0; 8]);
        bad.extend(ftyp(b"heic"));
        assert_eq!(verdict("image/heic", &bad), Err(ImageDefect::Malformed));
        // Box size smaller than its header.
        let mut bad = ftyp(b"heic");
        bad.extend(4u32.to_be_bytes());
        bad.extend(b"mdat");
        assert_eq!(verdict("image/heic", &bad), Err(ImageDefect::Malformed));
        // Largesize smaller than its header.
        let mut bad = ftyp(b"heic");
        bad.extend(1u32.to_be_bytes());
        bad.extend(b"mdat");
        bad.extend(15u64.to_be_bytes());
        assert_eq!(verdict("image/heic", &bad), Err(ImageDefect::Malformed));
        // ftyp too short for its brand, or running to the end of the file.
        assert_eq!(verdict("image/heic", &bmff_box(b"ftyp", b"heic")), Err(ImageDefect::Malformed));
        assert_eq!(verdict("image/heic", b"\0\0\0\0ftypheic\0\0\0\0"), Err(ImageDefect::Malformed));
    }

    // --- All formats --------------------------------------------------------------------------

    #[test]
    fn empty_input_is_truncated_for_every_type() {
        for content_type in ALL_TYPES {
            let mut check = IntegrityCheck::new(content_type).expect("checked type");
            assert_eq!(check.finish(), Err(ImageDefect::Truncated), "{content_type}");
            check.feed(&[]);
            assert_eq!(check.len(), 0);
            assert_eq!(check.finish(), Err(ImageDefect::Truncated), "{content_type}");
        }
    }

    #[test]
    fn unchecked_types_have_no_check() {
        for content_type in ["image/gif", "application/pdf", "", "IMAGE/JPEG"] {
            assert!(IntegrityCheck::new(content_type).is_none(), "{content_type}");
        }
    }

    #[test]
    fn malformed_stays_malformed() {
        let fixtures = [
            ("image/jpeg", baseline_jpeg()),
            ("image/png", png()),
            ("image/webp", webp()),
            ("image/heic", heic_largesize()),
        ];
        for (content_type, file) in fixtures {
            let mut check = IntegrityCheck::new(content_type).expect("checked type");
            check.feed(b"\0\0\0\x01nonsense");
            assert_eq!(check.finish(), Err(ImageDefect::Malformed), "{content_type}");
            check.feed(&file);
            assert_eq!(check.finish(), Err(ImageDefect::Malformed), "{content_type}");
            assert_eq!(check.len(), 12 + file.len() as u64);
        }
    }

    #[test]
    fn len_counts_every_byte_fed() {
        let mut file = baseline_jpeg();
        file.extend([0u8; 10]);
        let mut check = IntegrityCheck::new("image/jpeg").expect("checked type");
        for chunk in file.chunks(7) {
            check.feed(chunk);
        }
        assert_eq!(check.len(), file.len() as u64);
    }

    #[test]
    fn defects_have_codes_and_messages() {
        assert_eq!(ImageDefect::Truncated.code(), "truncated_image");
        assert_eq!(ImageDefect::Malformed.code(), "malformed_image");
        assert!(ImageDefect::Truncated.message().contains("incomplete"));
        assert!(!ImageDefect::Malformed.message().is_empty());
    }

    #[test]
    fn state_stays_small() {
        assert!(std::mem::size_of::<IntegrityCheck>() <= 48, "{}", std::mem::size_of::<IntegrityCheck>());
    }
}
