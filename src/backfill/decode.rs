//! The decoding side of a run, on its own thread: each selected file opened, its schema
//! checked, its records decoded in chunks and handed to the translating thread ([`Work`]). On
//! two cores, decoding and translating then overlap: a run goes at the pace of the slower one,
//! not of both added up. Translated chunks come back ([`Decoder::done`]) to be freed here, where
//! they were allocated.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};

use apache_avro::types::Value;

use super::checkpoint::{Checkpoint, Resume};
use super::coord::Note;
use super::layout::{FileMeta, Selection, file_meta};
use super::read::{open, record_fields};
use super::record::check_schema;

/// Records translated together by one `process()` call.
pub const CHUNK_RECORDS: usize = 1_000;
/// Chunks decoded ahead of translation.
pub const CHUNKS_AHEAD: usize = 4;

/// A file being read.
#[derive(Debug)]
pub(super) struct FileCtx {
    /// Its number in the run.
    pub no: u32,
    /// Its absolute path.
    pub key: String,
    /// What its path says.
    pub meta: FileMeta,
}

/// What the decoding thread hands over.
pub(super) enum Work {
    /// Records (position, value) of a file, and how many before them an earlier run settled.
    Chunk {
        file: Arc<FileCtx>,
        records: Vec<(u64, Value)>,
        already: u64,
    },
    /// The file cannot be read on from `record`.
    Failed {
        file: Arc<FileCtx>,
        reason: &'static str,
        record: u64,
        detail: String,
    },
    /// The file was read to its end: `total` records.
    Ended { file: Arc<FileCtx>, total: u64 },
}

/// The decoding thread's view of the run.
pub(super) struct Decoder<'a> {
    pub selection: &'a Selection,
    pub checkpoint: &'a Checkpoint,
    pub notes: Sender<Note>,
    pub work: SyncSender<Work>,
    /// The chunks the translating side is done with, handed back: their records are dropped
    /// here, on the thread that allocated them, and their vector holds the next chunk.
    pub done: Receiver<Vec<(u64, Value)>>,
    pub stop: &'a AtomicBool,
    pub decoded: Arc<AtomicU64>,
    pub file_names: Arc<Mutex<Vec<String>>>,
    /// Files left out by the selection.
    pub skipped: u64,
    /// Files an earlier run completed.
    pub already_complete: u64,
}

impl Decoder<'_> {
    fn note(&self, note: Note) {
        let _ = self.notes.send(note);
    }

    /// A vector for the next chunk: one handed back, emptied here (glibc's allocator frees a
    /// block fastest on the thread that allocated it, which then reuses it for the next
    /// records), or a new one.
    fn empty_chunk(&self) -> Vec<(u64, Value)> {
        emptied(&self.done).unwrap_or_else(|| Vec::with_capacity(CHUNK_RECORDS))
    }

    /// Decodes every file (until the run stops).
    pub fn decode_all(&mut self, files: &[PathBuf]) {
        for path in files {
            if self.stop.load(Ordering::Relaxed) || !self.decode_file(path) {
                break;
            }
        }
    }

    /// One file; `false` when the translating side is gone.
    fn decode_file(&mut self, path: &Path) -> bool {
        let key = path.to_string_lossy().into_owned();
        let meta = file_meta(path);
        if self.selection.file(&meta).is_err() {
            self.skipped += 1;
            return true;
        }
        let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
        let start = match self.checkpoint.resume(&key, bytes) {
            Resume::Complete => {
                self.already_complete += 1;
                let settled = self.checkpoint.get(&key).map_or(0, |s| s.settled);
                self.note(Note::Decoded {
                    records: 0,
                    already: settled,
                });
                return true;
            }
            Resume::Fresh => 0,
            Resume::From(k) => k,
            Resume::Changed => {
                self.note(Note::Log(format!(
                    "{key}: its size changed since the checkpoint: read again from its first record"
                )));
                0
            }
        };
        let no = {
            let mut names = self.file_names.lock().expect("file names");
            names.push(key.clone());
            (names.len() - 1) as u32
        };
        self.note(Note::Opened {
            file: no,
            key: key.clone(),
            bytes,
            start,
        });
        let file = Arc::new(FileCtx { no, key, meta });
        let failed = |reason, record, detail| Work::Failed {
            file: Arc::clone(&file),
            reason,
            record,
            detail,
        };
        let mut avro = match open(path, &self.decoded) {
            Ok(r) => r,
            Err(e) => return self.work.send(failed("unreadable_file", 0, e)).is_ok(),
        };
        let fields = record_fields(avro.writer_schema());
        if let Err((reason, detail)) =
            check_schema(fields.as_deref(), file.meta.event_type.as_deref())
        {
            return self.work.send(failed(reason, 0, detail)).is_ok();
        }
        let mut chunk: Vec<(u64, Value)> = self.empty_chunk();
        let (mut count, mut already) = (0u64, 0u64);
        let hand_over = |chunk: &mut Vec<(u64, Value)>, already: &mut u64| {
            let records = std::mem::replace(chunk, self.empty_chunk());
            let work = Work::Chunk {
                file: Arc::clone(&file),
                records,
                already: std::mem::take(already),
            };
            self.work.send(work).is_ok()
        };
        for item in avro.by_ref() {
            match item {
                Ok(_) if count < start => already += 1,
                Ok(value) => chunk.push((count, value)),
                Err(e) => {
                    let detail = format!("cannot read on (truncated or corrupt): {e}");
                    return hand_over(&mut chunk, &mut already)
                        && self
                            .work
                            .send(failed("unreadable_file", count, detail))
                            .is_ok();
                }
            }
            count += 1;
            if chunk.len() == CHUNK_RECORDS || already as usize == CHUNK_RECORDS {
                if !hand_over(&mut chunk, &mut already) {
                    return false;
                }
                if self.stop.load(Ordering::Relaxed) {
                    return false;
                }
            }
        }
        hand_over(&mut chunk, &mut already)
            && self
                .work
                .send(Work::Ended {
                    file: Arc::clone(&file),
                    total: count,
                })
                .is_ok()
    }
}

/// Empties every vector waiting in `done` (their items dropped on this thread); one of them,
/// if any, to be filled again.
fn emptied<T>(done: &Receiver<Vec<T>>) -> Option<Vec<T>> {
    let mut reused = None;
    for mut vector in done.try_iter() {
        vector.clear();
        reused.get_or_insert(vector);
    }
    reused
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;
    use std::sync::mpsc;

    use super::emptied;

    #[test]
    fn handed_back_chunks_are_emptied_here_and_one_is_reused() {
        let (tx, rx) = mpsc::channel::<Vec<Rc<()>>>();
        assert!(emptied(&rx).is_none(), "nothing handed back yet");
        let item = Rc::new(());
        let first: Vec<Rc<()>> = (0..3).map(|_| Rc::clone(&item)).collect();
        let capacity = first.capacity();
        let first_at = first.as_ptr();
        tx.send(first).unwrap();
        tx.send(vec![Rc::clone(&item)]).unwrap();
        let reused = emptied(&rx).expect("a vector to fill again");
        assert!(reused.is_empty());
        assert_eq!(
            (reused.as_ptr(), reused.capacity()),
            (first_at, capacity),
            "the first one"
        );
        assert_eq!(Rc::strong_count(&item), 1, "every item dropped");
        assert!(emptied(&rx).is_none(), "all taken");
    }
}
