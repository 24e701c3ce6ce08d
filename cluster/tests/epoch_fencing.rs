//! Epoch fencing on a real three-server cluster: once a new leader's epoch marker is in the log,
//! the old leader's next append is rejected with a typed error and stores nothing.

mod common;

use common::{cluster, entries, input, open_lease, open_log, within};
use voicedesk_cluster::{AppendError, LeaderElection, Record, Role};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_leaders_append_after_an_epoch_marker_is_rejected() {
    let Some(cluster) = cluster().await else { return };
    let client_a = cluster.connect_to(0).await.unwrap();
    let client_b = cluster.connect_to(1).await.unwrap();
    let log_a = open_log(client_a.clone()).await;
    let log_b = open_log(client_b.clone()).await;

    let mut election_a = LeaderElection::start(open_lease(client_a, "a").await, log_a.clone());
    let Some(Role::Leading { epoch: epoch_a, last_seq }) =
        within("a to lead", election_a.next()).await
    else {
        panic!("a should lead first")
    };
    let mut writer_a = log_a.writer(epoch_a, last_seq);
    for n in 0..3 {
        writer_a.append(&input(n)).await.unwrap();
    }

    // A stops renewing (its election is gone); B takes over once the lease ran out.
    drop(election_a);
    let mut election_b = LeaderElection::start(open_lease(client_b, "b").await, log_b.clone());
    let Some(Role::Leading { epoch: epoch_b, last_seq: marker_b }) =
        within("b to lead", election_b.next()).await
    else {
        panic!("b should lead")
    };
    assert!(epoch_b > epoch_a, "epochs grow: {epoch_a} then {epoch_b}");
    assert_eq!(marker_b, writer_a.last_sequence() + 1, "b's marker follows a's entries");

    // A, unaware, appends: fenced, and the log is unchanged.
    let err = writer_a.append(&input(99)).await.unwrap_err();
    assert!(matches!(err, AppendError::Fenced { .. }), "{err}");
    let batch_err = writer_a.append_batch(&[input(100), input(101)]).await.unwrap_err();
    assert!(matches!(batch_err, AppendError::Fenced { .. }), "{batch_err}");
    assert_eq!(log_b.last_sequence().await.unwrap(), marker_b);

    // B appends after its marker.
    let mut writer_b = log_b.writer(epoch_b, marker_b);
    assert_eq!(writer_b.append(&input(3)).await.unwrap(), marker_b + 1);

    let records = log_b.read_to_end(1).await.unwrap();
    assert_eq!(entries(&records), (0..4).map(input).collect::<Vec<_>>());
    let epochs: Vec<u64> = records
        .iter()
        .filter_map(|(_, r)| match r {
            Record::Epoch(m) => Some(m.epoch),
            Record::Entries(_) => None,
        })
        .collect();
    assert_eq!(epochs, vec![epoch_a, epoch_b]);
}
