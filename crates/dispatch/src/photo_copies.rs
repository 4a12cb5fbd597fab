//! Derived copies of a photo: a thumbnail for lists, and the copy customers see.
//!
//! The customer-visible copy is re-encoded from pixels, so nothing of the original's metadata
//! (GPS location, camera serial, time) survives; the EXIF orientation is applied first so the
//! picture still stands the right way up. The original stays for the office.

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use std::io::{BufRead, Seek};
use std::path::Path;

/// Longest side of a thumbnail, in pixels.
pub const THUMB_SIDE: u32 = 320;
/// Longest side of the customer-visible copy.
pub const VIEW_SIDE: u32 = 1600;
/// Files larger than this are stored without copies: decoding them would cost more memory than
/// a small server should spend on one request (a phone photo is 2–12 MiB).
pub const MAX_DECODE_BYTES: u64 = 40 * 1024 * 1024;
/// The pixel budget: an image with more pixels (as its header says, read before any pixel is
/// decoded) is refused. A 50-megapixel phone photo (8160 × 6120) fits; a few hundred bytes of
/// compressed zeros claiming 11900 × 11900 do not.
pub const MAX_PIXELS: u64 = 64_000_000;
/// Most memory one decode may take (the decoder refuses to allocate more); the copies made
/// from it are small. Decodes run a few at a time (see `Service::image_work`), so this times
/// their number bounds the memory of all image work.
pub const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// How long a photo may wait for its turn at the decoder before the upload is answered
/// `BUSY` (nothing kept; the client retries with the same key).
pub const QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(20);
/// How long making a photo's copies may take before the upload is refused.
pub const TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Decodes at once: one per core, at most four.
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4)
}

/// JPEG bytes of both copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copies {
    pub thumb: Vec<u8>,
    pub view: Vec<u8>,
}

/// Why no copies were made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoCopies {
    /// A format with no decoder here (HEIC/HEIF) or a file too large to decode: stored as is.
    Skipped(&'static str),
    /// The file claims to be an image but does not decode: refused.
    Unreadable(String),
    /// The header claims more pixels than [`MAX_PIXELS`]: refused before decoding.
    TooManyPixels { width: u32, height: u32 },
}

/// Makes both copies of the image file at `path` (blocking: run it on a blocking thread).
pub fn from_file(path: &Path, content_type: &str, size: u64) -> Result<Copies, NoCopies> {
    precheck(content_type, size)?;
    let file = std::fs::File::open(path).map_err(|e| NoCopies::Unreadable(e.to_string()))?;
    decode(ImageReader::new(std::io::BufReader::new(file)), content_type)
}

/// Makes both copies of an image held in memory (blocking).
pub fn from_bytes(bytes: &[u8], content_type: &str) -> Result<Copies, NoCopies> {
    precheck(content_type, bytes.len() as u64)?;
    decode(ImageReader::new(std::io::Cursor::new(bytes)), content_type)
}

fn precheck(content_type: &str, size: u64) -> Result<(), NoCopies> {
    if !matches!(content_type, "image/jpeg" | "image/png" | "image/webp") {
        return Err(NoCopies::Skipped("no decoder for this format"));
    }
    if size > MAX_DECODE_BYTES {
        return Err(NoCopies::Skipped("too large to decode"));
    }
    Ok(())
}

fn decode<R: BufRead + Seek>(reader: ImageReader<R>, content_type: &str) -> Result<Copies, NoCopies> {
    let view = shrunk(reader, content_type, VIEW_SIDE)?;
    // `thumbnail` fits into the box both ways: a photo already smaller is kept as it is.
    let thumb = if view.width().max(view.height()) > THUMB_SIDE {
        view.thumbnail(THUMB_SIDE, THUMB_SIDE)
    } else {
        view.clone()
    };
    Ok(Copies { thumb: jpeg(&thumb, 78)?, view: jpeg(&view, 85)? })
}

/// The shop's logo as a JPEG of at most `side` pixels a side, and its width and height
/// (blocking). Transparent areas become white, as on the paper it is printed on.
pub fn logo_from_bytes(bytes: &[u8], content_type: &str, side: u32) -> Result<(Vec<u8>, u32, u32), NoCopies> {
    precheck(content_type, bytes.len() as u64)?;
    let img = shrunk(ImageReader::new(std::io::Cursor::new(bytes)), content_type, side)?;
    Ok((jpeg(&img, 90)?, img.width(), img.height()))
}

/// The image decoded within the pixel and memory budgets, at most `side` pixels a side, the
/// right way up, flattened onto white.
fn shrunk<R: BufRead + Seek>(
    mut reader: ImageReader<R>,
    content_type: &str,
    side: u32,
) -> Result<DynamicImage, NoCopies> {
    let format = match content_type {
        "image/jpeg" => image::ImageFormat::Jpeg,
        "image/png" => image::ImageFormat::Png,
        _ => image::ImageFormat::WebP,
    };
    reader.set_format(format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let unreadable = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => NoCopies::Skipped("too much memory to decode"),
        other => NoCopies::Unreadable(other.to_string()),
    };
    // Reads the header only: the pixel budget is checked before a single pixel is decoded.
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(NoCopies::TooManyPixels { width, height });
    }
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let full = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    // Shrink first, so every later step (rotation, flattening) works on the small copy;
    // `thumbnail` averages areas into its output and allocates nothing else of full size.
    let mut view = if full.width().max(full.height()) > side { full.thumbnail(side, side) } else { full };
    view.apply_orientation(orientation);
    // JPEG has no alpha: flatten onto white so transparent PNG areas do not turn black.
    Ok(flatten(view))
}

fn flatten(img: DynamicImage) -> DynamicImage {
    if !img.color().has_alpha() {
        return DynamicImage::ImageRgb8(img.into_rgb8());
    }
    let rgba = img.into_rgba8();
    let mut out = image::RgbImage::new(rgba.width(), rgba.height());
    for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
        let a = u16::from(p[3]);
        for c in 0..3 {
            o[c] = ((u16::from(p[c]) * a + 255 * (255 - a)) / 255) as u8;
        }
    }
    DynamicImage::ImageRgb8(out)
}

fn jpeg(img: &DynamicImage, quality: u8) -> Result<Vec<u8>, NoCopies> {
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
    img.write_with_encoder(encoder).map_err(|e| NoCopies::Unreadable(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32, alpha: bool) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let img = if alpha {
            DynamicImage::ImageRgba8(image::RgbaImage::from_fn(w, h, |x, _| {
                image::Rgba([200, 10, 10, (x % 256) as u8])
            }))
        } else {
            DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 90])))
        };
        img.write_to(&mut out, image::ImageFormat::Png).expect("encode png");
        out.into_inner()
    }

    fn dims(jpeg: &[u8]) -> (u32, u32) {
        let img = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg).expect("a jpeg");
        (img.width(), img.height())
    }

    #[test]
    fn copies_are_jpegs_bounded_in_size() {
        let c = from_bytes(&png(2000, 1000, false), "image/png").expect("copies");
        assert_eq!(dims(&c.view), (1600, 800));
        assert_eq!(dims(&c.thumb), (320, 160));
        let small = from_bytes(&png(100, 50, true), "image/png").expect("copies");
        assert_eq!(dims(&small.view), (100, 50), "small images are not enlarged");
        assert_eq!(dims(&small.thumb), (100, 50), "nor are their thumbnails");
    }

    #[cfg(feature = "test-support")]
    #[test]
    fn more_pixels_than_the_budget_are_refused_before_decoding() {
        use crate::testing::zeros_png;
        let bomb = zeros_png(11_900, 11_900);
        assert!(bomb.len() < 1_000_000, "compressed zeros are small: {}", bomb.len());
        assert_eq!(from_bytes(&bomb, "image/png"), Err(NoCopies::TooManyPixels { width: 11_900, height: 11_900 }));
        let fits = zeros_png(4_000, 3_000);
        let copies = from_bytes(&fits, "image/png").expect("a 12-megapixel photo gets copies");
        assert_eq!(dims(&copies.view), (1600, 1200));
    }

    #[cfg(feature = "test-support")]
    #[test]
    fn orientation_is_applied_to_the_copies() {
        let sideways = crate::testing::jpeg_with_exif(800, 400, 6);
        let copies = from_bytes(&sideways, "image/jpeg").expect("copies");
        assert_eq!(dims(&copies.view), (400, 800), "stands the right way up");
    }

    #[test]
    fn unsupported_or_broken_files_are_told_apart() {
        assert_eq!(
            from_bytes(b"\0\0\0\x18ftypheic", "image/heic"),
            Err(NoCopies::Skipped("no decoder for this format"))
        );
        let mut broken = png(64, 64, false);
        broken.truncate(broken.len() / 2);
        assert!(matches!(from_bytes(&broken, "image/png"), Err(NoCopies::Unreadable(_))));
    }
}
