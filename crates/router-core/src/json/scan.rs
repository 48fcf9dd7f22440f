//! The scanner: one pass over JSON text, validating what it passes and reading what it is asked.

use std::borrow::Cow;

use super::raw::Json;

/// How deeply arrays and objects may nest inside one skipped value (serde_json's limit).
const MAX_DEPTH: u32 = 128;

/// Why a document is not the JSON the caller expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {at}")]
pub struct ScanError {
    /// Byte offset into the text where the problem was found.
    pub at: usize,
    /// What was wrong.
    pub what: &'static str,
}

/// What kind of value comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{...}`
    Object,
    /// `[...]`
    Array,
    /// `"..."`
    String,
    /// `-1.5e3` and the like.
    Number,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
}

/// A cursor over JSON text.
///
/// Every method that reads a value consumes it whole (or fails); [`Scanner::object`] and
/// [`Scanner::array`] call back once per member or element, and the callback must consume
/// exactly that one value, with a read method or [`Scanner::value`] to skip it.
#[derive(Debug)]
pub struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Scanner { text, pos: 0 }
    }

    /// The kind of the next value (after whitespace), without consuming it.
    pub fn kind(&mut self) -> Result<Kind, ScanError> {
        self.skip_ws();
        match self.byte() {
            Some(b'{') => Ok(Kind::Object),
            Some(b'[') => Ok(Kind::Array),
            Some(b'"') => Ok(Kind::String),
            Some(b'-' | b'0'..=b'9') => Ok(Kind::Number),
            Some(b't' | b'f') => Ok(Kind::Bool),
            Some(b'n') => Ok(Kind::Null),
            _ => Err(self.error("expected a value")),
        }
    }

    /// Skips the next value, checking it, and returns its text.
    pub fn value(&mut self) -> Result<Json<'a>, ScanError> {
        self.skip_ws();
        let start = self.pos;
        // Bit `d` is set when the container at depth `d` is an object.
        let mut objects: u128 = 0;
        let mut depth: u32 = 0;
        'value: loop {
            self.skip_ws();
            match self.byte() {
                Some(open @ (b'{' | b'[')) => {
                    let is_object = open == b'{';
                    let close = if is_object { b'}' } else { b']' };
                    self.pos += 1;
                    if !self.closes_now(close) {
                        self.enter(depth)?;
                        if is_object {
                            objects |= 1 << depth;
                        } else {
                            objects &= !(1 << depth);
                        }
                        depth += 1;
                        if is_object {
                            self.member_name()?;
                        }
                        continue 'value;
                    }
                }
                _ => self.scalar()?,
            }
            // A value ended here: close the containers that end with it.
            loop {
                if depth == 0 {
                    return Ok(Json::new(&self.text[start..self.pos]));
                }
                let in_object = objects & (1 << (depth - 1)) != 0;
                let (close, what) = if in_object {
                    (b'}', "expected `,` or `}`")
                } else {
                    (b']', "expected `,` or `]`")
                };
                if self.separator(close, what)? {
                    if in_object {
                        self.member_name()?;
                    }
                    continue 'value;
                }
                depth -= 1;
            }
        }
    }

    /// Runs `read`, which must consume exactly one value, and returns that value's text with
    /// what `read` returned: for a value that is both read and forwarded.
    pub fn spanned<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, ScanError>,
    ) -> Result<(Json<'a>, T), ScanError> {
        self.skip_ws();
        let start = self.pos;
        let out = read(self)?;
        if self.pos == start {
            return Err(self.error("expected a value"));
        }
        Ok((Json::new(&self.text[start..self.pos]), out))
    }

    /// A scanner at byte `at` of `text`, for [`Scanner::rest_of_object`]: `None` when `at` is
    /// not a character boundary of `text`.
    ///
    /// The caller vouches for what comes before `at`: the start of an object whose last member
    /// ends at `at`, as a scan of the same bytes found before ([`Scanner::position`]). A scan
    /// keeps no other state, so going on from there reads the rest exactly as a scan from the
    /// start would.
    pub fn resume(text: &'a str, at: usize) -> Option<Self> {
        text.is_char_boundary(at)
            .then_some(Scanner { text, pos: at })
    }

    /// The byte offset of the cursor.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Reads an object, calling `member` with each member's name and the scanner at its value.
    pub fn object(
        &mut self,
        member: impl FnMut(Cow<'a, str>, &mut Self) -> Result<(), ScanError>,
    ) -> Result<(), ScanError> {
        self.expect(b'{', "expected an object")?;
        if self.closes_now(b'}') {
            return Ok(());
        }
        self.members(member)
    }

    /// Reads the rest of an object from just after one of its members' value (see
    /// [`Scanner::resume`]), calling `member` for each member still to come.
    pub fn rest_of_object(
        &mut self,
        member: impl FnMut(Cow<'a, str>, &mut Self) -> Result<(), ScanError>,
    ) -> Result<(), ScanError> {
        if !self.separator(b'}', "expected `,` or `}`")? {
            return Ok(());
        }
        self.members(member)
    }

    /// An object's members from the first name on.
    fn members(
        &mut self,
        mut member: impl FnMut(Cow<'a, str>, &mut Self) -> Result<(), ScanError>,
    ) -> Result<(), ScanError> {
        loop {
            let name = self.string()?;
            self.expect(b':', "expected `:`")?;
            member(name, self)?;
            if !self.separator(b'}', "expected `,` or `}`")? {
                return Ok(());
            }
        }
    }

    /// Reads an array, calling `element` with the scanner at each element.
    pub fn array(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Result<(), ScanError>,
    ) -> Result<(), ScanError> {
        self.expect(b'[', "expected an array")?;
        if self.closes_now(b']') {
            return Ok(());
        }
        loop {
            element(self)?;
            if !self.separator(b']', "expected `,` or `]`")? {
                return Ok(());
            }
        }
    }

    /// Reads a string, with its escapes decoded (borrowed when it has none).
    #[inline]
    pub fn string(&mut self) -> Result<Cow<'a, str>, ScanError> {
        self.expect(b'"', "expected a string")?;
        let start = self.pos;
        let escaped = self.string_rest()?;
        let raw = &self.text[start..self.pos - 1];
        Ok(if escaped {
            Cow::Owned(unescape(raw))
        } else {
            Cow::Borrowed(raw)
        })
    }

    /// Reads a number and returns its text.
    pub fn number(&mut self) -> Result<&'a str, ScanError> {
        self.skip_ws();
        let start = self.pos;
        self.number_rest()?;
        Ok(&self.text[start..self.pos])
    }

    /// Checks that nothing but whitespace follows.
    pub fn finish(mut self) -> Result<(), ScanError> {
        self.skip_ws();
        if self.pos == self.text.len() {
            Ok(())
        } else {
            Err(self.error("trailing characters"))
        }
    }

    #[inline]
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn error(&self, what: &'static str) -> ScanError {
        ScanError { at: self.pos, what }
    }

    #[inline]
    fn skip_ws(&mut self) {
        let bytes = self.text.as_bytes();
        // Most calls find no whitespace: every whitespace byte is at most `' '`.
        while let Some(&byte) = bytes.get(self.pos) {
            if byte > b' ' || !matches!(byte, b' ' | b'\n' | b'\r' | b'\t') {
                break;
            }
            self.pos += 1;
        }
    }

    /// Reads `byte` after whitespace, or fails with `what`.
    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), ScanError> {
        self.skip_ws();
        if self.byte() != Some(byte) {
            return Err(self.error(what));
        }
        self.pos += 1;
        Ok(())
    }

    /// Just inside a container: whether it ends at once (its `close` is then read too).
    fn closes_now(&mut self, close: u8) -> bool {
        self.skip_ws();
        if self.byte() == Some(close) {
            self.pos += 1;
            return true;
        }
        false
    }

    /// After a member or element: `true` past a `,` (another follows), `false` past `close`.
    fn separator(&mut self, close: u8, what: &'static str) -> Result<bool, ScanError> {
        self.skip_ws();
        match self.byte() {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(byte) if byte == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(self.error(what)),
        }
    }

    fn enter(&self, depth: u32) -> Result<(), ScanError> {
        if depth >= MAX_DEPTH {
            Err(self.error("nested too deeply"))
        } else {
            Ok(())
        }
    }

    /// A member's name and its `:`, leaving the scanner at the value.
    fn member_name(&mut self) -> Result<(), ScanError> {
        self.expect(b'"', "expected a member name")?;
        self.string_rest()?;
        self.expect(b':', "expected `:`")
    }

    /// A string, number or literal at the cursor.
    fn scalar(&mut self) -> Result<(), ScanError> {
        match self.byte() {
            Some(b'"') => {
                self.pos += 1;
                self.string_rest().map(drop)
            }
            Some(b'-' | b'0'..=b'9') => self.number_rest(),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            _ => Err(self.error("expected a value")),
        }
    }

    fn literal(&mut self, word: &'static str) -> Result<(), ScanError> {
        if self.text.as_bytes()[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error("expected a value"))
        }
    }

    /// The rest of a string after its opening quote; says whether it had escapes.
    #[inline]
    fn string_rest(&mut self) -> Result<bool, ScanError> {
        let bytes = self.text.as_bytes();
        let mut escaped = false;
        loop {
            self.pos = plain_run_end(bytes, self.pos);
            match bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    match bytes.get(self.pos + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 2;
                        }
                        Some(b'u') => {
                            let hex = bytes.get(self.pos + 2..self.pos + 6);
                            if !hex.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                                self.pos += 2;
                                return Err(self.error("invalid `\\u` escape"));
                            }
                            self.pos += 6;
                        }
                        _ => {
                            self.pos += 1;
                            return Err(self.error("invalid escape"));
                        }
                    }
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    fn number_rest(&mut self) -> Result<(), ScanError> {
        let bytes = self.text.as_bytes();
        let digits = |pos: usize| {
            bytes[pos..]
                .iter()
                .take_while(|byte| byte.is_ascii_digit())
                .count()
        };
        if self.byte() == Some(b'-') {
            self.pos += 1;
        }
        match self.byte() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.pos += digits(self.pos),
            _ => return Err(self.error("invalid number")),
        }
        if self.byte() == Some(b'.') {
            self.pos += 1;
            let n = digits(self.pos);
            if n == 0 {
                return Err(self.error("invalid number"));
            }
            self.pos += n;
        }
        if let Some(b'e' | b'E') = self.byte() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.byte() {
                self.pos += 1;
            }
            let n = digits(self.pos);
            if n == 0 {
                return Err(self.error("invalid number"));
            }
            self.pos += n;
        }
        Ok(())
    }
}

/// The end of the run of bytes from `pos` that need no attention inside a string: everything
/// but `"`, `\` and control characters. Eight bytes at a time while it can.
#[inline]
fn plain_run_end(bytes: &[u8], mut pos: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        // A byte below 0x20, or equal to `"` or `\`, sets its high bit here (a byte after the
        // first such one may be flagged wrongly, which only ends the fast run early).
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let special = (word.wrapping_sub(ONES * 0x20)
            | quote.wrapping_sub(ONES)
            | backslash.wrapping_sub(ONES))
            & !word
            & HIGHS;
        if special != 0 {
            return pos + (special.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while let Some(&byte) = bytes.get(pos) {
        if byte == b'"' || byte == b'\\' || byte < 0x20 {
            break;
        }
        pos += 1;
    }
    pos
}

/// Decodes the escapes of a string's text, known to be well formed. A `\u` escape of half a
/// surrogate pair without its other half becomes U+FFFD.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escape = &rest[at + 1..];
        let (ch, used) = match escape.as_bytes().first() {
            Some(b'b') => ('\u{8}', 1),
            Some(b'f') => ('\u{c}', 1),
            Some(b'n') => ('\n', 1),
            Some(b'r') => ('\r', 1),
            Some(b't') => ('\t', 1),
            Some(b'u') => unicode_escape(escape),
            Some(&byte) => (char::from(byte), 1),
            None => break,
        };
        out.push(ch);
        rest = &escape[used..];
    }
    out.push_str(rest);
    out
}

/// `uXXXX` (and a following `\uXXXX` when the first is a high surrogate): the character and how
/// many bytes of `escape` it used.
fn unicode_escape(escape: &str) -> (char, usize) {
    let unit = |at: usize| {
        escape
            .get(at..at + 4)
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
    };
    let Some(first) = unit(1) else {
        return (char::REPLACEMENT_CHARACTER, 1);
    };
    if (0xD800..0xDC00).contains(&first)
        && escape.get(5..7) == Some("\\u")
        && let Some(second @ 0xDC00..0xE000) = unit(7)
    {
        let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
        return (
            char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER),
            11,
        );
    }
    (
        char::from_u32(first).unwrap_or(char::REPLACEMENT_CHARACTER),
        5,
    )
}
