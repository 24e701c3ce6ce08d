//! Losing one of three NATS servers: the stream's leader is killed with SIGKILL while the
//! writer appends; every append acknowledged before, during and after is in the log, in order,
//! once, and the writer goes on. With every server gone, an append gives up at its deadline.

mod common;

use std::time::Duration;

use common::{Input, cluster, entries, input, open_log, within};
use tokio::sync::oneshot;
use voicedesk_cluster::{AppendError, InputLog, LogConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_nats_server_loses_no_acknowledged_append_and_appends_go_on() {
    let Some(mut cluster) = cluster().await else { return };
    let log = open_log(cluster.connect().await.unwrap()).await;
    const TOTAL: u64 = 300;
    const KILL_AFTER: u64 = 100;

    let (reached, kill_now) = oneshot::channel();
    let writer_log = log.clone();
    let writer = tokio::spawn(async move {
        let mut writer = writer_log.writer(1, 0);
        let mut acknowledged = Vec::new();
        let mut reached = Some(reached);
        for n in 0..TOTAL {
            let seq = writer.append(&input(n)).await.expect("appends go on");
            acknowledged.push((seq, n));
            if n + 1 == KILL_AFTER {
                reached.take().unwrap().send(()).unwrap();
            }
        }
        acknowledged
    });

    within("the first appends", kill_now).await.unwrap();
    let leader = within("the stream's leader", log.stream_leader())
        .await
        .unwrap()
        .expect("a replicated stream has a leader");
    let index = cluster.index_of(&leader).expect("the leader is one of ours");
    cluster.kill(index);

    let acknowledged = within("the remaining appends", writer).await.unwrap();
    let expected: Vec<(u64, u64)> = (0..TOTAL).map(|n| (n + 1, n)).collect();
    assert_eq!(acknowledged, expected, "contiguous sequences, one per append");

    // Read back through a server that survived.
    let survivor = (0..3).find(|&i| i != index).unwrap();
    let reader = open_log(cluster.connect_to(survivor).await.unwrap()).await;
    let records = within("the log", reader.read_to_end(1)).await.unwrap();
    assert_eq!(records.len() as u64, TOTAL, "nothing lost, nothing twice");
    assert_eq!(entries(&records), (0..TOTAL).map(input).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_nats_server_gone_an_append_gives_up_and_the_writer_takes_no_more() {
    let Some(mut cluster) = cluster().await else { return };
    let config = LogConfig {
        append_deadline: Duration::from_secs(2),
        ack_timeout: Duration::from_millis(500),
        ..LogConfig::new("inputs", 3)
    };
    let log: InputLog<Input> =
        InputLog::open(cluster.connect().await.unwrap(), config).await.unwrap();
    let mut writer = log.writer(1, 0);
    assert_eq!(writer.append(&input(1)).await.unwrap(), 1);

    for i in 0..3 {
        cluster.kill(i);
    }
    let err = within("the append to give up", writer.append(&input(2))).await.unwrap_err();
    assert!(matches!(err, AppendError::Unavailable(..)), "{err}");
    // Its outcome is unknown: another entry at the same position could be taken for its retry.
    let err = writer.append(&input(3)).await.unwrap_err();
    assert!(matches!(err, AppendError::Closed), "{err}");
    assert_eq!(writer.last_sequence(), 1);
}
