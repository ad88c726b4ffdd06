// report.html: one self-contained page (no scripts, no external files) with, per task, a table
// of methods with 95% intervals, subgroup AUROCs, and inline-SVG ROC and calibration plots of
// the held-out predictions. Drawing only; every number comes from the SuiteResult.
#include <fmt/format.h>

#include <cmath>

#include "eval/results.h"

namespace clinfm {
namespace {

const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string cell(const MetricSummary& s, const Interval MetricSummary::*metric) {
  if (!s.reported) return escape(fmt::format("n={}, {}", s.n, s.reason));
  return escape(format_interval(s.*metric));
}

// A 260x260 plot area with axes from 0 to 1 at offset (40, 10).
std::string axes(const std::string& title, const std::string& x_label, const std::string& y_label) {
  std::string svg =
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="320" height="320" viewBox="0 0 320 320">)";
  svg += fmt::format(R"(<text x="170" y="12" text-anchor="middle" font-size="12">{}</text>)", escape(title));
  svg += R"(<rect x="40" y="20" width="260" height="260" fill="none" stroke="#444"/>)";
  for (int i = 0; i <= 4; ++i) {
    const double v = i / 4.0;
    svg += fmt::format(R"(<text x="{:.1f}" y="294" text-anchor="middle" font-size="9">{:.2f}</text>)",
                       40 + 260 * v, v);
    svg += fmt::format(R"(<text x="36" y="{:.1f}" text-anchor="end" font-size="9">{:.2f}</text>)",
                       283 - 260 * v, v);
  }
  svg +=
      fmt::format(R"(<text x="170" y="310" text-anchor="middle" font-size="10">{}</text>)", escape(x_label));
  svg += fmt::format(
      R"svg(<text x="10" y="150" text-anchor="middle" font-size="10" transform="rotate(-90 10 150)">{}</text>)svg",
      escape(y_label));
  svg += R"(<line x1="40" y1="280" x2="300" y2="20" stroke="#bbb" stroke-dasharray="4 3"/>)";
  return svg;
}

std::string point(double x, double y) { return fmt::format("{:.1f},{:.1f} ", 40 + 260 * x, 280 - 260 * y); }

std::string legend(const TaskResult& t) {
  std::string svg;
  for (size_t m = 0; m < t.methods.size(); ++m)
    svg += fmt::format(R"(<text x="{}" y="{}" font-size="10" fill="{}">{}</text>)", 205, 240 + 12 * m,
                       kColors[m % 5], escape(t.methods[m].method));
  return svg;
}

std::string roc_svg(const TaskResult& t) {
  std::string svg = axes("ROC (held-out)", "false positive rate", "true positive rate");
  for (size_t m = 0; m < t.methods.size(); ++m) {
    std::string points;
    const auto curve = roc_curve(t.y, t.methods[m].scores);
    // At most ~400 vertices: enough for the eye, small enough for the file.
    const size_t stride = std::max<size_t>(1, curve.size() / 400);
    for (size_t i = 0; i < curve.size(); i += stride) points += point(curve[i].first, curve[i].second);
    if (curve.size() > 1) points += point(curve.back().first, curve.back().second);
    svg += fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>)",
                       kColors[m % 5], points);
  }
  return svg + legend(t) + "</svg>";
}

std::string calibration_svg(const TaskResult& t) {
  std::string svg = axes("Calibration (10 equal-width bins)", "mean predicted risk", "observed rate");
  for (size_t m = 0; m < t.methods.size(); ++m) {
    std::string points, dots;
    for (const CalibrationBin& bin : calibration_bins(t.y, t.methods[m].scores)) {
      if (bin.n == 0) continue;
      points += point(bin.mean_score, bin.mean_label);
      const double r = std::min(6.0, 1.5 + std::log10(double(bin.n) + 1.0));
      dots += fmt::format(
          R"(<circle cx="{:.1f}" cy="{:.1f}" r="{:.1f}" fill="{}"><title>{}: n={}</title></circle>)",
          40 + 260 * bin.mean_score, 280 - 260 * bin.mean_label, r, kColors[m % 5],
          escape(t.methods[m].method), bin.n);
    }
    svg += fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="1.2" points="{}"/>)",
                       kColors[m % 5], points);
    svg += dots;
  }
  return svg + legend(t) + "</svg>";
}

}  // namespace

std::string report_html(const SuiteResult& r) {
  std::string h =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>clinfm eval: " + escape(r.suite_name) +
      "</title>\n<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
      "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
      "font-size:13px}th{background:#f3f3f3}.plots{display:flex;gap:1em;flex-wrap:wrap}"
      ".muted{color:#777}</style></head><body>\n";
  h += "<h1>Evaluation: " + escape(r.suite_name) + "</h1>\n<ul>";
  h += "<li>suite: <code>" + escape(r.suite_file) + "</code></li><li>checkpoint: <code>" +
       escape(r.checkpoint) + "</code></li><li>data set: <code>" + escape(r.dataset) + "</code></li>";
  h += fmt::format(
      "<li>scored on held_out, l2 picked on tuning, fitted on train; 95% intervals from {} patient-level "
      "bootstrap resamples (seed {})</li>",
      r.settings.value("bootstrap_samples", 0), r.settings.value("bootstrap_seed", 0));
  for (const std::string& note : r.notes) h += "<li>" + escape(note) + "</li>";
  h += "</ul>\n";
  for (const TaskResult& t : r.tasks) {
    const LabelCounts& c = t.held_out_counts;
    h += "<h2>" + escape(t.name) + "</h2>\n<p>" + escape(t.description) + "</p>\n";
    h += fmt::format(
        "<p class=\"muted\">held-out: {} prediction times, {} positive, of {} candidates (excluded: "
        "no history {}, past top-coded age {}, outcome already present {}, censored {}, death {}, "
        "stay over {}, not first {})</p>\n",
        c.kept, c.positives, c.candidates, c.no_history, c.past_top_age, c.prior_outcome, c.censored,
        c.death_excluded, c.stay_over, c.not_first);
    h += "<table><tr><th>method</th><th>n "
         "(pos)</th><th>AUROC</th><th>AUPRC</th><th>Brier</th><th>ECE</th></tr>\n";
    for (const MethodResult& m : t.methods) {
      const MetricSummary& s = m.overall;
      h += fmt::format("<tr><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                       escape(m.method), s.n, s.n_positive, cell(s, &MetricSummary::auroc),
                       cell(s, &MetricSummary::auprc), cell(s, &MetricSummary::brier),
                       cell(s, &MetricSummary::ece));
    }
    h += "</table>\n";
    if (!t.methods.empty() && !t.methods.front().subgroups.empty()) {
      h += "<table><tr><th>subgroup (AUROC)</th>";
      for (const MethodResult& m : t.methods) h += "<th>" + escape(m.method) + "</th>";
      h += "</tr>\n";
      for (size_t g = 0; g < t.methods.front().subgroups.size(); ++g) {
        const MetricSummary& first = t.methods.front().subgroups[g].metrics;
        h += fmt::format("<tr><td>{} (n={}, pos={})</td>", escape(t.methods.front().subgroups[g].name),
                         first.n, first.n_positive);
        for (const MethodResult& m : t.methods)
          h += "<td>" + cell(m.subgroups[g].metrics, &MetricSummary::auroc) + "</td>";
        h += "</tr>\n";
      }
      h += "</table>\n";
    }
    if (!t.truth.is_null())
      h += "<p>Synth truth comparison: <code>" + escape(t.truth.dump()) + "</code></p>\n";
    if (!t.y.empty()) h += "<div class=\"plots\">" + roc_svg(t) + calibration_svg(t) + "</div>\n";
  }
  h += "</body></html>\n";
  return h;
}

}  // namespace clinfm
