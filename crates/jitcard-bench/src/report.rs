//! Presenting measurements: the console table, `report.md` and the
//! `encode.svg` bar chart (ratio to serde+postcard, log scale).

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::cases::Competitor;
use crate::measure::{CompileRow, Measurement, Outcome, Row};
use crate::threads::{APIS, ThreadRow};

/// The serde+postcard measurement of `workload`, the baseline of ratios.
fn baseline<'a>(rows: &'a [Row], workload: &str) -> Option<&'a Measurement> {
    rows.iter().find_map(|r| match &r.outcome {
        Outcome::Measured(m)
            if r.workload == workload && r.competitor == Competitor::SerdePostcard =>
        {
            Some(m)
        }
        _ => None,
    })
}

fn ratio(rows: &[Row], row: &Row, m: &Measurement) -> Option<f64> {
    baseline(rows, &row.workload).map(|b| m.median_ns / b.median_ns)
}

/// The table as aligned plain text.
pub fn console_table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<15} {:<16} {:>8} {:>12} {:>25} {:>9} {:>9}",
        "workload", "engine", "bytes", "median ns", "(min – max)", "MB/s", "vs serde"
    );
    for row in rows {
        match &row.outcome {
            Outcome::Measured(m) => {
                let ratio = ratio(rows, row, m).map_or("-".to_string(), |r| format!("{r:.2}x"));
                let _ = writeln!(
                    out,
                    "{:<15} {:<16} {:>8} {:>12.1} {:>25} {:>9.1} {:>9}",
                    row.workload,
                    row.competitor.name(),
                    m.bytes,
                    m.median_ns,
                    format!("({:.1} – {:.1})", m.min_ns, m.max_ns),
                    m.megabytes_per_second(),
                    ratio
                );
            }
            Outcome::Refused(why) => {
                let first_line = why.lines().next().unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{:<15} {:<16} REFUSED (not timed): {first_line}",
                    row.workload,
                    row.competitor.name()
                );
            }
        }
    }
    out
}

/// `serialized_size` next to encoding: per workload and engine, the
/// median time of each and their ratio (markdown when `markdown`).
pub fn size_table(size_rows: &[Row], encode_rows: &[Row], markdown: bool) -> String {
    let mut out = String::new();
    let header = [
        "workload",
        "engine",
        "size ns",
        "encode ns",
        "size / encode",
    ];
    if markdown {
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let _ = writeln!(out, "|---|---|---:|---:|---:|");
    } else {
        let _ = writeln!(
            out,
            "{:<15} {:<16} {:>10} {:>10} {:>14}",
            header[0], header[1], header[2], header[3], header[4]
        );
    }
    for row in size_rows {
        let Outcome::Measured(size) = &row.outcome else {
            let why = match &row.outcome {
                Outcome::Refused(why) => why.lines().next().unwrap_or_default(),
                Outcome::Measured(_) => unreachable!(),
            };
            let _ = writeln!(
                out,
                "{} {} REFUSED: {why}",
                row.workload,
                row.competitor.name()
            );
            continue;
        };
        let encode = encode_rows.iter().find_map(|r| match &r.outcome {
            Outcome::Measured(m)
                if r.workload == row.workload && r.competitor == row.competitor =>
            {
                Some(m.median_ns)
            }
            _ => None,
        });
        let (encode, ratio) = match encode {
            Some(ns) => (format!("{ns:.1}"), format!("{:.2}", size.median_ns / ns)),
            None => ("-".to_string(), "-".to_string()),
        };
        if markdown {
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} | {encode} | {ratio} |",
                row.workload,
                row.competitor.name(),
                size.median_ns
            );
        } else {
            let _ = writeln!(
                out,
                "{:<15} {:<16} {:>10.1} {:>10} {:>14}",
                row.workload,
                row.competitor.name(),
                size.median_ns,
                encode,
                ratio
            );
        }
    }
    out
}

/// The cold-compile table as aligned plain text.
pub fn console_compile_table(rows: &[CompileRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<15} {:<16} {:<18} {:>11} {:>14} {:>22}",
        "workload", "engine", "of", "code bytes", "compile µs", "(min – max)"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "{:<15} {:<16} {:<18} {:>11} {:>14.1} {:>22}",
            row.workload,
            row.engine.name(),
            row.operation,
            row.code_size,
            row.median_us,
            format!("({:.1} – {:.1})", row.min_us, row.max_us)
        );
    }
    out
}

/// The thread-scaling table as aligned plain text: one line per thread
/// count, one column per API (million encodes per second, all threads).
pub fn console_thread_table(rows: &[ThreadRow]) -> String {
    let mut out = String::new();
    let _ = write!(out, "{:<8}", "threads");
    for api in APIS {
        let _ = write!(out, " {api:>26}");
    }
    let _ = writeln!(
        out,
        "   (million encodes/s of a small message, all threads)"
    );
    for threads in thread_counts_of(rows) {
        let _ = write!(out, "{threads:<8}");
        for api in APIS {
            let rate = rate_of(rows, threads, api).map_or("-".to_string(), |r| format!("{r:.2}"));
            let _ = write!(out, " {rate:>26}");
        }
        let _ = writeln!(out);
    }
    out
}

fn thread_counts_of(rows: &[ThreadRow]) -> Vec<usize> {
    let mut counts: Vec<_> = rows.iter().map(|r| r.threads).collect();
    counts.dedup();
    counts
}

fn rate_of(rows: &[ThreadRow], threads: usize, api: &str) -> Option<f64> {
    rows.iter()
        .find(|r| r.threads == threads && r.api == api)
        .map(|r| r.million_per_second)
}

/// The full markdown report: the command, the tables, and refusal details.
pub fn markdown(
    rows: &[Row],
    decode_rows: &[Row],
    size_rows: &[Row],
    compiles: &[CompileRow],
    thread_rows: &[ThreadRow],
    command: &str,
    machine: &str,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# jitcard encode and decode comparison\n");
    let _ = writeln!(out, "Command: `{command}`  ");
    let _ = writeln!(out, "Machine: {machine}\n");
    let _ = writeln!(
        out,
        "## Encode\n\nMedian time per encode into a reused buffer, over batches run \
         round-robin across engines; every engine's bytes were verified equal to \
         serde+postcard's before timing. Ratio < 1 is faster than serde+postcard.\n"
    );
    let mut refusals = Vec::new();
    rows_table(&mut out, rows, "encode", &mut refusals);
    if !decode_rows.is_empty() {
        let _ = writeln!(
            out,
            "\n## Decode\n\nMedian time per decode of serde+postcard's bytes (the value \
             dropped after each), over batches run round-robin across engines; every \
             engine's value was verified equal to the original before timing. Ratio < 1 is \
             faster than serde+postcard. `bytes` is the input size.\n"
        );
        rows_table(&mut out, decode_rows, "decode", &mut refusals);
    }
    if !size_rows.is_empty() {
        let _ = writeln!(
            out,
            "\n## serialized_size\n\nMedian time to compute the exact encoded length \
             without encoding (postcard's and jitcard's `serialized_size`), next to the \
             same engine's encode time above; every size was verified equal to the \
             encoding's length before timing.\n"
        );
        out.push_str(&size_table(size_rows, rows, true));
    }
    if !compiles.is_empty() {
        let _ = writeln!(
            out,
            "\n## Cold JIT compile of each workload's root type\n\n\
             Lowering the shape to a plan and compiling it afresh (caches bypassed), \
             median of repeated compiles.\n"
        );
        let _ = writeln!(
            out,
            "| workload | engine | of | code bytes | median µs | min – max µs |"
        );
        let _ = writeln!(out, "|---|---|---|---:|---:|---:|");
        for row in compiles {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.1} | {:.1} – {:.1} |",
                row.workload,
                row.engine.name(),
                row.operation,
                row.code_size,
                row.median_us,
                row.min_us,
                row.max_us
            );
        }
    }
    if !thread_rows.is_empty() {
        let _ = writeln!(
            out,
            "\n## One-shot encodes across threads\n\n\
             Million encodes per second of a small message (`Message`), summed over \
             all threads; median of three rounds. `jitcard::to_vec` finds the type's \
             encoder on every call; the shared encoder is built once.\n"
        );
        let _ = write!(out, "| threads |");
        for api in APIS {
            let _ = write!(out, " `{api}` |");
        }
        let _ = writeln!(out, "\n|---:|---:|---:|---:|");
        for threads in thread_counts_of(thread_rows) {
            let _ = write!(out, "| {threads} |");
            for api in APIS {
                let rate = rate_of(thread_rows, threads, api)
                    .map_or("-".to_string(), |r| format!("{r:.2}"));
                let _ = write!(out, " {rate} |");
            }
            let _ = writeln!(out);
        }
    }
    if !refusals.is_empty() {
        let _ = writeln!(
            out,
            "\n## Refused (bytes or values differ from postcard's, or the engine failed)\n"
        );
        for refusal in refusals {
            let _ = writeln!(out, "{refusal}\n");
        }
    }
    out
}

/// One markdown table of timed rows; refusals are collected for the end.
fn rows_table(out: &mut String, rows: &[Row], what: &str, refusals: &mut Vec<String>) {
    let _ = writeln!(
        out,
        "| workload | engine | bytes | median ns | min – max ns | MB/s | vs serde |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|");
    for row in rows {
        match &row.outcome {
            Outcome::Measured(m) => {
                let ratio = ratio(rows, row, m).map_or("-".to_string(), |r| format!("{r:.2}"));
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {:.1} | {:.1} – {:.1} | {:.1} | {} |",
                    row.workload,
                    row.competitor.name(),
                    m.bytes,
                    m.median_ns,
                    m.min_ns,
                    m.max_ns,
                    m.megabytes_per_second(),
                    ratio
                );
            }
            Outcome::Refused(why) => {
                let _ = writeln!(
                    out,
                    "| {} | {} | refused | | | | |",
                    row.workload,
                    row.competitor.name()
                );
                refusals.push(format!(
                    "- **{what} {} / {}**:\n\n```\n{why}\n```",
                    row.workload,
                    row.competitor.name()
                ));
            }
        }
    }
}

/// Draws median time relative to serde+postcard, one bar group per workload;
/// `what` names the operation ("encode", "decode").
pub fn chart(rows: &[Row], what: &str, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut workloads: Vec<&str> = Vec::new();
    let mut competitors: Vec<Competitor> = Vec::new();
    for row in rows {
        if !workloads.contains(&row.workload.as_str()) {
            workloads.push(&row.workload);
        }
        if !competitors.contains(&row.competitor) {
            competitors.push(row.competitor);
        }
    }
    let bars: Vec<(usize, usize, f64)> = rows
        .iter()
        .filter_map(|row| match &row.outcome {
            Outcome::Measured(m) => Some((
                workloads.iter().position(|w| *w == row.workload)?,
                competitors.iter().position(|c| *c == row.competitor)?,
                ratio(rows, row, m)?,
            )),
            Outcome::Refused(_) => None,
        })
        .collect();
    let (low, high) = bars
        .iter()
        .fold((1.0f64, 1.0f64), |(lo, hi), b| (lo.min(b.2), hi.max(b.2)));

    let root = SVGBackend::new(path, (1200, 640)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("median {what} time relative to serde+postcard (lower is faster)"),
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(
            0f64..workloads.len() as f64,
            ((low * 0.5)..(high * 2.0)).log_scale(),
        )?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(workloads.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let slot = x - x.floor();
            match workloads.get(x.floor() as usize) {
                Some(name) if (slot - 0.5).abs() < 0.01 => name.to_string(),
                _ => String::new(),
            }
        })
        .y_desc("time / serde+postcard time")
        .y_label_formatter(&|y| format!("{y:.2}x"))
        .draw()?;

    let group_width = 0.8;
    let bar_width = group_width / competitors.len().max(1) as f64;
    for (index, competitor) in competitors.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        let series = bars.iter().filter(|b| b.1 == index).map(|&(w, c, value)| {
            let left = w as f64 + (1.0 - group_width) / 2.0 + c as f64 * bar_width;
            Rectangle::new(
                [(left, low * 0.5), (left + bar_width * 0.9, value)],
                color.filled(),
            )
        });
        chart
            .draw_series(series)?
            .label(competitor.name())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
