//! The records writer thread: owns the SQLite connection, batches inserts, answers reads.
//!
//! Commands arrive in order on one channel, so a read sent after a record always sees it: the
//! thread writes its pending batch before it answers any read or flush. A batch is written when
//! it reaches `max_batch` records or `max_delay` after its first record, whichever comes first.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use super::store::Store;
use super::{GenerationRecord, KeyUsage, RecordsError, RecordsOptions};

/// What the writer thread is asked to do.
#[derive(Debug)]
pub(super) enum Command {
    /// Queue a record for the next batch.
    Record(Box<GenerationRecord>),
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
    /// Write the pending batch and report how that went.
    Flush {
        reply: mpsc::SyncSender<Result<(), RecordsError>>,
    },
    /// Write the pending batch and stop.
    Shutdown,
}

/// Starts the writer thread on `store`.
pub(super) fn spawn(
    store: Store,
    options: RecordsOptions,
) -> std::io::Result<(mpsc::Sender<Command>, JoinHandle<()>)> {
    let (commands, inbox) = mpsc::channel();
    let handle = thread::Builder::new()
        .name("turnout-records".to_owned())
        .spawn(move || Writer::new(store, options).run(&inbox))?;
    Ok((commands, handle))
}

struct Writer {
    store: Store,
    options: RecordsOptions,
    batch: Vec<GenerationRecord>,
    /// When the pending batch must be written at the latest.
    deadline: Option<Instant>,
}

impl Writer {
    fn new(store: Store, options: RecordsOptions) -> Self {
        Self {
            store,
            options: RecordsOptions {
                max_batch: options.max_batch.max(1),
                ..options
            },
            batch: Vec::new(),
            deadline: None,
        }
    }

    fn run(mut self, inbox: &mpsc::Receiver<Command>) {
        loop {
            let command = match self.deadline {
                None => match inbox.recv() {
                    Ok(command) => command,
                    Err(mpsc::RecvError) => break,
                },
                Some(deadline) => {
                    let wait = deadline.saturating_duration_since(Instant::now());
                    match inbox.recv_timeout(wait) {
                        Ok(command) => command,
                        Err(RecvTimeoutError::Timeout) => {
                            self.write_logged();
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            };
            match command {
                Command::Record(record) => {
                    self.batch.push(*record);
                    if self.batch.len() >= self.options.max_batch {
                        self.write_logged();
                    } else if self.deadline.is_none() {
                        self.deadline = Some(Instant::now() + self.options.max_delay);
                    }
                }
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
        self.deadline = None;
        if self.batch.is_empty() {
            return Ok(());
        }
        let res = self.store.insert(&self.batch);
        self.batch.clear();
        res
    }

    fn write_logged(&mut self) {
        let n_records = self.batch.len();
        if let Err(err) = self.write() {
            tracing::error!(error = %err, n_records, "could not write generation records");
        }
    }
}
