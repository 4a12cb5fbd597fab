//! Throwaway databases for tests: a fresh SQLite file or a fresh PostgreSQL database per call,
//! so tests never see each other's data. Enabled by the `test-support` feature.

use crate::blob::LocalBlobStore;
use crate::db::Db;
use crate::ids::new_id;
use crate::service::Service;
use std::sync::Arc;

/// Where the PostgreSQL test server is; each test creates its own database on it.
pub fn pg_admin_url() -> String {
    std::env::var("RD_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into())
}

pub fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join("real-dispatch-tests").join(new_id("t"));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

pub async fn sqlite_db() -> Db {
    let dir = temp_dir();
    let db = Db::connect(&format!("sqlite://{}/test.db?mode=rwc", dir.display())).await.expect("open sqlite");
    db.migrate().await.expect("migrate sqlite");
    db
}

pub async fn postgres_db() -> Db {
    let url = postgres_url().await;
    let db = Db::connect(&url).await.expect("connect test database");
    db.migrate().await.expect("migrate postgres");
    db
}

/// The URL of a fresh, empty PostgreSQL database (for servers run as their own processes).
pub async fn postgres_url() -> String {
    let admin_url = pg_admin_url();
    let admin = Db::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL for tests is not reachable at {admin_url} ({e}); run `make test`"));
    let name = format!("rdtest_{}", uuid::Uuid::new_v4().simple());
    admin.create_database(&name).await.expect("create test database");
    admin.close().await;
    let (base, _) = admin_url.rsplit_once('/').expect("database URL has a path");
    format!("{base}/{name}")
}

/// One fresh database per backend: every contract test runs on both. While a test works on
/// one of them, a failure names it ("on postgres"), whatever the assertion's own message says.
pub async fn each_backend() -> Backends {
    name_backend_in_panics();
    Backends(vec![sqlite_db().await, postgres_db().await].into_iter())
}

/// The databases of [`each_backend`]; each one yielded becomes the backend a failure names.
pub struct Backends(std::vec::IntoIter<Db>);

impl Iterator for Backends {
    type Item = Db;
    fn next(&mut self) -> Option<Db> {
        let db = self.0.next();
        CURRENT_BACKEND.with(|c| c.set(db.as_ref().map(|d| d.backend().as_str())));
        db
    }
}

thread_local! {
    /// `#[tokio::test]` runs a test on one thread, so the backend it works on is this thread's.
    static CURRENT_BACKEND: std::cell::Cell<Option<&'static str>> = const { std::cell::Cell::new(None) };
}

fn name_backend_in_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            default(info);
            if let Some(backend) = CURRENT_BACKEND.with(|c| c.get()) {
                eprintln!("  (this failure happened on {backend})");
            }
        }));
    });
}

pub fn service(db: Db) -> Service {
    let blobs = LocalBlobStore::new(temp_dir().join("blobs")).expect("blob dir");
    Service::new(db, Arc::new(blobs)).with_spool_dir(temp_dir().join("spool"))
}

/// A real JPEG photo of `w` × `h` whose EXIF carries an orientation and a GPS position, as a
/// phone writes them (the GPS latitude is 41° 52' 30" N).
pub fn jpeg_with_exif(w: u32, h: u32, orientation: u16) -> Vec<u8> {
    let img =
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8]));
    let mut plain = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 85))
        .expect("encode jpeg");
    let mut tiff: Vec<u8> = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes());
    // IFD0 at 8: orientation, and the GPS IFD pointer (to offset 38).
    tiff.extend(2u16.to_le_bytes());
    tiff.extend([0x12, 0x01, 3, 0]); // 0x0112 Orientation, SHORT
    tiff.extend(1u32.to_le_bytes());
    tiff.extend(orientation.to_le_bytes());
    tiff.extend([0, 0]);
    tiff.extend([0x25, 0x88, 4, 0]); // 0x8825 GPSInfo, LONG
    tiff.extend(1u32.to_le_bytes());
    tiff.extend(38u32.to_le_bytes());
    tiff.extend(0u32.to_le_bytes());
    // GPS IFD at 38: latitude ref "N" and the latitude (3 rationals at 68).
    tiff.extend(2u16.to_le_bytes());
    tiff.extend([1, 0, 2, 0]);
    tiff.extend(2u32.to_le_bytes());
    tiff.extend(*b"N\0\0\0");
    tiff.extend([2, 0, 5, 0]);
    tiff.extend(3u32.to_le_bytes());
    tiff.extend(68u32.to_le_bytes());
    tiff.extend(0u32.to_le_bytes());
    for (num, den) in [(41u32, 1u32), (52, 1), (3000, 100)] {
        tiff.extend(num.to_le_bytes());
        tiff.extend(den.to_le_bytes());
    }
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut out = plain[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&plain[2..]);
    out
}

/// The GPS latitude bytes [`jpeg_with_exif`] writes, to look for in stored copies.
pub const GPS_MARK: [u8; 8] = [41, 0, 0, 0, 1, 0, 0, 0];

/// A small real PNG (64 × 48), as a meter reading photo stands in for in lifecycle tests.
pub fn small_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png).expect("encode png");
    out.into_inner()
}

/// A structurally valid JPEG of about `bytes` bytes: a small real image whose header carries
/// filler application segments (as some cameras' maker notes do). For large-upload paths.
pub fn padded_jpeg(bytes: usize) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 90]));
    let mut small = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(&mut small, 85))
        .expect("encode jpeg");
    let mut out = Vec::with_capacity(bytes + 65_537);
    out.extend_from_slice(&small[..2]);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while out.len() + 65_537 + small.len() <= bytes {
        out.extend_from_slice(&[0xFF, 0xEF, 0xFF, 0xFF]); // APP15, 65535 bytes long
        for _ in 0..65_533 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.push(x as u8);
        }
    }
    out.extend_from_slice(&small[2..]);
    out
}

/// A grayscale PNG whose header claims `w` × `h` pixels, all zero: hundreds of megapixels in a
/// few hundred KiB, the shape of a decompression bomb. Written directly (the deflate stream is
/// one literal and then back-references of 258 bytes), so making one costs no pixel memory.
pub fn zeros_png(w: u32, h: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend(kind);
        out.extend(data);
        let crc = crc32(&out[start..]);
        out.extend(crc.to_be_bytes());
    }
    /// Deflate's bits go least significant first; Huffman codes most significant first.
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        fn put(&mut self, value: u64, count: u32) {
            self.acc |= value << self.n;
            self.n += count;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        fn code(&mut self, code: u32, len: u32) {
            let reversed = (0..len).fold(0u64, |r, i| (r << 1) | u64::from((code >> i) & 1));
            self.put(reversed, len);
        }
    }
    // Every row is a filter byte (0) and `w` zero samples.
    let total = u64::from(h) * (u64::from(w) + 1);
    let mut bits = Bits { out: vec![0x78, 0x01], acc: 0, n: 0 };
    bits.put(1, 1); // the last block
    bits.put(1, 2); // fixed Huffman codes
    bits.code(0x30, 8); // literal 0
    let mut left = total - 1;
    while left >= 258 {
        bits.code(0b1100_0101, 8); // length 258 (code 285)
        bits.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        bits.code(0x30, 8);
    }
    bits.code(0, 7); // end of block (code 256)
    if bits.n > 0 {
        bits.out.push(bits.acc as u8);
    }
    // Adler-32 of zeros: a stays 1, b adds 1 per byte.
    let adler = (((total % 65_521) as u32) << 16) | 1;
    bits.out.extend(adler.to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]); // 8-bit grayscale, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &bits.out);
    chunk(&mut out, b"IEND", &[]);
    out
}
