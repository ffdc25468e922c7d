//! Property tests of the Snowflake provider, bounded in time: any cell of
//! any type decodes without a panic, rows are whole or refused, and any
//! cursor that was not sealed here is refused.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::cursor;
use super::decode::{RowDecoder, RowType, decode_cell, decode_row, unique_names};
use crate::table::Table;
use crate::error::ErrorKind;
use crate::properties::config;

/// `-?digits.digits`.
fn regex_like_plain(cell: &str) -> bool {
    let unsigned = cell.strip_prefix('-').unwrap_or(cell);
    match unsigned.split_once('.') {
        Some((whole, frac)) => {
            !whole.is_empty()
                && !frac.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// The short-decimal path gives the very double the float parser gives
    /// (sign of zero included), and declines every other shape.
    #[test]
    fn short_decimals_parse_exactly(cell in prop_oneof![
        "-?[0-9]{1,8}\\.[0-9]{1,7}",
        "-?[0-9]{1,15}\\.[0-9]{1,15}",
        "-?0\\.0{1,14}[1-9]?",
        "[-0-9.eE+]{0,18}",
    ]) {
        let got = super::decode::short_decimal(&cell);
        let digits = cell.bytes().filter(u8::is_ascii_digit).count();
        let plain = regex_like_plain(&cell);
        if plain && digits <= 15 {
            let want: f64 = cell.parse().unwrap();
            prop_assert_eq!(got.map(f64::to_bits), Some(want.to_bits()), "{}", cell);
        } else {
            prop_assert_eq!(got, None, "{}", cell);
        }
    }

    #[test]
    fn any_cursor_is_refused_without_a_panic(token in "[A-Za-z0-9_.\\-]{0,120}") {
        let err = cursor::open(&token, &[7u8; 32], "q", None).unwrap_err();
        prop_assert_eq!(err.kind(), ErrorKind::BadRequest);
    }


    #[test]
    fn any_cell_of_any_type_decodes(
        kind in prop_oneof![
            Just("fixed"), Just("decfloat"), Just("real"), Just("text"), Just("boolean"),
            Just("date"), Just("time"), Just("timestamp_ntz"), Just("timestamp_ltz"),
            Just("timestamp_tz"), Just("binary"), Just("variant"), Just("object"), Just("array"),
            Just("geography"), Just("vector"), Just("nonsense"),
        ],
        scale in -20i64..40,
        cell in prop_oneof![
            "-?[0-9]{1,40}(\\.[0-9]{0,20})?( -?[0-9]{1,12})?",
            "-?[0-9]{1,3}(\\.[0-9]{1,5})?[eE][+-]?[0-9]{1,4}",
            ".{0,24}",
        ],
    ) {
        let column = RowType { name: "C".into(), kind: kind.into(), scale: Some(scale), precision: None, nullable: None };
        let reference = decode_cell(&column, &cell);
        // The row decoder writes the same value straight into a table.
        let mut table = Table::new(vec!["C".into()]);
        let raw = serde_json::value::to_raw_value(&[&cell]).unwrap();
        RowDecoder::new(std::slice::from_ref(&column)).push_row(&mut table, raw.get()).unwrap();
        prop_assert_eq!(
            serde_json::to_string(&table.row_map(0)["C"]).unwrap(),
            serde_json::to_string(&reference).unwrap()
        );
    }

    #[test]
    fn the_row_decoder_agrees_with_the_reference(
        kinds in prop::collection::vec(prop_oneof![
            Just("fixed"), Just("real"), Just("text"), Just("date"), Just("timestamp_ntz"),
            Just("timestamp_ltz"), Just("timestamp_tz"), Just("time"), Just("variant"), Just("boolean"),
        ], 1..6),
        cells in prop::collection::vec(prop_oneof![
            "-?[0-9]{1,17}".prop_map(|s| json!(s)),
            "-?[0-9]{1,11}\\.[0-9]{1,9}".prop_map(|s| json!(s)),
            "[0-9]{1,10}\\.[0-9]{0,9} [0-9]{1,4}".prop_map(|s| json!(s)),
            ".{0,12}".prop_map(|s| json!(s)),
            Just(Value::Null),
            any::<i32>().prop_map(|n| json!(n)),
        ], 6),
        scale in 0i64..10,
    ) {
        let row_type: Vec<RowType> = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| RowType { name: format!("C{i}"), kind: (*k).into(), scale: Some(scale), precision: None, nullable: None })
            .collect();
        let names = unique_names(&row_type);
        let cells: Vec<Value> = cells.into_iter().take(row_type.len()).collect();
        let reference = decode_row(&row_type, &names, cells.clone()).unwrap();
        let mut table = Table::new(names);
        let raw = serde_json::value::to_raw_value(&cells).unwrap();
        RowDecoder::new(&row_type).push_row(&mut table, raw.get()).unwrap();
        prop_assert_eq!(
            serde_json::to_string(&table.row_map(0)).unwrap(),
            serde_json::to_string(&reference).unwrap()
        );
        // And the response writes it as serde_json writes the reference.
        let mut written = String::new();
        crate::row_json::write_rows(&table, 1, &mut written);
        prop_assert_eq!(written, serde_json::to_string(&[&reference]).unwrap());
    }


    #[test]
    fn rows_are_whole_or_refused(names in prop::collection::vec("[A-C]", 0..5), cells in 0usize..6) {
        let row_type: Vec<RowType> = names
            .iter()
            .map(|n| RowType { name: n.clone(), kind: "text".into(), scale: None, precision: None, nullable: None })
            .collect();
        let unique = unique_names(&row_type);
        let distinct: std::collections::HashSet<&String> = unique.iter().collect();
        prop_assert_eq!(distinct.len(), unique.len(), "names are unique");
        let data: Vec<Value> = (0..cells).map(|i| json!(i.to_string())).collect();
        match decode_row(&row_type, &unique, data) {
            Ok(row) => {
                prop_assert_eq!(cells, row_type.len());
                prop_assert_eq!(row.len(), row_type.len(), "no value lost");
            }
            Err(e) => {
                prop_assert_ne!(cells, row_type.len());
                prop_assert_eq!(e.kind(), ErrorKind::UpstreamFailed);
            }
        }
    }
}
