//! The records writer thread: owns the database connection ([`Backend`]), batches inserts,
//! answers reads.
//!
//! Records do not travel over the command channel: [`Pending::push`] appends to a shared batch
//! under a mutex and wakes the thread only when the batch is full, so a request never pays
//! for a thread wake-up (a futex call and a context switch). The thread also wakes every
//! `max_delay` and writes whatever is pending. Reads, flushes and shutdown are commands: the
//! thread takes the pending batch and writes it before it answers, and a record is pushed
//! before any later command is sent, so a read always sees the records made before it.
//!
//! When the database is unreachable ([`RecordsError::Unreachable`]), a batch that could not be
//! written goes back to the front of the queue and is tried again when the backend is
//! [`Backend::ready`]; the queue holds at most [`RecordsOptions::buffer`] records, and every record
//! refused past that is counted ([`Pending::dropped`]). A lookup of a record still queued is
//! answered from the queue.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use super::backend::Backend;
use super::{GenerationRecord, KeyUsage, RecordsError, RecordsOptions};

/// The records waiting for the writer thread, shared with every [`super::Records`] clone.
#[derive(Debug)]
pub(super) struct Pending {
    queue: Mutex<Queue>,
    max_batch: usize,
    /// The most records queued at once.
    limit: usize,
    /// Records refused because the queue was full.
    dropped: AtomicU64,
}

#[derive(Debug, Default)]
struct Queue {
    records: Vec<GenerationRecord>,
    /// Whether records are being dropped because the queue is full (warned about once, until a
    /// write succeeds).
    dropping: bool,
}

impl Pending {
    /// An empty queue of at most `limit` records, waking the writer every `max_batch`.
    pub(super) fn new(max_batch: usize, limit: usize) -> Self {
        Self {
            queue: Mutex::new(Queue::default()),
            max_batch: max_batch.max(1),
            limit: limit.max(1),
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues `record`; returns true when this record filled the batch, and the writer
    /// should be woken. While the queue holds its limit (the database is unreachable or stalls,
    /// or the writer is gone) the record is dropped and counted, so memory stays bounded.
    pub(super) fn push(&self, record: GenerationRecord) -> bool {
        let mut queue = self.lock();
        if queue.records.len() >= self.limit {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            if !queue.dropping {
                queue.dropping = true;
                tracing::warn!(
                    queued = queue.records.len(),
                    "generation records are not being written; dropping new ones"
                );
            }
            return false;
        }
        queue.records.push(record);
        queue.records.len() == self.max_batch
    }

    /// How many records were dropped because the queue was full.
    pub(super) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// How many records wait to be written.
    pub(super) fn len(&self) -> usize {
        self.lock().records.len()
    }

    fn take(&self) -> Vec<GenerationRecord> {
        std::mem::take(&mut self.lock().records)
    }

    /// Puts `unwritten` back in front of what was queued since it was taken; what exceeds the
    /// limit (the newest) is dropped and counted.
    fn restore(&self, mut unwritten: Vec<GenerationRecord>) {
        let mut queue = self.lock();
        unwritten.append(&mut queue.records);
        if unwritten.len() > self.limit {
            let over = unwritten.len() - self.limit;
            unwritten.truncate(self.limit);
            self.dropped
                .fetch_add(u64::try_from(over).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
        queue.records = unwritten;
    }

    /// A write succeeded: a full queue warns again next time.
    fn written(&self) {
        self.lock().dropping = false;
    }

    /// The queued record `id`, if `key_name` made it.
    fn find(&self, id: &str, key_name: &str) -> Option<GenerationRecord> {
        self.lock()
            .records
            .iter()
            .find(|it| it.id == id && *it.key_name == *key_name)
            .cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // A panic while holding the lock cannot leave the Vec half-written; keep going.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the writer thread is asked to do.
#[derive(Debug)]
pub(super) enum Command {
    /// The pending batch is full: write it now.
    Write,
    /// Look a record up for a key.
    Get {
        id: String,
        key_name: String,
        reply: mpsc::SyncSender<Result<Option<GenerationRecord>, RecordsError>>,
    },
    /// Sum a key's spending.
    KeyUsage {
        key_name: String,
        now_ms: u64,
        reply: mpsc::SyncSender<Result<KeyUsage, RecordsError>>,
    },
    /// List a conversation's records for a key.
    Session {
        key_name: String,
        session_id: String,
        limit: usize,
        reply: mpsc::SyncSender<Result<Vec<GenerationRecord>, RecordsError>>,
    },
    /// The newest records.
    Recent {
        key_name: Option<String>,
        since_ms: u64,
        limit: usize,
        reply: mpsc::SyncSender<Result<Vec<GenerationRecord>, RecordsError>>,
    },
    /// Write the pending batch and report how that went.
    Flush {
        reply: mpsc::SyncSender<Result<(), RecordsError>>,
    },
    /// Write the pending batch and stop.
    Shutdown,
}

/// The writer thread's handles: where records go, where commands go, and the thread.
pub(super) struct Spawned {
    pub(super) pending: Arc<Pending>,
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) handle: JoinHandle<()>,
}

/// Starts the writer thread on the backend `open` makes on that thread (a PostgreSQL client
/// must be made and used on a thread outside the async runtime), and waits for `open`'s answer.
pub(super) fn spawn<B: Backend + 'static>(
    open: impl FnOnce() -> Result<B, RecordsError> + Send + 'static,
    options: RecordsOptions,
) -> Result<Spawned, RecordsError> {
    let (commands, inbox) = mpsc::channel();
    let pending = Arc::new(Pending::new(options.max_batch, options.buffer));
    let (opened, open_answer) = mpsc::sync_channel(1);
    let for_thread = Arc::clone(&pending);
    let handle = thread::Builder::new()
        .name("turnout-records".to_owned())
        .spawn(move || {
            let store = match open() {
                Ok(store) => {
                    let _ = opened.send(Ok(()));
                    store
                }
                Err(err) => {
                    let _ = opened.send(Err(err));
                    return;
                }
            };
            Writer {
                store,
                options,
                pending: for_thread,
            }
            .run(&inbox);
        })
        .map_err(RecordsError::Spawn)?;
    match open_answer.recv() {
        Ok(Ok(())) => Ok(Spawned {
            pending,
            commands,
            handle,
        }),
        Ok(Err(err)) => {
            let _ = handle.join();
            Err(err)
        }
        Err(_) => {
            let _ = handle.join();
            Err(RecordsError::Closed)
        }
    }
}

struct Writer<B> {
    store: B,
    options: RecordsOptions,
    pending: Arc<Pending>,
}

impl<B: Backend> Writer<B> {
    fn run(mut self, inbox: &mpsc::Receiver<Command>) {
        loop {
            let command = match inbox.recv_timeout(self.options.max_delay) {
                Ok(command) => command,
                Err(RecvTimeoutError::Timeout) => {
                    self.write_logged();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            match command {
                Command::Write => self.write_logged(),
                Command::Get {
                    id,
                    key_name,
                    reply,
                } => {
                    self.write_logged();
                    let found = match self.store.get(&id, &key_name) {
                        Err(err @ RecordsError::Unreachable(_)) => {
                            self.pending.find(&id, &key_name).map(Some).ok_or(err)
                        }
                        found => found,
                    };
                    // The asker may have given up; nobody is left to tell.
                    let _ = reply.send(found);
                }
                Command::KeyUsage {
                    key_name,
                    now_ms,
                    reply,
                } => {
                    self.write_logged();
                    let _ = reply.send(self.store.key_usage(&key_name, now_ms));
                }
                Command::Session {
                    key_name,
                    session_id,
                    limit,
                    reply,
                } => {
                    self.write_logged();
                    let _ = reply.send(self.store.session(&key_name, &session_id, limit));
                }
                Command::Recent {
                    key_name,
                    since_ms,
                    limit,
                    reply,
                } => {
                    self.write_logged();
                    let _ = reply.send(self.store.recent(key_name.as_deref(), since_ms, limit));
                }
                Command::Flush { reply } => {
                    let _ = reply.send(self.write());
                }
                Command::Shutdown => break,
            }
        }
        self.write_logged();
    }

    /// Writes the pending records, one transaction per `max_batch`. A batch the database
    /// refuses is dropped (and reported) so a broken row cannot grow memory without bound; when
    /// the database is unreachable, what is left goes back to the queue.
    fn write(&mut self) -> Result<(), RecordsError> {
        if !self.store.ready() {
            return match self.pending.len() {
                0 => Ok(()),
                queued => Err(RecordsError::Unreachable(format!(
                    "{queued} records wait for the database"
                ))),
            };
        }
        let mut batch = self.pending.take();
        if batch.is_empty() {
            return Ok(());
        }
        let max_batch = self.options.max_batch.max(1);
        let mut written = 0;
        let mut refused = None;
        while written < batch.len() {
            let end = batch.len().min(written + max_batch);
            match self.store.insert(&batch[written..end]) {
                Ok(()) => written = end,
                Err(err @ RecordsError::Unreachable(_)) => {
                    self.pending.restore(batch.split_off(written));
                    return Err(err);
                }
                Err(err) => {
                    written = end;
                    refused = Some(err);
                }
            }
        }
        self.pending.written();
        refused.map_or(Ok(()), Err)
    }

    fn write_logged(&mut self) {
        match self.write() {
            // The backend warned when the database became unreachable.
            Ok(()) | Err(RecordsError::Unreachable(_)) => {}
            Err(err) => tracing::error!(error = %err, "could not write generation records"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::record;
    use super::*;

    #[test]
    fn a_stalled_queue_stops_growing_and_counts_what_it_drops() {
        let pending = Pending::new(2, 128);
        let pushed: Vec<bool> = (0..128 + 3)
            .map(|idx| pending.push(record(&format!("gen-{idx}"), "k", 1, 1.0)))
            .collect();
        // Only the record that fills the first batch asks for a write.
        assert_eq!(pushed.iter().filter(|it| **it).count(), 1);
        assert_eq!(pending.dropped(), 3);
        assert_eq!(pending.take().len(), 128);
        // Once taken, records queue again.
        assert!(!pending.push(record("gen-next", "k", 1, 1.0)));
        assert_eq!(pending.take().len(), 1);
    }

    #[test]
    fn an_unwritten_batch_goes_back_in_front_within_the_limit() {
        let pending = Pending::new(2, 3);
        for idx in 0..2 {
            pending.push(record(&format!("gen-{idx}"), "k", 1, 1.0));
        }
        let taken = pending.take();
        pending.push(record("gen-2", "k", 1, 1.0));
        pending.push(record("gen-3", "k", 1, 1.0));
        pending.restore(taken);
        let ids: Vec<String> = pending.take().into_iter().map(|it| it.id).collect();
        assert_eq!(ids, ["gen-0", "gen-1", "gen-2"]);
        assert_eq!(pending.dropped(), 1);
        assert!(pending.find("gen-0", "k").is_none());
    }
}
