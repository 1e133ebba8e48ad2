//! A byte stream with deadlines: what a device shell is reached through (an SSH channel,
//! a telnet connection). The expect engine above it reads until a pattern or a deadline
//! and writes; it does not care which protocol carries the bytes.
//!
//! Deadlines are instants, not durations, so one wait (a login, a command) is bounded as a
//! whole however many reads it takes.

use std::time::{Duration, Instant};

/// Why a stream operation did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// The deadline passed; the bytes read so far are kept.
    TimedOut { read: Vec<u8> },
    /// The peer closed the stream; the bytes read before it are kept.
    Closed { read: Vec<u8> },
    /// Anything else the transport reports, in its words.
    Io(String),
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamError::TimedOut { .. } => f.write_str("timed out waiting for the device"),
            StreamError::Closed { .. } => f.write_str("the device closed the connection"),
            StreamError::Io(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for StreamError {}

/// The longest single read: a device that streams output forever is still bounded by the
/// caller's deadline, and one read never holds more than this.
const READ_CHUNK: usize = 4096;

/// Most bytes one `read_until` keeps before giving up on a pattern that never comes.
pub const MAX_PENDING: usize = 1 << 20;

pub trait ByteStream {
    /// Read what is available, waiting at most until `deadline`. `Ok(0)` means the peer
    /// closed the stream; a passed deadline is `Err(TimedOut)` with nothing read.
    fn read_some(&mut self, buf: &mut [u8], deadline: Instant) -> Result<usize, StreamError>;

    /// Write all of `data` before `deadline`.
    fn write_all(&mut self, data: &[u8], deadline: Instant) -> Result<(), StreamError>;

    /// End the session politely (log out, close the channel); errors are of no interest
    /// any more at that point.
    fn close(&mut self);

    /// Read until `found` says the bytes read so far hold what is awaited; returns them.
    /// `found` sees everything read by this call, so a pattern split over two reads is
    /// still seen. More than [`MAX_PENDING`] bytes without a match is an error.
    fn read_until(
        &mut self,
        found: &mut dyn FnMut(&[u8]) -> bool,
        deadline: Instant,
    ) -> Result<Vec<u8>, StreamError> {
        let mut read = Vec::new();
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            if found(&read) {
                return Ok(read);
            }
            if read.len() > MAX_PENDING {
                return Err(StreamError::Io(format!(
                    "the device sent more than {MAX_PENDING} bytes without the awaited prompt"
                )));
            }
            match self.read_some(&mut chunk, deadline) {
                Ok(0) => return Err(StreamError::Closed { read }),
                Ok(n) => read.extend_from_slice(&chunk[..n]),
                // A transport timing out a little early (whole milliseconds) waits on.
                Err(StreamError::TimedOut { .. }) if remaining(deadline).is_some() => {}
                Err(StreamError::TimedOut { .. }) => return Err(StreamError::TimedOut { read }),
                Err(e) => return Err(e),
            }
        }
    }
}

/// Time left until `deadline`, at least a millisecond (socket timeouts of zero mean
/// "forever" to the OS), or `None` once it has passed.
pub fn remaining(deadline: Instant) -> Option<Duration> {
    let left = deadline.checked_duration_since(Instant::now())?;
    if left.is_zero() {
        return None;
    }
    Some(left.max(Duration::from_millis(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted stream: each read returns the next chunk, then the stream is closed.
    struct Scripted(Vec<Vec<u8>>);

    impl ByteStream for Scripted {
        fn read_some(&mut self, buf: &mut [u8], _: Instant) -> Result<usize, StreamError> {
            if self.0.is_empty() {
                return Ok(0);
            }
            let next = self.0.remove(0);
            buf[..next.len()].copy_from_slice(&next);
            Ok(next.len())
        }
        fn write_all(&mut self, _: &[u8], _: Instant) -> Result<(), StreamError> {
            Ok(())
        }
        fn close(&mut self) {}
    }

    fn ends_with_prompt(b: &[u8]) -> bool {
        b.ends_with(b"$ ")
    }

    #[test]
    fn a_pattern_split_over_two_reads_is_found() {
        let mut s = Scripted(vec![
            b"hello\r\n$".to_vec(),
            b" ".to_vec(),
            b"rest".to_vec(),
        ]);
        let deadline = Instant::now() + Duration::from_secs(1);
        let got = s.read_until(&mut ends_with_prompt, deadline).unwrap();
        assert_eq!(got, b"hello\r\n$ ");
    }

    #[test]
    fn a_close_before_the_pattern_keeps_what_was_read() {
        let mut s = Scripted(vec![b"partial".to_vec()]);
        let deadline = Instant::now() + Duration::from_secs(1);
        let err = s.read_until(&mut ends_with_prompt, deadline).unwrap_err();
        assert_eq!(
            err,
            StreamError::Closed {
                read: b"partial".to_vec()
            }
        );
    }

    #[test]
    fn remaining_is_none_after_the_deadline() {
        assert!(remaining(Instant::now() - Duration::from_millis(5)).is_none());
        assert!(remaining(Instant::now() + Duration::from_secs(1)).is_some());
    }
}
