//! The subject of an X.509 certificate, read from its DER: just enough of ASN.1 to find
//! the common name and organizations, which x509 authentication maps to user and groups.

/// Common name and organizations of a certificate's subject.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    /// `CN` (the last one when several are present, as Go's `pkix.Name`); may be empty.
    pub common_name: String,
    /// Every `O`, in order.
    pub organizations: Vec<String>,
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const VERSION_TAG: u8 = 0xa0;
/// 2.5.4.3, commonName.
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
/// 2.5.4.10, organizationName.
const OID_O: &[u8] = &[0x55, 0x04, 0x0a];

/// One DER element at the start of `input`: its tag, its contents and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The contents of the element at the start of `input` if it has `tag`, and the rest.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, contents, rest) = element(input)?;
    (t == tag).then_some((contents, rest))
}

/// A directory string as Go decodes it (UTF8, Printable, IA5, Numeric, T61, BMP);
/// `None` for other types, which Go skips as well.
fn directory_string(tag: u8, value: &[u8]) -> Option<String> {
    match tag {
        0x0c | 0x12 | 0x13 | 0x16 => String::from_utf8(value.to_vec()).ok(),
        0x14 => Some(value.iter().map(|&b| char::from(b)).collect()),
        0x1e if value.len().is_multiple_of(2) => {
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// Reads the subject of the DER certificate `der`; `None` when it is not well-formed.
pub fn subject(der: &[u8]) -> Option<Subject> {
    let (cert, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(cert, SEQUENCE)?;
    let mut rest = tbs;
    if let Some((VERSION_TAG, _, after)) = element(rest) {
        rest = after;
    }
    // serialNumber, signature, issuer, validity, then subject.
    for _ in 0..4 {
        rest = element(rest)?.2;
    }
    let (mut rdns, _) = expect(rest, SEQUENCE)?;
    let mut out = Subject::default();
    while !rdns.is_empty() {
        let (mut set, after) = expect(rdns, SET)?;
        rdns = after;
        while !set.is_empty() {
            let (atv, after) = expect(set, SEQUENCE)?;
            set = after;
            let (oid, value) = expect(atv, OID)?;
            let (tag, value, _) = element(value)?;
            let Some(text) = directory_string(tag, value) else {
                continue;
            };
            if oid == OID_CN {
                out.common_name = text;
            } else if oid == OID_O {
                out.organizations.push(text);
            }
        }
    }
    Some(out)
}
