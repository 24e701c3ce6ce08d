//! The replicated input log on a real three-server cluster: what the leader appends, a follower
//! on another server replays in order and then follows (a batch as one record); a retried append is stored once; an
//! entry too large for NATS is refused and changes nothing.

mod common;

use common::{cluster, entries, input, open_log, within};
use voicedesk_cluster::{AppendError, Record};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_are_replayed_in_order_by_a_follower_then_followed() {
    let Some(cluster) = cluster().await else { return };
    let leader_log = open_log(cluster.connect_to(0).await.unwrap()).await;
    let follower_log = open_log(cluster.connect_to(2).await.unwrap()).await;

    let mut writer = leader_log.writer(1, 0);
    for n in 0..20 {
        assert_eq!(writer.append(&input(n)).await.unwrap(), n + 1);
    }
    let batch: Vec<_> = (20..50).map(input).collect();
    assert_eq!(writer.append_batch(&batch).await.unwrap(), 21, "a batch is one record");

    let mut replay = follower_log.replay(1).await.unwrap();
    for n in 0..20 {
        let item = within("a replayed record", replay.next()).await.unwrap().unwrap();
        assert_eq!(item.seq, n + 1);
        assert_eq!(item.record, Record::Entries(vec![input(n)]));
        assert!(!item.caught_up, "more records follow");
    }
    let item = within("the batch", replay.next()).await.unwrap().unwrap();
    assert_eq!((item.seq, item.record), (21, Record::Entries(batch)));
    assert!(item.caught_up, "caught up at the last record");

    // At the end, the replay follows what the leader appends next.
    for n in 50..55 {
        writer.append(&input(n)).await.unwrap();
    }
    for n in 50..55 {
        let item = within("a followed record", replay.next()).await.unwrap().unwrap();
        assert_eq!((item.seq, item.record), (n - 28, Record::Entries(vec![input(n)])));
    }

    // A replay from the middle starts there.
    let tail = follower_log.read_to_end(21).await.unwrap();
    assert_eq!(entries(&tail), (20..55).map(input).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_append_is_answered_with_the_first_copys_sequence() {
    // The leader sent an append, a NATS server died before its acknowledgement came back, and
    // the leader retries: the retry (same epoch, same expected sequence) must not store twice,
    // even after later appends moved the end of the log.
    let Some(cluster) = cluster().await else { return };
    let log = open_log(cluster.connect().await.unwrap()).await;
    let mut writer = log.writer(4, 0);
    assert_eq!(writer.append(&input(1)).await.unwrap(), 1);
    assert_eq!(writer.append(&input(2)).await.unwrap(), 2);

    let mut retry = log.writer(4, 0);
    assert_eq!(retry.append(&input(1)).await.unwrap(), 1);
    assert_eq!(log.last_sequence().await.unwrap(), 2);
    assert_eq!(entries(&log.read_to_end(1).await.unwrap()), vec![input(1), input(2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_too_large_for_nats_is_refused_and_changes_nothing() {
    let Some(cluster) = cluster().await else { return };
    let log = open_log(cluster.connect().await.unwrap()).await;
    let mut writer = log.writer(1, 0);
    writer.append(&input(1)).await.unwrap();

    let huge = common::Input { n: 2, text: "x".repeat(2 * 1024 * 1024) };
    let err = writer.append(&huge).await.unwrap_err();
    assert!(matches!(err, AppendError::Invalid(_)), "{err}");
    assert_eq!(writer.last_sequence(), 1);
    assert_eq!(log.last_sequence().await.unwrap(), 1);

    // The writer goes on after the refusal.
    assert_eq!(writer.append(&input(3)).await.unwrap(), 2);
}
