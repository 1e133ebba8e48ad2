//! A scripted device for the unit tests of the shell engine: chunks read in turn (an empty
//! one is a read that times out), then a close; what is written is kept.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::runtime::stream::{ByteStream, StreamError};

pub struct Script {
    pub chunks: Vec<Vec<u8>>,
    pub written: Arc<Mutex<Vec<u8>>>,
}

impl Script {
    /// A device that answers with `chunks`, and the record of what it was sent.
    pub fn new<C: AsRef<[u8]>>(chunks: &[C]) -> (Script, Arc<Mutex<Vec<u8>>>) {
        let written = Arc::new(Mutex::new(Vec::new()));
        let s = Script {
            chunks: chunks.iter().map(|c| c.as_ref().to_vec()).collect(),
            written: written.clone(),
        };
        (s, written)
    }
}

impl ByteStream for Script {
    fn read_some(&mut self, buf: &mut [u8], _: Instant) -> Result<usize, StreamError> {
        if self.chunks.is_empty() {
            return Ok(0);
        }
        let next = self.chunks.remove(0);
        if next.is_empty() {
            return Err(StreamError::TimedOut { read: Vec::new() });
        }
        buf[..next.len()].copy_from_slice(&next);
        Ok(next.len())
    }
    fn write_all(&mut self, data: &[u8], _: Instant) -> Result<(), StreamError> {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(data);
        Ok(())
    }
    fn close(&mut self) {}
}
