//! The quantity parser: any string gives a value or an error, and values keep their order.

use proptest::prelude::*;

use super::strategies::{numeric_form, quantity_text};
use crate::model::quantity::{parse_milli, parse_value};

fn check(s: &str) -> Result<(), TestCaseError> {
    let (value, milli) = (parse_value(s), parse_milli(s));
    prop_assert_eq!(value.is_ok(), milli.is_ok(), "{:?}", s);
    if let (Ok(v), Ok(m)) = (value, milli) {
        // Both round up: ceil(1000x) >= ceil(x) for x >= 0, and the signs agree.
        if v >= 0 && m >= 0 {
            prop_assert!(m >= v || v == i64::MAX, "{:?}: value {} milli {}", s, v, m);
        }
        prop_assert_eq!(
            v.signum() * m.signum() >= 0,
            true,
            "{:?}: {} vs {}",
            s,
            v,
            m
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(super::config())]

    #[test]
    fn fuzz_quantity_arbitrary_strings(s in any::<String>()) {
        check(&s)?;
    }

    #[test]
    fn fuzz_quantity_numeric_forms(s in prop_oneof![numeric_form(), quantity_text()]) {
        check(&s)?;
    }
}
