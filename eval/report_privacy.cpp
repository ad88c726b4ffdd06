// The privacy section of report.md and report.html (eval/privacy.h): plain-language findings,
// the membership AUROC overall and per bucket, canary exposure, and two inline-SVG plots (the
// attack's ROC curve and the histogram of canary exposures against the null's mean).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "eval/html.h"
#include "eval/results.h"

namespace clinfm {
namespace {

std::string escape(const std::string& text) { return html_escape(text); }

std::string auc_text(const MetricSummary& m) {
  if (!m.reported) return fmt::format("n={}, {}", m.n, m.reason);
  return fmt::format("{:.3f} ({:.3f}-{:.3f})", m.auroc.point, m.auroc.lo, m.auroc.hi);
}

std::vector<std::pair<std::string, const MetricSummary*>> membership_rows(const PrivacyResult& p) {
  std::vector<std::pair<std::string, const MetricSummary*>> rows = {
      {"all patients", &p.membership},
      {"sample balance: AUC of timeline length (not an attack)", &p.length_balance}};
  for (const auto& b : p.by_length) rows.emplace_back(b.name, &b.auc);
  for (const auto& b : p.by_rarity) rows.emplace_back(b.name, &b.auc);
  return rows;
}

double median_of(std::vector<double> v) { return v.empty() ? 0.0 : percentile(v, 50.0); }

// ROC of the loss-threshold attack (members positive, score = -loss).
std::string membership_roc_svg(const PrivacyResult& p) {
  std::vector<int> y;
  std::vector<double> score;
  for (double loss : p.member_loss) y.push_back(1), score.push_back(-loss);
  for (double loss : p.nonmember_loss) y.push_back(0), score.push_back(-loss);
  std::string svg =
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="320" height="320" viewBox="0 0 320 320">)";
  svg += R"(<text x="170" y="12" text-anchor="middle" font-size="12">membership attack ROC</text>)";
  svg += R"(<rect x="40" y="20" width="260" height="260" fill="none" stroke="#444"/>)";
  svg += R"(<line x1="40" y1="280" x2="300" y2="20" stroke="#bbb" stroke-dasharray="4 3"/>)";
  svg +=
      R"(<text x="170" y="310" text-anchor="middle" font-size="10">false positive rate (held_out called member)</text>)";
  svg +=
      R"svg(<text x="10" y="150" text-anchor="middle" font-size="10" transform="rotate(-90 10 150)">true positive rate</text>)svg";
  std::string points;
  if (!y.empty())
    for (const auto& [fpr, tpr] : roc_curve(y, score))
      points += fmt::format("{:.1f},{:.1f} ", 40 + 260 * fpr, 280 - 260 * tpr);
  svg += fmt::format(R"(<polyline fill="none" stroke="#d62728" stroke-width="1.5" points="{}"/>)", points);
  return svg + "</svg>";
}

// Histogram of exposures over [0, max], 20 bins, with the null's mean marked.
std::string exposure_svg(const PrivacyResult& p) {
  const int bins = 20;
  std::vector<int64_t> counts(bins, 0);
  for (double e : p.exposure) {
    const int bin = std::clamp(int(std::floor(e / std::max(1e-9, p.exposure_max) * bins)), 0, bins - 1);
    ++counts[size_t(bin)];
  }
  const int64_t peak = std::max<int64_t>(1, *std::max_element(counts.begin(), counts.end()));
  std::string svg =
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="320" height="320" viewBox="0 0 320 320">)";
  svg += R"(<text x="170" y="12" text-anchor="middle" font-size="12">canary exposure (bits)</text>)";
  svg += R"(<rect x="40" y="20" width="260" height="260" fill="none" stroke="#444"/>)";
  for (int b = 0; b < bins; ++b) {
    const double h = 260.0 * double(counts[size_t(b)]) / double(peak);
    svg += fmt::format(
        R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="#1f77b4"><title>{}</title></rect>)",
        40 + 13.0 * b, 280 - h, 12.0, h, counts[size_t(b)]);
  }
  const double null_x = 40 + 260 * p.exposure_null_mean / std::max(1e-9, p.exposure_max);
  svg += fmt::format(
      R"(<line x1="{0:.1f}" y1="20" x2="{0:.1f}" y2="280" stroke="#2ca02c" stroke-dasharray="4 3"/>)",
      null_x);
  svg += fmt::format(R"(<text x="{:.1f}" y="34" font-size="9" fill="#2ca02c">never seen: mean {:.2f}</text>)",
                     null_x + 3, p.exposure_null_mean);
  for (int i = 0; i <= 4; ++i)
    svg += fmt::format(R"(<text x="{:.1f}" y="294" text-anchor="middle" font-size="9">{:.1f}</text>)",
                       40 + 65.0 * i, p.exposure_max * i / 4.0);
  svg += fmt::format(R"(<text x="36" y="26" text-anchor="end" font-size="9">{}</text>)", peak);
  svg +=
      R"(<text x="170" y="310" text-anchor="middle" font-size="10">exposure; the right edge: likelier than every reference</text>)";
  return svg + "</svg>";
}

}  // namespace

std::string privacy_markdown(const PrivacyResult& p) {
  std::string md = "## Privacy audit\n\n";
  for (const std::string& line : p.findings) md += "- " + line + "\n";
  for (const std::string& note : p.notes) md += "- note: " + note + "\n";
  if (p.membership_measured) {
    md += fmt::format(
        "\nMembership inference (loss threshold; median loss {:.3f} members, {:.3f} held_out):\n\n"
        "| patients | n (members) | AUROC |\n|---|---|---|\n",
        median_of(p.member_loss), median_of(p.nonmember_loss));
    for (const auto& [name, m] : membership_rows(p))
      md += fmt::format("| {} | {} ({}) | {} |\n", name, m->n, m->n_positive, auc_text(*m));
  }
  if (p.canaries_measured)
    md += fmt::format(
        "\nCanaries: {} inserted ({} time(s) each, {} secret events), {} references; exposure median {:.2f} "
        "bits, "
        "max {:.2f}, at most {:.2f}; a model that never saw them: {:.2f} on average.\n",
        p.canaries, p.canary_copies, p.canary_events, p.references, median_of(p.exposure),
        p.exposure.empty() ? 0.0 : *std::max_element(p.exposure.begin(), p.exposure.end()), p.exposure_max,
        p.exposure_null_mean);
  return md + "\n";
}

std::string privacy_html(const PrivacyResult& p) {
  std::string html = "<h2>Privacy audit</h2>\n<ul>";
  for (const std::string& line : p.findings) html += "<li><b>" + escape(line) + "</b></li>";
  for (const std::string& note : p.notes) html += "<li class=\"muted\">" + escape(note) + "</li>";
  html += "</ul>\n";
  if (p.membership_measured) {
    html +=
        "<table><tr><th>membership inference (loss threshold)</th><th>n (members)</th><th>AUROC</th></tr>\n";
    for (const auto& [name, m] : membership_rows(p))
      html += fmt::format("<tr><td>{}</td><td>{} ({})</td><td>{}</td></tr>\n", escape(name), m->n,
                          m->n_positive, escape(auc_text(*m)));
    html += "</table>\n";
  }
  if (p.canaries_measured)
    html += fmt::format(
        "<p>Canaries: {} inserted ({} time(s) each, {} secret events), ranked among {} references never "
        "trained on. Exposure = log2(references + 1) - log2(rank): at most {:.2f} bits.</p>\n",
        p.canaries, p.canary_copies, p.canary_events, p.references, p.exposure_max);
  html += "<div class=\"plots\">";
  if (p.membership_measured) html += membership_roc_svg(p);
  if (p.canaries_measured) html += exposure_svg(p);
  html += "</div>\n<p class=\"muted\">What these measure and what they do not prove: docs/privacy.md.</p>\n";
  return html;
}

}  // namespace clinfm
