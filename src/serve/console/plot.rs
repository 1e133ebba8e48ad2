//! Plots drawn on the server as inline SVG: readable without JavaScript, nothing to load.

use std::time::SystemTime;

use maud::{html, Markup};

use crate::serve::metrics::{Sample, HISTORY};

/// A value of a sample to draw.
pub type Pick = fn(&Sample) -> Option<f64>;

/// Points (seconds before now, value), oldest first.
fn points(samples: &[Sample], pick: Pick, now: SystemTime) -> Vec<(f64, f64)> {
    samples
        .iter()
        .filter_map(|s| {
            let ago = now.duration_since(s.at).map_or(0.0, |d| d.as_secs_f64());
            pick(s).filter(|v| v.is_finite()).map(|v| (ago, v))
        })
        .collect()
}

/// Where a value lands between `lo` and `hi` on a span of `size` pixels (upside down).
fn scale(v: f64, lo: f64, hi: f64, size: f64) -> f64 {
    if hi <= lo {
        size / 2.0
    } else {
        size - (v - lo) / (hi - lo) * size
    }
}

fn range(points: &[(f64, f64)]) -> (f64, f64) {
    let lo = points
        .iter()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .min(0.0);
    let hi = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let hi = if hi <= lo { lo + 1.0 } else { hi * 1.1 };
    (lo, hi)
}

/// The seconds the time axis spans: back to the oldest reading (ten seconds at least, an
/// hour at most), so that a few minutes of readings fill the plot rather than its edge.
fn span(points: &[(f64, f64)]) -> f64 {
    let oldest = points.iter().map(|p| p.0).fold(0.0, f64::max);
    oldest.clamp(10.0, HISTORY.as_secs_f64())
}

/// "60 min ago", "45 s ago".
fn ago(secs: f64) -> String {
    if secs >= 120.0 {
        format!("{:.0} min ago", secs / 60.0)
    } else {
        format!("{secs:.0} s ago")
    }
}

#[allow(clippy::too_many_arguments)]
fn polyline(
    points: &[(f64, f64)],
    span: f64,
    x0: f64,
    w: f64,
    y0: f64,
    h: f64,
    lo: f64,
    hi: f64,
) -> String {
    points
        .iter()
        .map(|(ago, v)| {
            let x = x0 + w - (ago / span).min(1.0) * w;
            let y = y0 + scale(*v, lo, hi, h);
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The last hour of one quantity, with its axes: `title` names it, `unit` labels it.
pub fn hour(samples: &[Sample], pick: Pick, title: &str, unit: &str) -> Markup {
    let now = SystemTime::now();
    let pts = points(samples, pick, now);
    let (w, h, left, top) = (640.0, 180.0, 48.0, 12.0);
    let (lo, hi) = range(&pts);
    let span = span(&pts);
    let last = pts.last().map(|p| p.1);
    html! {
        figure.plot-box {
            svg.plot viewBox="0 0 700 220" width="700" height="220" role="img"
                aria-label=(format!("{title}, last hour")) {
                line.axis x1=(left) y1=(top + h) x2=(left + w) y2=(top + h) {}
                line.axis x1=(left) y1=(top) x2=(left) y2=(top + h) {}
                @for i in 1..4 {
                    @let y = top + h * f64::from(i) / 4.0;
                    line.grid x1=(left) y1=(y) x2=(left + w) y2=(y) {}
                }
                text x="4" y=(top + 10.0) { (fmt(hi)) " " (unit) }
                text x="4" y=(top + h) { (fmt(lo)) }
                text x=(left) y=(top + h + 16.0) { (ago(span)) }
                text x=(left + w - 24.0) y=(top + h + 16.0) { "now" }
                @if pts.len() > 1 {
                    polyline.line points=(polyline(&pts, span, left, w, top, h, lo, hi)) {}
                } @else if let Some((_, v)) = pts.first() {
                    circle.line cx=(left + w) cy=(top + scale(*v, lo, hi, h)) r="3" {}
                }
            }
            figcaption.muted {
                (title) ": "
                @match last {
                    Some(v) => { (fmt(v)) " " (unit) " now, " (pts.len()) " readings in the last hour" }
                    None => { "no readings yet" }
                }
            }
        }
    }
}

/// A small line of the last hour, for a table row.
pub fn spark(samples: &[Sample], pick: Pick) -> Markup {
    let pts = points(samples, pick, SystemTime::now());
    let (lo, hi) = range(&pts);
    let span = span(&pts);
    html! {
        @if pts.len() > 1 {
            svg.spark viewBox="0 0 120 24" width="120" height="24" aria-hidden="true" {
                polyline.line points=(polyline(&pts, span, 0.0, 120.0, 2.0, 20.0, lo, hi)) {}
            }
        }
    }
}

/// A reading as people read it: no more than three decimals, none when whole.
pub fn fmt(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_hour_of_readings_is_a_line_from_left_to_right() {
        let now = SystemTime::now();
        let samples: Vec<Sample> = (0..4)
            .map(|i| Sample {
                at: now - Duration::from_secs(900 * (3 - i)),
                current: Some(1.0),
                power: Some(100.0 * i as f64),
            })
            .collect();
        let svg = hour(&samples, |s| s.power, "power", "W").into_string();
        assert!(svg.contains("<polyline class=\"line\" points=\""), "{svg}");
        assert!(
            svg.contains("300 W now, 4 readings in the last hour"),
            "{svg}"
        );
        assert_eq!(fmt(12.5), "12.5");
        assert_eq!(fmt(3.0), "3");
        assert!(hour(&[], |s| s.power, "power", "W")
            .into_string()
            .contains("no readings yet"));
    }
}
