// The tables report.md (report.cpp) and report.html (report_html.cpp) share: the summary of every
// task's AUROC at the top and the comparison with the synth truth, each built once as text cells
// and written as markdown or HTML. Every number is rounded here, so no raw double reaches a
// report. Nothing here computes a metric.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/results.h"

namespace clinfm {

struct ReportCell {
  std::string text;
  bool best = false;  // the task's best method: bold
};

struct ReportTable {
  std::vector<std::string> header;
  std::vector<std::vector<ReportCell>> rows;
};

// `decimals` decimals for a float, an integer as it is, "n/a" for null or a non-finite number.
std::string format_json_number(const nlohmann::json& value, int decimals);

// One row per task: each method's held-out AUROC with its 95% interval (the highest point
// estimate marked best), or why it was not scored; and, when any task was joined with the synth
// truth, the AUROC of the true risks on the matched rows.
ReportTable summary_table(const SuiteResult& result);
// What the summary table shows, in one or two sentences.
std::string summary_caption(const SuiteResult& result);

// "Synth truth (outcome death_365d): 812 held-out rows matched, ..."; empty without a comparison.
std::string truth_caption(const TaskResult& task);
// The true risks and then each method: correlation with the true risks, mean, AUROC on the
// matched rows. No rows when too few rows matched for a comparison.
ReportTable truth_table(const TaskResult& task);

std::string markdown_table(const ReportTable& table);
std::string html_table(const ReportTable& table);

}  // namespace clinfm
