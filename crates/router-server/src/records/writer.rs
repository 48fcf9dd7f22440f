//! The records writer thread: owns the SQLite connection, batches inserts, answers reads.
//!
//! Records do not travel over the command channel: [`Pending::push`] appends to a shared batch
//! under a mutex and wakes the thread only when the batch is full, so a request never pays
//! for a thread wake-up (a futex call and a context switch). The thread also wakes every
//! `max_delay` and writes whatever is pending. Reads, flushes and shutdown are commands: the
//! thread takes the pending batch and writes it before it answers, and a record is pushed
//! before any later command is sent, so a read always sees the records made before it.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use super::store::Store;
use super::{GenerationRecord, KeyUsage, RecordsError, RecordsOptions};

/// How many full batches may wait for the writer before new records are dropped.
const MAX_PENDING_BATCHES: usize = 64;

/// The records waiting for the writer thread, shared with every [`super::Records`] clone.
#[derive(Debug)]
pub(super) struct Pending {
    queue: Mutex<Queue>,
    max_batch: usize,
}

#[derive(Debug, Default)]
struct Queue {
    records: Vec<GenerationRecord>,
    /// Whether records are being dropped because the queue is full (warned about once).
    dropping: bool,
}

impl Pending {
    /// Queues `record`; returns true when this record filled the batch, and the writer
    /// should be woken. While [`MAX_PENDING_BATCHES`] batches are already waiting (the disk
    /// stalls, or the writer is gone) the record is dropped, so memory stays bounded.
    pub(super) fn push(&self, record: GenerationRecord) -> bool {
        let mut queue = self.lock();
        if queue.records.len() >= self.max_batch.saturating_mul(MAX_PENDING_BATCHES) {
            if !queue.dropping {
                queue.dropping = true;
                tracing::warn!("generation records are not being written; dropping new ones");
            }
            return false;
        }
        queue.records.push(record);
        queue.records.len() == self.max_batch
    }

    fn take(&self) -> Vec<GenerationRecord> {
        let mut queue = self.lock();
        queue.dropping = false;
        std::mem::take(&mut queue.records)
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

/// Starts the writer thread on `store`.
pub(super) fn spawn(store: Store, options: RecordsOptions) -> std::io::Result<Spawned> {
    let (commands, inbox) = mpsc::channel();
    let pending = Arc::new(Pending {
        queue: Mutex::new(Queue::default()),
        max_batch: options.max_batch.max(1),
    });
    let writer = Writer {
        store,
        options,
        pending: Arc::clone(&pending),
    };
    let handle = thread::Builder::new()
        .name("turnout-records".to_owned())
        .spawn(move || writer.run(&inbox))?;
    Ok(Spawned {
        pending,
        commands,
        handle,
    })
}

struct Writer {
    store: Store,
    options: RecordsOptions,
    pending: Arc<Pending>,
}

impl Writer {
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
                    // The asker may have given up; nobody is left to tell.
                    let _ = reply.send(self.store.get(&id, &key_name));
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

    /// Writes the pending batch in one transaction. A batch that fails is dropped (and reported)
    /// so a broken store cannot grow memory without bound.
    fn write(&mut self) -> Result<(), RecordsError> {
        let batch = self.pending.take();
        if batch.is_empty() {
            return Ok(());
        }
        self.store.insert(&batch)
    }

    fn write_logged(&mut self) {
        if let Err(err) = self.write() {
            tracing::error!(error = %err, "could not write generation records");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::record;
    use super::*;

    #[test]
    fn a_stalled_queue_stops_growing() {
        let pending = Pending {
            queue: Mutex::new(Queue::default()),
            max_batch: 2,
        };
        let pushed: Vec<bool> = (0..MAX_PENDING_BATCHES * 2 + 3)
            .map(|idx| pending.push(record(&format!("gen-{idx}"), "k", 1, 1.0)))
            .collect();
        // Only the record that fills the first batch asks for a write.
        assert_eq!(pushed.iter().filter(|it| **it).count(), 1);
        assert_eq!(pending.take().len(), MAX_PENDING_BATCHES * 2);
        // Once taken, records queue again.
        assert!(!pending.push(record("gen-next", "k", 1, 1.0)));
        assert_eq!(pending.take().len(), 1);
    }
}
