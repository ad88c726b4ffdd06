// report.html: one self-contained page (no scripts, no external files): the summary of every task
// (eval/report_format.h), then per task a table of methods with 95% intervals, subgroup AUROCs,
// the comparison with the synth truth, and inline-SVG ROC and calibration plots (quantile bins) of
// the held-out predictions. Drawing only; every number comes from the SuiteResult.
#include <fmt/format.h>

#include <cmath>

#include "eval/html.h"
#include "eval/report_format.h"
#include "eval/results.h"

namespace clinfm {
namespace {

const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};
const char* const kCalibrationNote =
    "<p class=\"muted\">Calibration: each dot is one of 10 quantile bins of a method's held-out scores "
    "(about 10% of the predictions each; tied scores share a bin), at its mean predicted risk and "
    "observed rate. The ECE in the table uses 10 equal-width bins.</p>\n";

std::string escape(const std::string& text) { return html_escape(text); }

std::string cell(const MetricSummary& summary, const Interval MetricSummary::*metric) {
  if (!summary.reported) return escape(fmt::format("n={}, {}", summary.n, summary.reason));
  return escape(format_interval(summary.*metric));
}

// A 260x260 plot area with axes from 0 to 1 at offset (40, 10).
std::string axes(const std::string& title, const std::string& x_label, const std::string& y_label) {
  std::string svg =
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="320" height="320" viewBox="0 0 320 320">)";
  svg += fmt::format(R"(<text x="170" y="12" text-anchor="middle" font-size="12">{}</text>)", escape(title));
  svg += R"(<rect x="40" y="20" width="260" height="260" fill="none" stroke="#444"/>)";
  for (int i = 0; i <= 4; ++i) {
    const double tick = i / 4.0;
    svg += fmt::format(R"(<text x="{:.1f}" y="294" text-anchor="middle" font-size="9">{:.2f}</text>)",
                       40 + 260 * tick, tick);
    svg += fmt::format(R"(<text x="36" y="{:.1f}" text-anchor="end" font-size="9">{:.2f}</text>)",
                       283 - 260 * tick, tick);
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

std::string legend(const TaskResult& task) {
  std::string svg;
  for (size_t k = 0; k < task.methods.size(); ++k)
    svg += fmt::format(R"(<text x="{}" y="{}" font-size="10" fill="{}">{}</text>)", 205, 240 + 12 * k,
                       kColors[k % 5], escape(task.methods[k].method));
  return svg;
}

std::string roc_svg(const TaskResult& task) {
  std::string svg = axes("ROC (held-out)", "false positive rate", "true positive rate");
  for (size_t k = 0; k < task.methods.size(); ++k) {
    std::string points;
    const auto curve = roc_curve(task.y, task.methods[k].scores);
    // At most ~400 vertices: enough for the eye, small enough for the file.
    const size_t stride = std::max<size_t>(1, curve.size() / 400);
    for (size_t i = 0; i < curve.size(); i += stride) points += point(curve[i].first, curve[i].second);
    if (curve.size() > 1) points += point(curve.back().first, curve.back().second);
    svg += fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>)",
                       kColors[k % 5], points);
  }
  return svg + legend(task) + "</svg>";
}

// One dot per quantile bin (each ~10% of a method's predictions): with a rare outcome,
// equal-width bins would put nearly every prediction in the first.
std::string calibration_svg(const TaskResult& task) {
  std::string svg = axes("Calibration (10 quantile bins)", "mean predicted risk (bin: ~10% of predictions)",
                         "observed rate");
  for (size_t k = 0; k < task.methods.size(); ++k) {
    std::string points, dots;
    for (const CalibrationBin& bin : quantile_calibration_bins(task.y, task.methods[k].scores)) {
      points += point(bin.mean_score, bin.mean_label);
      const double radius = std::min(6.0, 1.5 + std::log10(double(bin.n) + 1.0));
      dots += fmt::format(
          R"(<circle cx="{:.1f}" cy="{:.1f}" r="{:.1f}" fill="{}"><title>{}: scores {:.3f}-{:.3f}, n={}, )"
          R"(observed {:.3f}</title></circle>)",
          40 + 260 * bin.mean_score, 280 - 260 * bin.mean_label, radius, kColors[k % 5],
          escape(task.methods[k].method), bin.lo, bin.hi, bin.n, bin.mean_label);
    }
    svg += fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="1.2" points="{}"/>)",
                       kColors[k % 5], points);
    svg += dots;
  }
  return svg + legend(task) + "</svg>";
}

std::string methods_table(const TaskResult& task) {
  std::string html =
      "<table><tr><th>method</th><th>n "
      "(pos)</th><th>AUROC</th><th>AUPRC</th><th>Brier</th><th>ECE</th></tr>\n";
  for (const MethodResult& method : task.methods) {
    const MetricSummary& summary = method.overall;
    html += fmt::format("<tr><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                        escape(method.method), summary.n, summary.n_positive,
                        cell(summary, &MetricSummary::auroc), cell(summary, &MetricSummary::auprc),
                        cell(summary, &MetricSummary::brier), cell(summary, &MetricSummary::ece));
  }
  return html + "</table>\n";
}

// AUROC per subgroup, one column per method; empty without subgroups.
std::string subgroup_table(const TaskResult& task) {
  if (task.methods.empty() || task.methods.front().subgroups.empty()) return {};
  std::string html = "<table><tr><th>subgroup (AUROC)</th>";
  for (const MethodResult& method : task.methods) html += "<th>" + escape(method.method) + "</th>";
  html += "</tr>\n";
  for (size_t group = 0; group < task.methods.front().subgroups.size(); ++group) {
    const MetricSummary& first = task.methods.front().subgroups[group].metrics;
    html += fmt::format("<tr><td>{} (n={}, pos={})</td>", escape(task.methods.front().subgroups[group].name),
                        first.n, first.n_positive);
    for (const MethodResult& method : task.methods)
      html += "<td>" + cell(method.subgroups[group].metrics, &MetricSummary::auroc) + "</td>";
    html += "</tr>\n";
  }
  return html + "</table>\n";
}

// The comparison with the synth truth; empty when it was not made.
std::string truth_section(const TaskResult& task) {
  const std::string caption = truth_caption(task);
  if (caption.empty()) return {};
  const ReportTable table = truth_table(task);
  return "<p>" + escape(caption) + "</p>\n" + (table.rows.empty() ? "" : html_table(table));
}

std::string summary_section(const SuiteResult& result) {
  if (result.tasks.empty()) return {};  // a suite of only a privacy audit or Delphi's protocol
  return "<h2>Summary</h2>\n<p class=\"muted\">" + escape(summary_caption(result)) + "</p>\n" +
         html_table(summary_table(result));
}

}  // namespace

std::string report_html(const SuiteResult& result) {
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>clinfm eval: " +
      escape(result.suite_name) +
      "</title>\n<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
      "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
      "font-size:13px}th{background:#f3f3f3}.plots{display:flex;gap:1em;flex-wrap:wrap}"
      ".muted{color:#777}.best{background:#e8f3e8}</style></head><body>\n";
  html += "<h1>Evaluation: " + escape(result.suite_name) + "</h1>\n" + summary_section(result);
  html += "<h2>Run</h2>\n<ul>";
  html += "<li>suite: <code>" + escape(result.suite_file) + "</code></li><li>checkpoint: <code>" +
          escape(result.checkpoint) + "</code></li><li>data set: <code>" + escape(result.dataset) +
          "</code></li>";
  html += fmt::format(
      "<li>scored on held_out, l2 picked on tuning, fitted on train; 95% intervals from {} patient-level "
      "bootstrap resamples (seed {})</li>",
      result.settings.value("bootstrap_samples", 0), result.settings.value("bootstrap_seed", 0));
  for (const std::string& note : result.notes) html += "<li>" + escape(note) + "</li>";
  html += "</ul>\n";
  for (const TaskResult& task : result.tasks) {
    const LabelCounts& counts = task.held_out_counts;
    html += "<h2>" + escape(task.name) + "</h2>\n<p>" + escape(task.description) + "</p>\n";
    html += fmt::format(
        "<p class=\"muted\">held-out: {} prediction times, {} positive, of {} candidates (excluded: "
        "no history {}, past top-coded age {}, outcome already present {}, censored {}, death {}, "
        "stay over {}, not first {})</p>\n",
        counts.kept, counts.positives, counts.candidates, counts.no_history, counts.past_top_age,
        counts.prior_outcome, counts.censored, counts.death_excluded, counts.stay_over, counts.not_first);
    html += methods_table(task) + subgroup_table(task);
    html += truth_section(task);
    if (!task.y.empty())
      html += "<div class=\"plots\">" + roc_svg(task) + calibration_svg(task) + "</div>\n" + kCalibrationNote;
  }
  if (result.has_delphi) html += delphi_html(result.delphi);
  if (result.has_privacy) html += privacy_html(result.privacy);
  html += "</body></html>\n";
  return html;
}

}  // namespace clinfm
