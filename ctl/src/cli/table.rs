//! Plain-text tables for people.
//!
//! A [`Table`] is a header and rows of cells; columns are as wide as their
//! widest cell, numbers are right-aligned (so that magnitudes line up) and
//! text left-aligned, two spaces apart, no borders: the output stays
//! greppable and `awk`-able. Scripts should use `--json` instead of
//! parsing this.

use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table under construction.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns named by `header`; a name ending in `>` is right-aligned
    /// (the `>` is not printed).
    pub fn new(header: &[&str]) -> Table {
        let (header, align) = header
            .iter()
            .map(|h| match h.strip_suffix('>') {
                Some(name) => (name.to_string(), Align::Right),
                None => (h.to_string(), Align::Left),
            })
            .unzip();
        Table {
            header,
            align,
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank, extra cells are dropped.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut row: Vec<String> = cells.into_iter().map(Into::into).collect();
        row.resize(self.header.len(), String::new());
        self.rows.push(row);
    }

    /// The table as text, one line per row after the header line.
    pub fn render(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                std::iter::once(&self.header[c])
                    .chain(self.rows.iter().map(|r| &r[c]))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                let last = c + 1 == row.len();
                let pad = widths[c].saturating_sub(cell.chars().count());
                if c > 0 {
                    line.push_str("  ");
                }
                match self.align[c] {
                    Align::Right => {
                        line.push_str(&" ".repeat(pad));
                        line.push_str(cell);
                    }
                    Align::Left => {
                        line.push_str(cell);
                        if !last {
                            line.push_str(&" ".repeat(pad));
                        }
                    }
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out
    }
}

/// A counter with thousands separators: 1234567 -> "1,234,567".
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// Seconds as a short duration: "42.1s", "3m12s", "2h05m", "3d04h".
pub fn duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "-".into();
    }
    let s = secs as u64;
    match s {
        0..60 => format!("{secs:.1}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// A ratio 0..=1 as a percentage.
pub fn percent(r: f64) -> String {
    if r.is_finite() {
        format!("{:.1}%", r * 100.0)
    } else {
        "-".into()
    }
}

/// An OpenFlow port number, reserved ones by name.
pub fn ofport(n: u32) -> String {
    match n {
        0xffff_fff8 => "IN_PORT".into(),
        0xffff_fff9 => "TABLE".into(),
        0xffff_fffa => "NORMAL".into(),
        0xffff_fffb => "FLOOD".into(),
        0xffff_fffc => "ALL".into(),
        0xffff_fffd => "CONTROLLER".into(),
        0xffff_fffe => "LOCAL".into(),
        0xffff_ffff => "ANY".into(),
        n => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_numbers_go_right() {
        let mut t = Table::new(&["PORT", "NAME", "RX>"]);
        t.row(["1", "eth1", "12"]);
        t.row(["LOCAL", "br0", "1,234"]);
        assert_eq!(
            t.render(),
            "PORT   NAME     RX\n1      eth1     12\nLOCAL  br0   1,234\n"
        );
    }

    #[test]
    fn short_rows_are_padded() {
        let mut t = Table::new(&["A", "B"]);
        t.row(["x"]);
        assert_eq!(t.render(), "A  B\nx\n");
    }

    #[test]
    fn numbers_and_durations_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(duration(4.31), "4.3s");
        assert_eq!(duration(192.0), "3m12s");
        assert_eq!(duration(7500.0), "2h05m");
        assert_eq!(duration(f64::NAN), "-");
        assert_eq!(percent(0.5), "50.0%");
        assert_eq!(ofport(0xffff_fffe), "LOCAL");
        assert_eq!(ofport(3), "3");
    }
}
