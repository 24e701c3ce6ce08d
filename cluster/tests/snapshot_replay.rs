//! Snapshots: resuming from the latest snapshot plus the log after it gives the same entries as
//! a full replay; with no snapshot a node resumes from the beginning.

mod common;

use common::{Input, cluster, entries, input, open_log, within};
use voicedesk_cluster::{Record, Snapshots};

/// Replays a resume until `last`, starting from the snapshot's state (the entries so far).
async fn state_after_resume(resume: voicedesk_cluster::Resume<Input>, last: u64) -> Vec<Input> {
    let mut state: Vec<Input> = match &resume.snapshot {
        Some(snapshot) => serde_json::from_slice(&snapshot.data).unwrap(),
        None => Vec::new(),
    };
    let mut replay = resume.replay;
    let mut seq = resume.snapshot.as_ref().map_or(0, |s| s.covers);
    while seq < last {
        let item = within("a replayed record", replay.next()).await.unwrap().unwrap();
        assert_eq!(item.seq, seq + 1, "no gap after the snapshot");
        seq = item.seq;
        if let Record::Entries(entries) = item.record {
            state.extend(entries);
        }
    }
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_from_a_snapshot_gives_the_same_entries_as_a_full_replay() {
    let Some(cluster) = cluster().await else { return };
    let client = cluster.connect().await.unwrap();
    let log = open_log(client.clone()).await;
    let snapshots = Snapshots::open(client, "snapshots", 3).await.unwrap();
    assert_eq!(snapshots.latest().await.unwrap(), None);

    // Entries large enough that the snapshot of twenty needs several object-store chunks.
    let big = |n: u64| Input { n, text: format!("input {n} ").repeat(2000) };
    let mut writer = log.writer(1, 0);
    let first: Vec<_> = (0..20).map(big).collect();
    let covered = writer.append_batch(&first).await.unwrap();
    let snapshot = serde_json::to_vec(&first).unwrap();
    assert!(snapshot.len() > 2 * 128 * 1024);
    snapshots.save(covered, &snapshot).await.unwrap();
    let later: Vec<_> = (20..35).map(big).collect();
    let last = writer.append_batch(&later).await.unwrap();

    let full = entries(&log.read_to_end(1).await.unwrap());
    let resumed = state_after_resume(snapshots.resume(&log).await.unwrap(), last).await;
    assert_eq!(resumed, full);
    assert_eq!(full, (0..35).map(big).collect::<Vec<_>>());

    // A newer snapshot replaces the older one; resuming from it replays nothing more.
    snapshots.save(last, &serde_json::to_vec(&full).unwrap()).await.unwrap();
    assert_eq!(snapshots.latest().await.unwrap().unwrap().covers, last);
    assert_eq!(state_after_resume(snapshots.resume(&log).await.unwrap(), last).await, full);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_snapshot_a_node_resumes_from_the_first_record() {
    let Some(cluster) = cluster().await else { return };
    let client = cluster.connect().await.unwrap();
    let log = open_log(client.clone()).await;
    let snapshots = Snapshots::open(client, "snapshots", 3).await.unwrap();
    let mut writer = log.writer(1, 0);
    let last = writer.append_batch(&(0..5).map(input).collect::<Vec<_>>()).await.unwrap();
    let resume = snapshots.resume(&log).await.unwrap();
    assert!(resume.snapshot.is_none());
    assert_eq!(state_after_resume(resume, last).await, (0..5).map(input).collect::<Vec<_>>());
}
