// The summary and synth truth tables of the reports; see report_format.h.
#include "eval/report_format.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "eval/html.h"

namespace clinfm {
namespace {

const char* const kNone = "—";
// AUROC and correlations: three decimals; rates, means and Brier scores of rare outcomes need four.
constexpr int kAurocDecimals = 3, kRateDecimals = 4;

// Methods in the order they first appear across tasks (normally every task has the same ones).
std::vector<std::string> method_names(const SuiteResult& result) {
  std::vector<std::string> names;
  for (const TaskResult& task : result.tasks)
    for (const MethodResult& method : task.methods)
      if (std::find(names.begin(), names.end(), method.method) == names.end()) names.push_back(method.method);
  return names;
}

bool any_truth(const SuiteResult& result) {
  return std::any_of(result.tasks.begin(), result.tasks.end(),
                     [](const TaskResult& task) { return task.truth.is_object(); });
}

const MethodResult* find_method(const TaskResult& task, const std::string& name) {
  for (const MethodResult& method : task.methods)
    if (method.method == name) return &method;
  return nullptr;
}

// The highest reported AUROC point estimate of the task; NaN when none is reported.
double best_auroc(const TaskResult& task) {
  double best = NAN;
  for (const MethodResult& method : task.methods)
    if (method.overall.reported && std::isfinite(method.overall.auroc.point) &&
        (std::isnan(best) || method.overall.auroc.point > best))
      best = method.overall.auroc.point;
  return best;
}

// The runner leaves a task without methods when a split has no prediction times.
std::string not_scored_reason(const TaskResult& task) {
  if (task.y.empty()) return "not scored: no held-out prediction times";
  if (task.train_rows_used == 0) return "not scored: no train prediction times";
  return "not scored";
}

ReportCell method_cell(const TaskResult& task, const std::string& name, double best) {
  const MethodResult* method = find_method(task, name);
  if (method == nullptr) return {kNone};
  const MetricSummary& overall = method->overall;
  if (!overall.reported) return {fmt::format("n={}, {}", overall.n, overall.reason)};
  return {format_interval(overall.auroc), overall.auroc.point == best};
}

int64_t rows_matched(const nlohmann::json& truth) { return truth.value("held_out_rows_matched", int64_t{0}); }

std::string truth_auroc_text(const nlohmann::json& truth) {
  if (!truth.is_object()) return kNone;
  if (!truth.contains("truth_auroc")) return fmt::format("n/a ({} rows matched)", rows_matched(truth));
  return format_json_number(truth["truth_auroc"], kAurocDecimals);
}

std::vector<ReportCell> summary_row(const TaskResult& task, size_t method_columns,
                                    const std::vector<std::string>& methods, bool truth_column) {
  std::vector<ReportCell> row = {{task.name}};
  if (task.methods.empty()) {
    row.push_back({not_scored_reason(task)});
    row.resize(1 + method_columns, {kNone});
  } else {
    const double best = best_auroc(task);
    for (const std::string& name : methods) row.push_back(method_cell(task, name, best));
  }
  if (truth_column) row.push_back({truth_auroc_text(task.truth)});
  return row;
}

std::string json_text(const nlohmann::json& object, const char* key, int decimals) {
  return object.contains(key) ? format_json_number(object[key], decimals) : "n/a";
}

}  // namespace

std::string format_json_number(const nlohmann::json& value, int decimals) {
  if (value.is_number_integer()) return value.dump();
  if (!value.is_number() || !std::isfinite(value.get<double>())) return "n/a";
  return fmt::format("{:.{}f}", value.get<double>(), decimals);
}

ReportTable summary_table(const SuiteResult& result) {
  std::vector<std::string> methods = method_names(result);
  const size_t method_columns = std::max<size_t>(1, methods.size());
  const bool truth_column = any_truth(result);
  ReportTable table;
  table.header = {"task"};
  table.header.insert(table.header.end(), methods.begin(), methods.end());
  if (methods.empty()) table.header.push_back("AUROC");
  if (truth_column) table.header.push_back("true risk AUROC (ceiling)");
  for (const TaskResult& task : result.tasks)
    table.rows.push_back(summary_row(task, method_columns, methods, truth_column));
  return table;
}

std::string summary_caption(const SuiteResult& result) {
  std::string caption =
      "Held-out AUROC with its patient-level bootstrap 95% interval; in bold the task's best method "
      "(highest point estimate).";
  if (any_truth(result))
    caption +=
        " True risk AUROC: the synth generator's exact probabilities scored on the held-out rows the "
        "truth file matches, the best any model can do there.";
  return caption;
}

std::string truth_caption(const TaskResult& task) {
  const nlohmann::json& truth = task.truth;
  if (!truth.is_object()) return {};
  std::string caption = fmt::format("Synth truth (outcome {}): {} held-out rows matched",
                                    truth.value("outcome", std::string("?")), rows_matched(truth));
  if (!truth.contains("truth_auroc")) return caption + ", too few to compare.";
  return caption + fmt::format(", observed rate {}, Brier of the true probabilities {}.",
                               json_text(truth, "observed_rate", kRateDecimals),
                               json_text(truth, "truth_brier", kRateDecimals));
}

ReportTable truth_table(const TaskResult& task) {
  ReportTable table;
  table.header = {"scores", "Pearson with true risk", "Spearman with true risk", "mean",
                  "AUROC on matched rows"};
  const nlohmann::json& truth = task.truth;
  if (!truth.is_object() || !truth.contains("truth_auroc")) return table;
  table.rows.push_back({{"true risk (ceiling)"},
                        {kNone},
                        {kNone},
                        {json_text(truth, "mean_true_probability", kRateDecimals)},
                        {json_text(truth, "truth_auroc", kAurocDecimals)}});
  for (const MethodResult& method : task.methods) {
    if (!truth.contains(method.method)) continue;
    const nlohmann::json& comparison = truth[method.method];
    table.rows.push_back({{method.method},
                          {json_text(comparison, "pearson_with_truth", kAurocDecimals)},
                          {json_text(comparison, "spearman_with_truth", kAurocDecimals)},
                          {json_text(comparison, "mean_score", kRateDecimals)},
                          {json_text(comparison, "auroc_on_matched_rows", kAurocDecimals)}});
  }
  return table;
}

std::string markdown_table(const ReportTable& table) {
  std::string md = "|";
  for (const std::string& name : table.header) md += " " + name + " |";
  md += "\n|";
  for (size_t i = 0; i < table.header.size(); ++i) md += "---|";
  md += "\n";
  for (const std::vector<ReportCell>& row : table.rows) {
    md += "|";
    for (const ReportCell& cell : row) md += " " + (cell.best ? "**" + cell.text + "**" : cell.text) + " |";
    md += "\n";
  }
  return md;
}

std::string html_table(const ReportTable& table) {
  std::string html = "<table><tr>";
  for (const std::string& name : table.header) html += "<th>" + html_escape(name) + "</th>";
  html += "</tr>\n";
  for (const std::vector<ReportCell>& row : table.rows) {
    html += "<tr>";
    for (const ReportCell& cell : row)
      html += cell.best ? "<td class=\"best\"><b>" + html_escape(cell.text) + "</b></td>"
                        : "<td>" + html_escape(cell.text) + "</td>";
    html += "</tr>\n";
  }
  return html + "</table>\n";
}

}  // namespace clinfm
