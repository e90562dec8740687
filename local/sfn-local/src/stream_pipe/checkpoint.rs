//! A shard's checkpoint: the last sequence number handed over and the batch pending hand-over, kept
//! in `pipe/<stream>/<shard>.json` of the state directory and replaced atomically.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::StreamPipeError;

/// A shard's position: the last sequence number handed over (or dropped by the filter), and the
/// batch being handed over when the runner stopped, if any.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// The last sequence number handed over or dropped by the filter (None: nothing yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
    /// The batch being handed over when the runner stopped: handed over again first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingBatch>,
    /// The first record read while the shard had no position yet (StartingPosition LATEST): a
    /// restart before anything was handed over reads again from it, instead of from a new LATEST
    /// that would skip what was buffered or written meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
}

/// A batch whose hand-over had begun: its execution name and range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingBatch {
    /// The batch's execution name (see [`super::batch_name`]).
    pub name: String,
    /// The batch's first sequence number.
    pub first: String,
    /// The batch's last sequence number.
    pub last: String,
    /// How many records the batch holds (the filter's drops between them not counted).
    pub records: u64,
}

/// Checkpoints under `<state dir>/pipe/<stream>/<shard>.json`, replaced atomically.
pub struct Checkpoints {
    dir: PathBuf,
}

impl Checkpoints {
    /// The checkpoints of `stream_arn`'s shards in `state_dir`.
    pub fn new(state_dir: &Path, stream_arn: &str) -> Self {
        let stream: String = stream_arn
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Checkpoints {
            dir: state_dir.join("pipe").join(stream),
        }
    }

    fn path(&self, shard: &str) -> PathBuf {
        self.dir.join(format!("{shard}.json"))
    }

    /// The checkpoint of `shard` (the default when it has none yet).
    pub fn load(&self, shard: &str) -> Result<Checkpoint, StreamPipeError> {
        let path = self.path(shard);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| StreamPipeError::Checkpoint {
                path,
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Checkpoint::default()),
            Err(e) => Err(StreamPipeError::Checkpoint {
                path,
                message: e.to_string(),
            }),
        }
    }

    /// Written to a temporary file, synced, renamed over the old one: a SIGKILL leaves either.
    pub fn save(&self, shard: &str, cp: &Checkpoint) -> Result<(), StreamPipeError> {
        use std::io::Write;
        let path = self.path(shard);
        let err = |e: &dyn std::fmt::Display| StreamPipeError::Checkpoint {
            path: path.clone(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| err(&e))?;
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_vec(cp).map_err(|e| err(&e))?;
        let mut f = std::fs::File::create(&tmp).map_err(|e| err(&e))?;
        f.write_all(&text).map_err(|e| err(&e))?;
        f.sync_all().map_err(|e| err(&e))?;
        std::fs::rename(&tmp, &path).map_err(|e| err(&e))?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip_and_replace_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let c = Checkpoints::new(dir.path(), "arn:aws:dynamodb:us-east-1:1:table/t/stream/x");
        assert_eq!(c.load("s").unwrap(), Checkpoint::default());
        let cp = Checkpoint {
            sequence_number: Some("100".into()),
            pending: Some(PendingBatch {
                name: "pipe-x".into(),
                first: "101".into(),
                last: "150".into(),
                records: 20,
            }),
            start_at: Some("90".into()),
        };
        c.save("s", &cp).unwrap();
        assert_eq!(c.load("s").unwrap(), cp);
        std::fs::write(c.path("s"), "{").unwrap();
        assert!(matches!(
            c.load("s"),
            Err(StreamPipeError::Checkpoint { .. })
        ));
    }
}
