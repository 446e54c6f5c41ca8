//! The protobuf wire format, as far as Kubernetes objects need it: varints,
//! length-delimited fields and nested messages, written and read field by field.

/// Wire type of varint fields (int32, int64, bool).
const VARINT: u8 = 0;
/// Wire type of 64-bit fixed fields.
const FIXED64: u8 = 1;
/// Wire type of strings, bytes, nested messages and map entries.
const LEN: u8 = 2;
/// Wire type of 32-bit fixed fields.
const FIXED32: u8 = 5;

/// Appends fields to a message.
#[derive(Debug, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    /// An empty message.
    pub fn new() -> Self {
        Encoder::default()
    }

    /// The encoded message.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire));
    }

    /// A `bytes` field.
    pub fn bytes(&mut self, field: u32, v: &[u8]) {
        self.key(field, LEN);
        self.varint(v.len() as u64);
        self.buf.extend_from_slice(v);
    }

    /// A `string` field.
    pub fn string(&mut self, field: u32, v: &str) {
        self.bytes(field, v.as_bytes());
    }

    /// A `string` field when set.
    pub fn opt_string(&mut self, field: u32, v: Option<&str>) {
        if let Some(v) = v {
            self.string(field, v);
        }
    }

    /// An `int64` field (negative values take ten bytes, as protobuf encodes them).
    pub fn int64(&mut self, field: u32, v: i64) {
        self.key(field, VARINT);
        self.varint(v as u64);
    }

    /// An `int32` field (sign-extended, as protobuf encodes negative int32s).
    pub fn int32(&mut self, field: u32, v: i32) {
        self.int64(field, i64::from(v));
    }

    /// A nested message written by `body`.
    pub fn message(&mut self, field: u32, body: impl FnOnce(&mut Encoder)) {
        let mut inner = Encoder::new();
        body(&mut inner);
        self.bytes(field, &inner.buf);
    }
}

/// One field of a message being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// A varint (int32, int64, bool, enum).
    Varint(u64),
    /// A string, bytes or nested message.
    Bytes(&'a [u8]),
    /// A fixed 64- or 32-bit value, not interpreted.
    Fixed,
}

/// Malformed protobuf input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed protobuf message at byte {0}")]
pub struct Malformed(pub usize);

/// Reads the fields of a message in order.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// Reads `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Decoder { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, Malformed> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or(Malformed(self.pos))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(Malformed(self.pos))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let end = self.pos.checked_add(n).ok_or(Malformed(self.pos))?;
        let out = self.buf.get(self.pos..end).ok_or(Malformed(self.pos))?;
        self.pos = end;
        Ok(out)
    }

    /// The next field number and value, `None` at the end of the message.
    pub fn next_field(&mut self) -> Result<Option<(u32, Value<'a>)>, Malformed> {
        if self.pos == self.buf.len() {
            return Ok(None);
        }
        let at = self.pos;
        let key = self.varint()?;
        let field = u32::try_from(key >> 3).map_err(|_| Malformed(at))?;
        let value = match (key & 7) as u8 {
            VARINT => Value::Varint(self.varint()?),
            LEN => {
                let n = usize::try_from(self.varint()?).map_err(|_| Malformed(at))?;
                Value::Bytes(self.take(n)?)
            }
            FIXED64 => {
                self.take(8)?;
                Value::Fixed
            }
            FIXED32 => {
                self.take(4)?;
                Value::Fixed
            }
            _ => return Err(Malformed(at)),
        };
        Ok(Some((field, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_encoded_as_the_protobuf_spec_shows() {
        let mut e = Encoder::new();
        e.int32(1, 150);
        e.string(2, "testing");
        e.int64(3, -1);
        e.message(4, |m| m.int32(1, 150));
        e.opt_string(5, None);
        let mut want = vec![0x08, 0x96, 0x01, 0x12, 0x07];
        want.extend_from_slice(b"testing");
        want.extend_from_slice(&[
            0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ]);
        want.extend_from_slice(&[0x22, 0x03, 0x08, 0x96, 0x01]);
        assert_eq!(e.finish(), want);
    }

    #[test]
    fn the_decoder_reads_back_what_the_encoder_wrote() {
        let mut e = Encoder::new();
        e.string(3, "not found");
        e.int32(6, 404);
        e.message(5, |m| m.string(1, "p"));
        let buf = e.finish();
        let mut d = Decoder::new(&buf);
        assert_eq!(d.next_field(), Ok(Some((3, Value::Bytes(b"not found")))));
        assert_eq!(d.next_field(), Ok(Some((6, Value::Varint(404)))));
        assert_eq!(
            d.next_field(),
            Ok(Some((5, Value::Bytes(&[0x0a, 0x01, b'p']))))
        );
        assert_eq!(d.next_field(), Ok(None));
    }

    #[test]
    fn truncated_or_unknown_input_is_malformed() {
        assert!(Decoder::new(&[0x1a, 0x05, b'a']).next_field().is_err());
        assert!(Decoder::new(&[0x08, 0x96]).next_field().is_err());
        assert!(Decoder::new(&[0x0b]).next_field().is_err());
        let mut d = Decoder::new(&[0x09, 1, 2, 3, 4, 5, 6, 7, 8, 0x15, 1, 2, 3, 4]);
        assert_eq!(d.next_field(), Ok(Some((1, Value::Fixed))));
        assert_eq!(d.next_field(), Ok(Some((2, Value::Fixed))));
        assert_eq!(d.next_field(), Ok(None));
    }
}
