//! Blob stores against real backends: the local folder, and a real S3 server (s3s-fs, which
//! checks SigV4 signatures) started by this test.

use dispatch::blob::BlobError;
use dispatch::{BlobStore, LocalBlobStore, S3BlobStore};

mod s3_server;

use s3_server::{settings, start_s3};

async fn round_trip(store: &dyn BlobStore) {
    store.ping().await.expect("ping");
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let meta = store.put("attachments/tkt_1/photo.jpg", "image/jpeg", body.clone()).await.expect("put");
    assert_eq!(meta.size, 300_000);
    assert_eq!(meta.sha256.len(), 64);
    assert_eq!(store.get("attachments/tkt_1/photo.jpg").await.expect("get"), body);
    assert!(matches!(store.get("attachments/tkt_1/missing.jpg").await, Err(BlobError::NotFound(_))));
    assert!(matches!(store.put("../escape", "text/plain", vec![1]).await, Err(BlobError::InvalidKey(_))));
    // Files on disk stream in without being read into memory first.
    let path = dispatch::testing::temp_dir().join("spool.bin");
    let big: Vec<u8> = (0..6_000_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(&path, &big).expect("spool");
    store.put_file("uploads/upl_1.png", "image/png", &path).await.expect("put_file");
    assert_eq!(store.get("uploads/upl_1.png").await.expect("get"), big);
    let mut streamed = vec![];
    let mut reader = store.open("uploads/upl_1.png").await.expect("open");
    assert_eq!(reader.size, Some(big.len() as u64));
    tokio::io::AsyncReadExt::read_to_end(&mut reader.body, &mut streamed).await.expect("stream");
    assert_eq!(streamed, big);
    assert!(matches!(store.open("uploads/missing.png").await, Err(BlobError::NotFound(_))));
    let listed = store.list("attachments/").await.expect("list");
    assert_eq!(listed.iter().map(|l| l.key.as_str()).collect::<Vec<_>>(), ["attachments/tkt_1/photo.jpg"]);
    let now = dispatch::ids::now_ms();
    assert!(listed[0].modified_ms > now - 600_000 && listed[0].modified_ms <= now + 5_000, "{listed:?}");
    assert!(store.list("packets/").await.expect("list").is_empty());
    store.delete("attachments/tkt_1/photo.jpg").await.expect("delete");
    assert!(matches!(store.get("attachments/tkt_1/photo.jpg").await, Err(BlobError::NotFound(_))));
}

#[tokio::test]
async fn local_store_round_trip() {
    let store = LocalBlobStore::new(dispatch::testing::temp_dir()).expect("store");
    round_trip(&store).await;
}

#[tokio::test]
async fn s3_store_round_trip_against_a_real_server() {
    let server = start_s3().await;
    let store = S3BlobStore::new(&settings(&server.endpoint, "rdtest-secret-key"));
    assert!(store.ping().await.is_err(), "bucket does not exist yet");
    store.ensure_bucket().await.expect("create bucket");
    store.ensure_bucket().await.expect("idempotent");
    round_trip(&store).await;

    // The server checks signatures: a wrong secret is refused.
    let wrong = S3BlobStore::new(&settings(&server.endpoint, "not-the-secret"));
    assert!(wrong.put("x/y", "text/plain", vec![1, 2, 3]).await.is_err());
}

/// A streamed PUT the server refuses: the write that finds the refusal reports it, and the
/// upload is then given up cleanly (no second wait on the finished request), storing nothing.
#[tokio::test]
async fn a_refused_streamed_put_fails_cleanly_and_stores_nothing() {
    let server = start_s3().await;
    let good = S3BlobStore::new(&settings(&server.endpoint, "rdtest-secret-key"));
    good.ensure_bucket().await.expect("create bucket");
    let wrong = S3BlobStore::new(&settings(&server.endpoint, "not-the-secret"));
    let chunk = bytes::Bytes::from(vec![7u8; 64 * 1024]);
    let declared = 64 * 1024 * 1024;
    for give_up_by_finishing in [false, true] {
        let mut sink = wrong.sink("uploads/upl_refused.jpg", "image/jpeg", Some(declared)).await.expect("sink");
        let mut refused = false;
        for _ in 0..(declared / chunk.len() as u64) {
            if sink.write(chunk.clone()).await.is_err() {
                refused = true;
                break;
            }
        }
        assert!(refused, "the server's refusal reaches a write before the declared size is sent");
        if give_up_by_finishing {
            assert!(sink.finish().await.is_err(), "finishing a refused upload reports it");
        } else {
            sink.abort().await;
        }
    }
    assert!(matches!(good.get("uploads/upl_refused.jpg").await, Err(BlobError::NotFound(_))));
}
