//! UTF-8 checks of provider answers, which are read as text for every chunk of every stream.
//!
//! [`str_of`] validates with `simdutf8` (SIMD, several times faster than the standard library
//! on the short texts of stream events) and, only for text that is not UTF-8, asks the standard
//! library again for an error that says where.

/// `bytes` as text, or the standard library's error saying where it is not UTF-8.
pub(crate) fn str_of(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(_) => std::str::from_utf8(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_the_standard_library() {
        let cases: [&[u8]; 7] = [
            b"",
            b"{\"a\":1}",
            "caf\u{e9} \u{1f600} \u{4e2d}\u{6587}".as_bytes(),
            b"\xff",
            b"ok \xc3",
            b"\xed\xa0\x80",
            b"{\"content\":\"\xe2\x82\"}",
        ];
        for bytes in cases {
            let ours = str_of(bytes).map_err(|err| err.to_string());
            let std = std::str::from_utf8(bytes).map_err(|err| err.to_string());
            assert_eq!(ours, std, "{bytes:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_standard_library_on_any_bytes(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let ours = str_of(&bytes).map_err(|err| err.to_string());
            let std = std::str::from_utf8(&bytes).map_err(|err| err.to_string());
            proptest::prop_assert_eq!(ours, std);
        }
    }
}
