//! Reading CSV files as spreadsheets write them (RFC 4180 and the usual departures): quoted
//! fields with embedded commas, quotes (`""`) and line breaks, CRLF or LF line ends, a UTF-8
//! byte-order mark, and a semicolon or tab separator where the header uses one instead of
//! commas (Excel in some locales). Pure, so the browser could check a file before it is sent.

/// One record of the file, with its row number as a spreadsheet shows it (the header is
/// row 1; a record spanning several lines counts once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub row: usize,
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("row {row}: a quoted field is not closed before the end of the file")]
    Unclosed { row: usize },
    #[error("row {row}: text after the closing quote of a field (write a quote inside a quoted field as \"\")")]
    AfterQuote { row: usize },
}

/// The records of `text`, the header first. Blank lines are skipped (they still count as
/// rows, so the numbers match the spreadsheet's).
pub fn parse(text: &str) -> Result<Vec<Record>, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let sep = separator(text);
    let mut records = vec![];
    let mut fields: Vec<String> = vec![];
    let mut field = String::new();
    let mut row = 1;
    let mut chars = text.chars().peekable();
    // Whether the current field was quoted (an empty quoted field still counts as a field).
    let mut quoted = false;
    let mut at_field_start = true;
    let end_record = |fields: &mut Vec<String>, field: &mut String, quoted: bool, row: usize, out: &mut Vec<Record>| {
        let blank = fields.is_empty() && field.is_empty() && !quoted;
        fields.push(std::mem::take(field));
        let fields = std::mem::take(fields);
        if !blank {
            out.push(Record { row, fields });
        }
    };
    while let Some(c) = chars.next() {
        if at_field_start && c == '"' {
            quoted = true;
            at_field_start = false;
            loop {
                match chars.next() {
                    None => return Err(CsvError::Unclosed { row }),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            // Only blanks may follow the closing quote before the separator or line end.
            while chars.peek().is_some_and(|c| *c == ' ' || (*c == '\t' && sep != '\t')) {
                chars.next();
            }
            match chars.peek() {
                None | Some('\n') | Some('\r') => {}
                Some(c) if *c == sep => {}
                Some(_) => return Err(CsvError::AfterQuote { row }),
            }
            continue;
        }
        at_field_start = false;
        match c {
            c if c == sep => {
                fields.push(std::mem::take(&mut field));
                quoted = false;
                at_field_start = true;
            }
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                end_record(&mut fields, &mut field, quoted, row, &mut records);
                row += 1;
                quoted = false;
                at_field_start = true;
            }
            c => field.push(c),
        }
    }
    if !fields.is_empty() || !field.is_empty() || quoted {
        end_record(&mut fields, &mut field, quoted, row, &mut records);
    }
    Ok(records)
}

/// The separator the header line uses: a comma unless the header has none and has semicolons
/// or tabs instead.
fn separator(text: &str) -> char {
    let header = text.split(['\n', '\r']).next().unwrap_or("");
    if header.contains(',') {
        ','
    } else if header.contains(';') {
        ';'
    } else if header.contains('\t') {
        '\t'
    } else {
        ','
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<Vec<String>> {
        parse(text).expect("parses").into_iter().map(|r| r.fields).collect()
    }

    #[test]
    fn plain_records_and_line_ends() {
        assert_eq!(fields("a,b\n1,2\n"), [["a", "b"], ["1", "2"]]);
        assert_eq!(fields("a,b\r\n1,2\r\n3,4"), [["a", "b"], ["1", "2"], ["3", "4"]]);
        assert_eq!(fields("a,b\r1,2"), [["a", "b"], ["1", "2"]]);
        assert_eq!(fields("a,,c\n,,\n"), [vec!["a", "", "c"], vec!["", "", ""]]);
    }

    #[test]
    fn quoted_fields_keep_commas_quotes_and_line_breaks() {
        let text = "name,notes\n\"Ruiz, Ana\",\"Gate code \"\"1234\"\"\r\nback door\"\n";
        assert_eq!(fields(text), [vec!["name", "notes"], vec!["Ruiz, Ana", "Gate code \"1234\"\r\nback door"]]);
        assert_eq!(fields("\"\",x\n"), [["", "x"]]);
        assert_eq!(fields("\"a\" ,b\n"), [["a", "b"]], "blanks after a closing quote");
    }

    #[test]
    fn rows_are_numbered_as_a_spreadsheet_numbers_them() {
        let rows: Vec<usize> =
            parse("h\n\"two\nlines\"\n\nfour\n").expect("parses").into_iter().map(|r| r.row).collect();
        assert_eq!(rows, [1, 2, 4]);
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_header() {
        assert_eq!(fields("\u{feff}First Name,Email\nA,a@x.io"), [["First Name", "Email"], ["A", "a@x.io"]]);
    }

    #[test]
    fn semicolons_and_tabs_separate_when_the_header_has_no_comma() {
        assert_eq!(fields("a;b\n1;\"x;y\"\n"), [["a", "b"], ["1", "x;y"]]);
        assert_eq!(fields("a\tb\n1\t2\n"), [["a", "b"], ["1", "2"]]);
        assert_eq!(fields("a,b\n1;2,3\n"), [["a", "b"], ["1;2", "3"]]);
    }

    #[test]
    fn broken_quoting_is_refused_with_its_row() {
        assert_eq!(parse("a\n\"open\n"), Err(CsvError::Unclosed { row: 2 }));
        assert_eq!(parse("a,b\n1,2\n\"x\"y,3\n"), Err(CsvError::AfterQuote { row: 3 }));
    }

    #[test]
    fn quotes_inside_an_unquoted_field_are_kept() {
        assert_eq!(fields("a\n5\" pipe\n"), [["a"], ["5\" pipe"]]);
    }
}
