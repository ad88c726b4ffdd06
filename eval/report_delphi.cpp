// Delphi-2M's protocol in results.json, report.md and report.html (eval/delphi_protocol.h): the
// mean AUC of each method with its interval, the per-chapter table, the distribution of
// per-disease AUCs (a histogram per method) and the calibration of the model's 1-year risks
// (quantile bins, log axes), then every disease in a folded table.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "eval/html.h"
#include "eval/report_format.h"
#include "eval/results.h"

namespace clinfm {
namespace {

const char* kColors[] = {"#d62728", "#1f77b4", "#2ca02c"};

std::string auc_text(const DelphiSummary& s) {
  if (s.diseases == 0) return "n/a";
  return fmt::format("{:.3f} ({:.3f}-{:.3f})", s.mean_auc, s.lo, s.hi);
}

std::string number(double x) { return std::isnan(x) ? "n/a" : fmt::format("{:.3f}", x); }

// The summary of `chapter` in a method, or nullptr.
const DelphiSummary* summary_of(const DelphiMethodResult& method, const std::string& chapter) {
  for (const DelphiSummary& s : method.summaries)
    if (s.name == chapter) return &s;
  return nullptr;
}

// "all" and the chapters of the first method, each with every method's mean AUC.
ReportTable chapter_table(const DelphiResult& r) {
  ReportTable table;
  table.header = {"chapter", "diseases"};
  for (const DelphiMethodResult& m : r.methods) table.header.push_back(m.method + " mean AUC (95% CI)");
  for (const DelphiSummary& s : r.methods.front().summaries) {
    std::vector<ReportCell> row = {{s.name == "all" ? "all diseases" : s.name}, {std::to_string(s.diseases)}};
    for (const DelphiMethodResult& method : r.methods) {
      const DelphiSummary* m = summary_of(method, s.name);
      row.push_back({m ? auc_text(*m) : "n/a"});
    }
    table.rows.push_back(row);
  }
  return table;
}

// Every disease: code, chapter, held-out cases, each method's AUC.
ReportTable disease_table(const DelphiResult& r) {
  ReportTable table;
  table.header = {"code", "chapter", "cases"};
  for (const DelphiMethodResult& m : r.methods) table.header.push_back(m.method);
  for (size_t d = 0; d < r.diseases.size(); ++d) {
    const DelphiDiseaseResult& first = r.methods.front().diseases[d];
    std::vector<ReportCell> row = {
        {first.disease.code}, {first.disease.chapter}, {std::to_string(first.cases)}};
    for (const DelphiMethodResult& m : r.methods) row.push_back({number(m.diseases[d].auc)});
    table.rows.push_back(row);
  }
  return table;
}

// Histogram of per-disease AUCs in bins of 0.05 over [0.3, 1.0], one outlined series per method.
std::string histogram_svg(const DelphiResult& r) {
  const double lo = 0.3, width = 0.05;
  const int bins = 14;
  std::vector<std::vector<int64_t>> counts(r.methods.size(), std::vector<int64_t>(bins, 0));
  int64_t peak = 1;
  for (size_t m = 0; m < r.methods.size(); ++m)
    for (const DelphiDiseaseResult& d : r.methods[m].diseases) {
      if (std::isnan(d.auc)) continue;
      const int bin = std::clamp(int(std::floor((d.auc - lo) / width)), 0, bins - 1);
      peak = std::max(peak, ++counts[m][size_t(bin)]);
    }
  std::string svg =
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="360" height="320" viewBox="0 0 360 320">)";
  svg += R"(<text x="190" y="12" text-anchor="middle" font-size="12">per-disease AUC</text>)";
  svg += R"(<rect x="40" y="20" width="300" height="260" fill="none" stroke="#444"/>)";
  const double bar = 300.0 / bins;
  for (size_t m = 0; m < r.methods.size(); ++m) {
    std::string points = fmt::format("40,280 ");
    for (int b = 0; b < bins; ++b) {
      const double y = 280 - 260.0 * double(counts[m][size_t(b)]) / double(peak);
      points += fmt::format("{:.1f},{:.1f} {:.1f},{:.1f} ", 40 + bar * b, y, 40 + bar * (b + 1), y);
    }
    points += "340,280";
    svg += fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>)",
                       kColors[m % 3], points);
    svg += fmt::format(R"(<text x="46" y="{}" font-size="10" fill="{}">{}</text>)", 34 + 12 * m,
                       kColors[m % 3], r.methods[m].method);
  }
  for (int i = 0; i <= bins; i += 2)
    svg += fmt::format(R"(<text x="{:.1f}" y="294" text-anchor="middle" font-size="9">{:.1f}</text>)",
                       40 + bar * i, lo + width * i);
  svg += fmt::format(R"(<text x="36" y="26" text-anchor="end" font-size="9">{}</text>)", peak);
  svg +=
      R"(<text x="190" y="310" text-anchor="middle" font-size="10">AUC (bins of 0.05); diseases per bin</text>)";
  return svg + "</svg>";
}

// Predicted against observed 1-year risk per quantile bin, both on log10 axes.
std::string calibration_svg(const DelphiResult& r) {
  double lo = 1.0, hi = 1e-6;
  for (const DelphiCalibrationBin& b : r.calibration)
    for (double v : {b.predicted, b.observed})
      if (v > 0) lo = std::min(lo, v), hi = std::max(hi, v);
  const double log_lo = std::floor(std::log10(std::max(1e-7, lo))),
               log_hi = std::ceil(std::log10(std::max(hi, lo * 10)));
  const auto x_of = [&](double v) {
    return 40 + 260 * (std::log10(std::max(v, std::pow(10.0, log_lo))) - log_lo) / (log_hi - log_lo);
  };
  const auto y_of = [&](double v) { return 280 - (x_of(v) - 40); };
  std::string svg =
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="320" height="320" viewBox="0 0 320 320">)";
  svg += fmt::format(
      R"(<text x="170" y="12" text-anchor="middle" font-size="12">calibration of {:g}-year risk</text>)",
      r.spec.calibration_years);
  svg += R"(<rect x="40" y="20" width="260" height="260" fill="none" stroke="#444"/>)";
  svg += R"(<line x1="40" y1="280" x2="300" y2="20" stroke="#bbb" stroke-dasharray="4 3"/>)";
  for (const DelphiCalibrationBin& b : r.calibration)
    svg += fmt::format(
        R"(<circle cx="{:.1f}" cy="{:.1f}" r="3" fill="#d62728"><title>predicted {:.2e}, observed {:.2e}, n={}</title></circle>)",
        x_of(b.predicted), y_of(b.observed), b.predicted, b.observed, b.n);
  for (double e = log_lo; e <= log_hi; e += 1)
    svg += fmt::format(R"(<text x="{:.1f}" y="294" text-anchor="middle" font-size="9">1e{:g}</text>)",
                       x_of(std::pow(10.0, e)), e);
  svg +=
      R"(<text x="170" y="310" text-anchor="middle" font-size="10">predicted risk (quantile bins, log scale)</text>)";
  svg +=
      R"svg(<text x="10" y="150" text-anchor="middle" font-size="10" transform="rotate(-90 10 150)">observed risk (log scale; 0 at the bottom)</text>)svg";
  return svg + "</svg>";
}

std::string settings_text(const DelphiResult& r) {
  return fmt::format(
      "{} held-out patients ({} without a sex, skipped), {} prediction points; diseases: codes under '{}' in "
      "ICD-10 chapters I-XVII and '{}', with at least {} training events; age brackets {}-{} years by {}; "
      "offset {:g} days; model context {} events; model pass {:.1f} s.",
      r.patients, r.patients_without_sex, r.prediction_points, r.spec.code_prefix, r.spec.death_code,
      r.spec.min_occurrences, r.spec.age_brackets.front(), r.spec.age_brackets.back(),
      r.spec.age_brackets.size() > 1 ? r.spec.age_brackets[1] - r.spec.age_brackets[0] : 0.0,
      r.spec.offset_days, r.context_events, r.model_seconds);
}

}  // namespace

nlohmann::json delphi_to_json(const DelphiResult& r) {
  nlohmann::json out = {{"patients", r.patients},
                        {"patients_without_sex", r.patients_without_sex},
                        {"prediction_points", r.prediction_points},
                        {"context_events", r.context_events},
                        {"model_seconds", r.model_seconds},
                        {"min_occurrences", r.spec.min_occurrences},
                        {"age_brackets", r.spec.age_brackets},
                        {"offset_days", r.spec.offset_days}};
  const auto finite = [](double x) { return std::isnan(x) ? nlohmann::json() : nlohmann::json(x); };
  for (const DelphiMethodResult& method : r.methods) {
    nlohmann::json m = {{"summaries", nlohmann::json::array()}, {"diseases", nlohmann::json::array()}};
    for (const DelphiSummary& s : method.summaries)
      m["summaries"].push_back({{"name", s.name},
                                {"diseases", s.diseases},
                                {"mean_auc", finite(s.mean_auc)},
                                {"lo", finite(s.lo)},
                                {"hi", finite(s.hi)}});
    for (const DelphiDiseaseResult& d : method.diseases) {
      nlohmann::json strata = nlohmann::json::array();
      for (const DelphiStratum& s : d.strata)
        strata.push_back({{"sex", s.sex == 0 ? "female" : "male"},
                          {"age", {s.age_lo, s.age_hi}},
                          {"cases", s.cases},
                          {"controls", s.controls},
                          {"auc", s.auc.auc},
                          {"variance", s.auc.variance}});
      m["diseases"].push_back({{"code", d.disease.code},
                               {"chapter", d.disease.chapter},
                               {"train_events", d.disease.train_events},
                               {"cases", d.cases},
                               {"auc", finite(d.auc)},
                               {"variance", finite(d.variance)},
                               {"strata", strata}});
    }
    out["methods"][method.method] = m;
  }
  for (const DelphiCalibrationBin& b : r.calibration)
    out["calibration"].push_back({{"predicted", b.predicted}, {"observed", b.observed}, {"n", b.n}});
  return out;
}

std::string delphi_markdown(const DelphiResult& r) {
  std::string md = "## Delphi-2M protocol\n\n" + settings_text(r) + "\n\n" + markdown_table(chapter_table(r));
  md += fmt::format(
      "\nCalibration of the model's {:g}-year risks, pooled over diseases (every other of {} quantile "
      "bins):\n\n| predicted | observed | n |\n|---|---|---|\n",
      r.spec.calibration_years, r.calibration.size());
  for (size_t i = 0; i < r.calibration.size(); i += 2)
    md += fmt::format("| {:.2e} | {:.2e} | {} |\n", r.calibration[i].predicted, r.calibration[i].observed,
                      r.calibration[i].n);
  return md + "\n\nPer disease and stratum: results.json (`delphi`). Definitions: docs/delphi.md.\n\n";
}

std::string delphi_html(const DelphiResult& r) {
  std::string html = "<h2>Delphi-2M protocol</h2>\n<p>" + html_escape(settings_text(r)) + "</p>\n";
  html += html_table(chapter_table(r));
  html += "<div class=\"plots\">" + histogram_svg(r) + calibration_svg(r) + "</div>\n";
  html += "<details><summary>every disease (AUC per method; cases in held_out)</summary>" +
          html_table(disease_table(r)) + "</details>\n";
  html +=
      "<p class=\"muted\">Definitions and what differs from Delphi's own evaluate_auc.py: "
      "docs/delphi.md.</p>\n";
  return html;
}

}  // namespace clinfm
