//! Go's JSON reading of `null`, for serde.

use serde::Deserialize;

/// Reads `null` (or an empty YAML value) as the type's default, as Go's JSON decoding
/// leaves a field at its zero value on `null`.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}
