//! The leader lease on a real three-server cluster: held, it cannot be taken; a leader that
//! stops renewing loses it to another node once its TTL ran out (not before), and its next
//! renewal fails; a leader whose whole process was paused (SIGSTOP) steps down when it wakes and
//! cannot append any more.

mod common;

use std::time::Instant;

use common::{TTL, cluster, input, open_lease, open_log, within};
use tokio::sync::{mpsc, oneshot};
use voicedesk_cluster::{AppendError, LeaderElection, LeaseError, Role};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_moves_to_another_node_when_the_leader_stops_renewing_not_before() {
    let Some(cluster) = cluster().await else { return };
    let client_a = cluster.connect_to(0).await.unwrap();
    let client_b = cluster.connect_to(1).await.unwrap();
    let lease_a = open_lease(client_a, "a").await;
    let lease_b = open_lease(client_b.clone(), "b").await;

    let revision = lease_a.acquire().await.unwrap();
    assert!(matches!(lease_b.acquire().await, Err(LeaseError::Lost)), "held: not taken");
    let last_renewal_sent = Instant::now();
    let revision = lease_a.renew(revision).await.unwrap();
    assert_eq!(lease_b.holder().await.unwrap(), Some(("a".to_owned(), revision)));

    // A stops renewing; B's election waits it out.
    let mut election_b = LeaderElection::start(lease_b.clone(), open_log(client_b).await);
    let role = within("b to lead", election_b.next()).await;
    let took_over_after = last_renewal_sent.elapsed();
    let Some(Role::Leading { epoch, .. }) = role else { panic!("b should lead: {role:?}") };
    assert!(epoch > revision, "the new epoch {epoch} is past a's revision {revision}");
    assert!(
        took_over_after >= TTL,
        "b led {took_over_after:?} after a's last renewal was sent, within a's TTL {TTL:?}"
    );
    assert_eq!(lease_b.holder().await.unwrap().map(|(node, _)| node).as_deref(), Some("b"));

    // A's next renewal fails: the key's revision is B's now.
    assert!(matches!(lease_a.renew(revision).await, Err(LeaseError::Lost)));
}

/// A node on its own thread and tokio runtime, as a separate process would be: its NATS
/// client, its election and its writer all stop while the thread is blocked (a SIGSTOP).
struct Node {
    roles: mpsc::UnboundedReceiver<Role>,
    commands: mpsc::UnboundedSender<Command>,
}

enum Command {
    /// Block the node's thread until the sender of this channel is dropped.
    Freeze(std::sync::mpsc::Receiver<()>),
    /// Append with the writer of the last `Leading`.
    Append(common::Input, oneshot::Sender<Result<u64, AppendError>>),
}

impl Node {
    fn start(urls: Vec<String>, name: &'static str) -> Self {
        let (roles_tx, roles) = mpsc::unbounded_channel();
        let (commands, mut commands_rx) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let client = voicedesk_cluster::local_cluster::connect(&urls).await.unwrap();
                let log = open_log(client.clone()).await;
                let mut election =
                    LeaderElection::start(open_lease(client, name).await, log.clone());
                let mut writer = None;
                loop {
                    tokio::select! {
                        role = election.next() => {
                            let Some(role) = role else { break };
                            if let Role::Leading { epoch, last_seq } = role {
                                writer = Some(log.writer(epoch, last_seq));
                            }
                            if roles_tx.send(role).is_err() { break }
                        }
                        command = commands_rx.recv() => match command {
                            None => break,
                            // Blocks the runtime's only thread: timers, the NATS connection and
                            // the election all stand still, as in a stopped process.
                            Some(Command::Freeze(thaw)) => { let _ = thaw.recv(); }
                            Some(Command::Append(entry, reply)) => {
                                let writer = writer.as_mut().expect("a writer: this node led");
                                let _ = reply.send(writer.append(&entry).await);
                            }
                        }
                    }
                }
            });
        });
        Self { roles, commands }
    }

    async fn append(&self, entry: common::Input) -> Result<u64, AppendError> {
        let (reply, result) = oneshot::channel();
        self.commands.send(Command::Append(entry, reply)).unwrap();
        result.await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_leader_steps_down_when_it_wakes_and_its_appends_are_fenced() {
    let Some(cluster) = cluster().await else { return };
    let mut a = Node::start(vec![cluster.servers()[0].url.clone()], "a");
    let role = within("a to lead", a.roles.recv()).await;
    let Some(Role::Leading { epoch: epoch_a, .. }) = role else {
        panic!("a should lead: {role:?}")
    };
    a.append(input(1)).await.expect("the leader appends");

    let (thaw, frozen) = std::sync::mpsc::channel();
    a.commands.send(Command::Freeze(frozen)).unwrap();

    let client_b = cluster.connect_to(1).await.unwrap();
    let log_b = open_log(client_b.clone()).await;
    let mut election_b = LeaderElection::start(open_lease(client_b, "b").await, log_b.clone());
    let role = within("b to lead", election_b.next()).await;
    let Some(Role::Leading { epoch: epoch_b, last_seq }) = role else {
        panic!("b should lead while a is paused: {role:?}")
    };
    assert!(epoch_b > epoch_a);

    drop(thaw);
    assert_eq!(within("a to step down", a.roles.recv()).await, Some(Role::Following));
    let err = a.append(input(2)).await.unwrap_err();
    assert!(matches!(err, AppendError::Fenced { .. }), "{err}");
    assert_eq!(log_b.last_sequence().await.unwrap(), last_seq, "a's append stored nothing");
}
