//! Percent-encoding, for text placed in header lists and query strings: each caller says which
//! bytes stay as they are, every other byte becomes `%XX`.

/// Appends `text` to `out`, each byte for which `keep` is false percent-encoded.
pub(crate) fn push_encoded(out: &mut String, text: &str, keep: impl Fn(u8) -> bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        if keep(byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_what_is_not_kept_as_two_upper_case_hex_digits() {
        let mut out = String::new();
        push_encoded(&mut out, "a b/ü", |byte| byte.is_ascii_alphanumeric());
        assert_eq!(out, "a%20b%2F%C3%BC");
    }
}
