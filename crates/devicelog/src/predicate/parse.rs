//! The `--predicate` text into a [`Expr`] tree: a lexer over characters (columns are counted in
//! characters, as a terminal shows them) and a recursive-descent parser with NSPredicate's
//! precedence, `NOT` over `AND` over `OR`.

use regex::{Regex, RegexBuilder};

use super::{Comparison, Expr, Key, Op, PredicateError, Value, fold};

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(i64),
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    /// `==`, `!=`, `<`, `&&`, `!`, …
    Sym(&'static str),
    /// `[c]`, `[cd]` after an operator: the letters.
    Modifier(String),
    /// `$name`, `%@`, `@count`, `.`, `+`: NSPredicate syntax pushtrace does not run.
    Other(String),
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    /// 1-based column of the token's first character.
    column: usize,
    text: String,
}

fn lex(text: &str) -> Result<Vec<Token>, PredicateError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let tok = match c {
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            '{' => {
                i += 1;
                Tok::LBrace
            }
            '}' => {
                i += 1;
                Tok::RBrace
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '"' | '\'' => {
                let (value, end) = string(&chars, i)?;
                i = end;
                Tok::Str(value)
            }
            '[' => {
                let end = chars[i..]
                    .iter()
                    .position(|&c| c == ']')
                    .map(|p| i + p)
                    .ok_or_else(|| {
                        PredicateError::new(column, "[", "a `[` modifier is not closed with `]`")
                    })?;
                let letters: String = chars[i + 1..end].iter().collect();
                i = end + 1;
                Tok::Modifier(letters)
            }
            '=' | '!' | '<' | '>' | '&' | '|' => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let sym = match two.as_str() {
                    "==" => Some("=="),
                    "!=" => Some("!="),
                    "<>" => Some("!="),
                    "<=" | "=<" => Some("<="),
                    ">=" | "=>" => Some(">="),
                    "&&" => Some("&&"),
                    "||" => Some("||"),
                    _ => None,
                };
                match sym {
                    Some(sym) => {
                        i += 2;
                        Tok::Sym(sym)
                    }
                    None => {
                        i += 1;
                        match c {
                            '=' => Tok::Sym("=="),
                            '!' => Tok::Sym("!"),
                            '<' => Tok::Sym("<"),
                            '>' => Tok::Sym(">"),
                            _ => Tok::Other(c.to_string()),
                        }
                    }
                }
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                let digits: String = chars[start..i].iter().collect();
                match parse_number(&digits) {
                    Some(n) => Tok::Num(n),
                    None => Tok::Other(digits),
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                Tok::Word(chars[start..i].iter().collect())
            }
            _ => {
                i += 1;
                Tok::Other(c.to_string())
            }
        };
        out.push(Token {
            tok,
            column,
            text: chars[start..i].iter().collect(),
        });
    }
    Ok(out)
}

fn parse_number(text: &str) -> Option<i64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// A quoted string from `chars[start]` (its quote) to the matching quote: the value and the index
/// just past it. Escapes are NSPredicate's: `\"`, `\'`, `\\`, `\n`, `\t`, `\r`.
fn string(chars: &[char], start: usize) -> Result<(String, usize), PredicateError> {
    let quote = chars[start];
    let mut value = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            c if c == quote => return Ok((value, i + 1)),
            '\\' => {
                let escaped = chars.get(i + 1).ok_or_else(|| {
                    PredicateError::new(
                        i + 1,
                        "\\",
                        "a `\\` ends the predicate; escape it as `\\\\`",
                    )
                })?;
                value.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    other => *other,
                });
                i += 2;
            }
            c => {
                value.push(c);
                i += 1;
            }
        }
    }
    Err(PredicateError::new(
        start + 1,
        &quote.to_string(),
        "this string is not closed: add the closing quote",
    ))
}

/// Parses a predicate; see [`super::Predicate::parse`].
pub(super) fn parse(text: &str) -> Result<Expr, PredicateError> {
    let tokens = lex(text)?;
    if tokens.is_empty() {
        return Err(PredicateError::new(
            1,
            "",
            "the predicate is empty; write e.g. 'process == \"apsd\"'",
        ));
    }
    let mut parser = Parser {
        tokens,
        at: 0,
        end_column: text.chars().count() + 1,
    };
    let expr = parser.or()?;
    if let Some(token) = parser.peek() {
        let token = token.clone();
        return Err(PredicateError::new(
            token.column,
            &token.text,
            "expected AND, OR or the end of the predicate here",
        ));
    }
    Ok(expr)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    end_column: usize,
}

fn is_word(token: &Token, word: &str) -> bool {
    matches!(&token.tok, Tok::Word(w) if w.eq_ignore_ascii_case(word))
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn end_error(&self, why: &str) -> PredicateError {
        PredicateError::new(self.end_column, "", why)
    }

    fn or(&mut self) -> Result<Expr, PredicateError> {
        let mut left = self.and()?;
        while self
            .peek()
            .is_some_and(|t| is_word(t, "OR") || t.tok == Tok::Sym("||"))
        {
            self.at += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, PredicateError> {
        let mut left = self.unary()?;
        while self
            .peek()
            .is_some_and(|t| is_word(t, "AND") || t.tok == Tok::Sym("&&"))
        {
            self.at += 1;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, PredicateError> {
        if self
            .peek()
            .is_some_and(|t| is_word(t, "NOT") || t.tok == Tok::Sym("!"))
        {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, PredicateError> {
        let Some(token) = self.next() else {
            return Err(self.end_error("the predicate ends where a comparison should be"));
        };
        match &token.tok {
            Tok::LParen => {
                let inner = self.or()?;
                match self.next() {
                    Some(Token {
                        tok: Tok::RParen, ..
                    }) => Ok(inner),
                    Some(other) => Err(PredicateError::new(
                        other.column,
                        &other.text,
                        &format!("expected `)` to close the `(` at column {}", token.column),
                    )),
                    None => Err(self
                        .end_error(&format!("the `(` at column {} is not closed", token.column))),
                }
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("TRUEPREDICATE") => Ok(Expr::Const(true)),
            Tok::Word(w) if w.eq_ignore_ascii_case("FALSEPREDICATE") => Ok(Expr::Const(false)),
            Tok::Word(w)
                if ["ANY", "ALL", "SOME", "NONE", "SUBQUERY", "FUNCTION"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                Err(PredicateError::new(
                    token.column,
                    &token.text,
                    "aggregate and function expressions are not supported; compare one key \
                     to a value, e.g. 'process == \"apsd\"'",
                ))
            }
            Tok::Word(w) => {
                let key = Key::from_name(w)
                    .map_err(|why| PredicateError::new(token.column, &token.text, &why))?;
                self.comparison(key, &token)
            }
            _ => Err(PredicateError::new(
                token.column,
                &token.text,
                "expected a key such as process, subsystem, category, messageType, sender or \
                 eventMessage (the key comes first: 'process == \"apsd\"')",
            )),
        }
    }

    fn comparison(&mut self, key: Key, key_token: &Token) -> Result<Expr, PredicateError> {
        let Some(op_token) = self.next() else {
            return Err(self.end_error(&format!(
                "`{}` needs an operator and a value, e.g. {} == \"…\"",
                key_token.text, key_token.text
            )));
        };
        let op = match &op_token.tok {
            Tok::Sym("==") => Op::Eq,
            Tok::Sym("!=") => Op::Ne,
            Tok::Sym("<") => Op::Lt,
            Tok::Sym("<=") => Op::Le,
            Tok::Sym(">") => Op::Gt,
            Tok::Sym(">=") => Op::Ge,
            Tok::Word(w) => match w.to_ascii_uppercase().as_str() {
                "CONTAINS" => Op::Contains,
                "BEGINSWITH" => Op::BeginsWith,
                "ENDSWITH" => Op::EndsWith,
                "LIKE" => Op::Like,
                "MATCHES" => Op::Matches,
                "IN" => Op::In,
                "BETWEEN" => {
                    return Err(PredicateError::new(
                        op_token.column,
                        &op_token.text,
                        "BETWEEN is not supported; write two comparisons joined by AND",
                    ));
                }
                _ => {
                    return Err(PredicateError::new(
                        op_token.column,
                        &op_token.text,
                        "not an operator pushtrace runs: use ==, !=, CONTAINS, BEGINSWITH, \
                         ENDSWITH, LIKE, MATCHES or IN",
                    ));
                }
            },
            _ => {
                return Err(PredicateError::new(
                    op_token.column,
                    &op_token.text,
                    "expected an operator: ==, !=, CONTAINS, BEGINSWITH, ENDSWITH, LIKE, \
                     MATCHES or IN",
                ));
            }
        };
        let (mut case_insensitive, mut diacritic_insensitive) = (false, false);
        if let Some(Token {
            tok: Tok::Modifier(letters),
            column,
            text,
        }) = self.peek().cloned()
        {
            self.at += 1;
            for letter in letters.chars() {
                match letter {
                    'c' | 'C' => case_insensitive = true,
                    'd' | 'D' => diacritic_insensitive = true,
                    _ => {
                        return Err(PredicateError::new(
                            column,
                            &text,
                            "unknown modifier: use [c] (case), [d] (diacritics) or [cd]",
                        ));
                    }
                }
            }
        }
        key.check_op(op)
            .map_err(|why| PredicateError::new(op_token.column, &op_token.text, &why))?;
        let value = self.value(key, op)?;
        let regex = match (&value, op) {
            (Value::Text(pattern), Op::Matches | Op::Like) => Some(compile(
                pattern,
                op,
                case_insensitive,
                diacritic_insensitive,
                &op_token,
            )?),
            _ => None,
        };
        let value = match value {
            Value::Text(text) => {
                Value::Text(fold(&text, case_insensitive, diacritic_insensitive).into_owned())
            }
            Value::List(items) => Value::List(
                items
                    .into_iter()
                    .map(|t| fold(&t, case_insensitive, diacritic_insensitive).into_owned())
                    .collect(),
            ),
            other => other,
        };
        Ok(Expr::Cmp(Comparison {
            key,
            op,
            value,
            case_insensitive,
            diacritic_insensitive,
            regex,
        }))
    }

    fn value(&mut self, key: Key, op: Op) -> Result<Value, PredicateError> {
        let Some(token) = self.next() else {
            return Err(self.end_error("the predicate ends where a value should be"));
        };
        if op == Op::In {
            if token.tok != Tok::LBrace {
                return Err(PredicateError::new(
                    token.column,
                    &token.text,
                    "IN takes a list in braces: category IN {\"a\", \"b\"}",
                ));
            }
            let mut items = Vec::new();
            loop {
                let Some(item) = self.next() else {
                    return Err(self.end_error("the `{` list is not closed with `}`"));
                };
                match item.tok {
                    Tok::Str(text) => items.push(text),
                    Tok::RBrace if items.is_empty() => break,
                    _ => {
                        return Err(PredicateError::new(
                            item.column,
                            &item.text,
                            "an IN list holds quoted strings",
                        ));
                    }
                }
                match self.next() {
                    Some(Token {
                        tok: Tok::Comma, ..
                    }) => {}
                    Some(Token {
                        tok: Tok::RBrace, ..
                    }) => break,
                    Some(other) => {
                        return Err(PredicateError::new(
                            other.column,
                            &other.text,
                            "expected `,` or `}` in the IN list",
                        ));
                    }
                    None => return Err(self.end_error("the `{` list is not closed with `}`")),
                }
            }
            return Ok(Value::List(items));
        }
        key.value(&token.tok_value(), op)
            .map_err(|why| PredicateError::new(token.column, &token.text, &why))
    }
}

/// What a value token holds, for [`Key::value`].
pub(super) enum Literal {
    Text(String),
    Number(i64),
    /// A bare word: `messageType == error`.
    Word(String),
    Other,
}

impl Token {
    fn tok_value(&self) -> Literal {
        match &self.tok {
            Tok::Str(s) => Literal::Text(s.clone()),
            Tok::Num(n) => Literal::Number(*n),
            Tok::Word(w) => Literal::Word(w.clone()),
            _ => Literal::Other,
        }
    }
}

/// The regex of a MATCHES (the whole value, as NSPredicate's ICU regex) or a LIKE (`*` any run,
/// `?` one character, the rest literal).
fn compile(
    pattern: &str,
    op: Op,
    case_insensitive: bool,
    diacritic_insensitive: bool,
    op_token: &Token,
) -> Result<Regex, PredicateError> {
    // Folding diacritics folds the subject; folding the pattern too lets `é` in it match.
    let pattern = fold(pattern, false, diacritic_insensitive);
    let body = match op {
        Op::Like => {
            let mut body = String::new();
            for c in pattern.chars() {
                match c {
                    '*' => body.push_str("(?s:.*)"),
                    '?' => body.push_str("(?s:.)"),
                    c => body.push_str(&regex::escape(&c.to_string())),
                }
            }
            body
        }
        _ => pattern.into_owned(),
    };
    RegexBuilder::new(&format!("^(?:{body})$"))
        .case_insensitive(case_insensitive)
        .build()
        .map_err(|e| {
            PredicateError::new(
                op_token.column,
                &op_token.text,
                &format!(
                    "this MATCHES pattern is not a regular expression pushtrace can run \
                     (Rust regex syntax, no look-around or back-references): {}",
                    e.to_string().lines().last().unwrap_or_default()
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_their_columns() {
        let tokens = lex("process == 'apsd' && eventMessage CONTAINS[c] \"a\\\"b\"").unwrap();
        let columns: Vec<usize> = tokens.iter().map(|t| t.column).collect();
        assert_eq!(columns, [1, 9, 12, 19, 22, 35, 43, 47]);
        assert_eq!(tokens[2].tok, Tok::Str("apsd".into()));
        assert_eq!(tokens[6].tok, Tok::Modifier("c".into()));
        assert_eq!(tokens[7].tok, Tok::Str("a\"b".into()));
    }

    #[test]
    fn unclosed_string_points_at_its_quote() {
        let err = parse("process == \"apsd").unwrap_err();
        assert_eq!(err.column, 12);
        assert!(err.to_string().contains("not closed"), "{err}");
    }
}
