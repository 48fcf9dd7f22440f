//! Writing JSON text straight into a byte buffer: string literals, integers, booleans, and
//! decimals that never use exponent notation (prices and costs), without `serde_json` and
//! without intermediate strings.

/// Appends `value` as a plain decimal number, never in exponent notation (`0.00000125`),
/// rounded to [`SIGNIFICANT_DIGITS`] significant digits. Non-finite values (which no price or
/// cost can be) render as `0`.
///
/// The rounding removes the noise of binary floating-point arithmetic (`0.025 / 1e6` is
/// `2.5000000000000002e-8`, and a cost sums several products) while keeping far more precision
/// than any price has.
pub fn push_decimal(out: &mut Vec<u8>, value: f64) {
    use std::io::Write as _;
    if !value.is_finite() {
        out.push(b'0');
        return;
    }
    match scaled_digits(value) {
        Some((digits, digits_after_point)) => push_scaled(out, value, digits, digits_after_point),
        // Rust's `Display` for floats prints the shortest round-tripping decimal and never uses
        // an exponent. Writing into a `Vec` cannot fail.
        None => _ = write!(out, "{value}"),
    }
}

/// Significant digits kept by [`push_decimal`].
pub const SIGNIFICANT_DIGITS: i32 = 12;

/// `|value|` rounded to [`SIGNIFICANT_DIGITS`] significant digits, as an integer and the number
/// of its digits after the decimal point; `None` for zero and for values so large or so small
/// (below about `1e-11`) that the scaling power of ten is not exact in binary.
fn scaled_digits(value: f64) -> Option<(u64, u32)> {
    if value == 0.0 {
        return None;
    }
    let magnitude = value.abs().log10().floor() as i32;
    let digits_after_point = u32::try_from(SIGNIFICANT_DIGITS - 1 - magnitude).ok()?;
    // Powers of ten up to 1e22 are exact in an f64, so the scaled value is correctly rounded.
    if digits_after_point > 22 {
        return None;
    }
    let scale = 10f64.powi(digits_after_point as i32);
    // At most 13 digits (`log10` may be one off at a power of ten): exact in both types.
    Some(((value.abs() * scale).round() as u64, digits_after_point))
}

/// Writes `digits / 10^digits_after_point` with `value`'s sign, without trailing zeros: what
/// `Display` prints for the nearest `f64`, since a decimal of at most 15 significant digits is
/// the shortest string that reads back as that `f64`.
fn push_scaled(out: &mut Vec<u8>, value: f64, digits: u64, digits_after_point: u32) {
    let mut buffer = [b'0'; 40];
    let mut text = digits;
    let mut start = buffer.len();
    while text > 0 {
        start -= 1;
        buffer[start] = b'0' + (text % 10) as u8;
        text /= 10;
    }
    let point = digits_after_point as usize;
    // Leading zeros up to one digit before the point (`buffer` is zero-filled).
    start = start.min(buffer.len() - point - 1);
    let (whole, fraction) = buffer[start..].split_at(buffer.len() - start - point);
    let fraction_len = fraction.len() - fraction.iter().rev().take_while(|it| **it == b'0').count();
    if value.is_sign_negative() && digits > 0 {
        out.push(b'-');
    }
    out.extend_from_slice(whole);
    if fraction_len > 0 {
        out.push(b'.');
        out.extend_from_slice(&fraction[..fraction_len]);
    }
}

/// Appends `value` as a JSON string literal, escaping what JSON requires.
pub fn push_json_str(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    let bytes = value.as_bytes();
    let mut start = 0;
    for (idx, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..idx]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = idx + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends `value` in decimal.
pub fn push_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[pos..]);
}

/// Appends `true` or `false`.
pub fn push_bool(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn escapes_strings_like_serde_json() {
        for text in [
            "plain",
            "q\"uote\\",
            "line\nbreak\ttab\r",
            "\u{1}\u{8}\u{c}\u{1f}",
            "ünï ✓",
            "",
        ] {
            let mut out = Vec::new();
            push_json_str(&mut out, text);
            assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
    }

    /// What [`push_decimal`] printed before it wrote digits itself: `Display` of the value
    /// rounded through a division by the power of ten.
    fn decimal_by_display(value: f64) -> String {
        if !value.is_finite() {
            return "0".to_owned();
        }
        let rounded = match scaled_digits(value) {
            Some((_, after)) => {
                let scale = 10f64.powi(after as i32);
                (value * scale).round() / scale
            }
            None => value,
        };
        format!("{rounded}")
    }

    proptest! {
        #[test]
        fn decimals_match_display_of_the_rounded_value(
            mantissa in 1u64..10_000_000_000_000,
            exponent in -24i32..12,
            negative in any::<bool>(),
        ) {
            let value = mantissa as f64 * 10f64.powi(exponent) * if negative { -1.0 } else { 1.0 };
            let mut out = Vec::new();
            push_decimal(&mut out, value);
            prop_assert_eq!(String::from_utf8(out).unwrap(), decimal_by_display(value));
        }

        #[test]
        fn any_finite_decimal_matches_display(bits in any::<u64>()) {
            let value = f64::from_bits(bits);
            let mut out = Vec::new();
            push_decimal(&mut out, value);
            prop_assert_eq!(String::from_utf8(out).unwrap(), decimal_by_display(value));
        }
    }

    #[test]
    fn decimals_never_use_exponents() {
        let cases = [
            (0.00000125, "0.00000125"),
            (1e-7, "0.0000001"),
            (0.0, "0"),
            (15.0, "15"),
            (3e-6, "0.000003"),
            (f64::NAN, "0"),
            (0.025 / 1e6, "0.000000025"),
            (1.0 * 1.25e-6 + 4.0 * 1e-5, "0.00004125"),
            (150.0 / 1e6, "0.00015"),
            (1234.5, "1234.5"),
            (0.1 + 0.2, "0.3"),
        ];
        for (value, expected) in cases {
            let mut out = Vec::new();
            push_decimal(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
        for value in [0, 9, 10, 1_234_567_890, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), value.to_string());
        }
    }
}
