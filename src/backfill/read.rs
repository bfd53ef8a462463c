//! Finding the export's files and opening them: a thin layer over the file system and
//! `apache-avro`'s object container reader.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use apache_avro::Reader;
use apache_avro::schema::Schema;

/// The file extension searched for in folders (a file named on the command line is read
/// whatever its name).
pub const AVRO_EXTENSION: &str = "avro";

/// Every file under `inputs`: files as given, folders searched recursively for `*.avro`
/// (hidden entries skipped, each folder once even through links), absolute, sorted, once each.
pub fn find_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = BTreeSet::new();
    let mut seen_dirs = BTreeSet::new();
    for input in inputs {
        let path = input
            .canonicalize()
            .map_err(|e| format!("{}: {e}", input.display()))?;
        if path.is_dir() {
            walk(&path, &mut files, &mut seen_dirs)
                .map_err(|e| format!("{}: {e}", input.display()))?;
        } else {
            files.insert(path);
        }
    }
    Ok(files.into_iter().collect())
}

fn walk(dir: &Path, files: &mut BTreeSet<PathBuf>, seen: &mut BTreeSet<PathBuf>) -> io::Result<()> {
    if !seen.insert(dir.canonicalize()?) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let meta = std::fs::metadata(&path)?; // follows links
        if meta.is_dir() {
            walk(&path, files, seen)?;
        } else if meta.is_file() && path.extension().is_some_and(|e| e == AVRO_EXTENSION) {
            files.insert(path);
        }
    }
    Ok(())
}

/// A reader that counts the bytes read through it (the progress bar's position).
#[derive(Debug)]
pub struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// An open storage file.
pub type AvroFile = Reader<'static, BufReader<Counting<File>>>;

/// Opens `path` and reads its Avro header; bytes read are added to `count`.
pub fn open(path: &Path, count: &Arc<AtomicU64>) -> Result<AvroFile, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let counting = Counting {
        inner: file,
        count: Arc::clone(count),
    };
    Reader::new(BufReader::with_capacity(64 * 1024, counting))
        .map_err(|e| format!("not a readable Avro object container file: {e}"))
}

/// The field names of a record schema, `None` for another schema.
pub fn record_fields(schema: &Schema) -> Option<Vec<&str>> {
    match schema {
        Schema::Record(r) => Some(r.fields.iter().map(|f| f.name.as_str()).collect()),
        _ => None,
    }
}
