#include "data/source.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/error.h"
#include "data/csv_reader.h"

namespace clinfm {
namespace {

const char* use_name(ColumnUse use) {
  switch (use) {
    case ColumnUse::kKept:
      return "kept";
    case ColumnUse::kTransformed:
      return "transformed";
    case ColumnUse::kDropped:
      return "dropped";
  }
  return "?";
}

}  // namespace

void PrepAudit::declare_table(const CsvReader& reader, const TableSpec& spec) {
  declare_columns(reader.path(), reader.header(), spec, false);
}

void PrepAudit::declare_columns(const std::string& file, const std::vector<std::string>& names,
                                const TableSpec& spec, bool extra_columns_unread) {
  TableCounts& counts = tables_[spec.table];
  counts.file = file;
  counts.columns = spec.columns;
  counts.absent_columns.clear();
  for (const auto& column : names) {
    const bool declared = std::any_of(spec.columns.begin(), spec.columns.end(),
                                      [&](const ColumnRule& r) { return r.column == column; });
    if (declared) continue;
    if (extra_columns_unread) {
      counts.columns.push_back({column, ColumnUse::kDropped, "extra column: never read"});
      continue;
    }
    throw InputError(
        fmt::format("{}: column '{}' of table {} is not declared by the importer", file, column, spec.table),
        "an undeclared column may hold identifiers, so prep refuses to pass over it silently; "
        "remove the column from the export or declare it (kept/transformed/dropped) in the "
        "importer's TableSpec");
  }
  for (const auto& rule : spec.columns) {
    if (std::find(names.begin(), names.end(), rule.column) == names.end())
      counts.absent_columns.push_back(rule.column);
  }
}

void PrepAudit::declare_binary_table(const std::string& file, const TableSpec& spec) {
  TableCounts& counts = tables_[spec.table];
  counts.file = file;
  counts.columns = spec.columns;
}

void PrepAudit::note_missing_table(const std::string& table, const std::string& why) {
  tables_[table].missing_reason = why;
}

void PrepAudit::note_unread_table(const std::string& table, const std::string& why) {
  tables_[table].unread_reason = why;
}

namespace {
nlohmann::json rules_json(const std::vector<ColumnRule>& rules) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : rules) out.push_back({r.column, static_cast<int>(r.use), r.what});
  return out;
}
}  // namespace

nlohmann::json PrepAudit::state() const {
  nlohmann::json tables = nlohmann::json::object();
  for (const auto& [name, t] : tables_) {
    tables[name] = {{"rows", t.rows},
                    {"events", t.events},
                    {"dropped", t.dropped},
                    {"columns", rules_json(t.columns)},
                    {"absent_columns", t.absent_columns},
                    {"file", t.file},
                    {"missing_reason", t.missing_reason},
                    {"unread_reason", t.unread_reason}};
  }
  return {{"source_metadata", source_metadata_}, {"tables", tables}, {"counters", counters_}};
}

void PrepAudit::merge_state(const nlohmann::json& state) {
  if (!state.at("source_metadata").empty()) source_metadata_ = state.at("source_metadata");
  for (const auto& [what, n] : state.at("counters").items()) counters_[what] += n.get<int64_t>();
  for (const auto& [name, t] : state.at("tables").items()) {
    TableCounts& mine = tables_[name];
    mine.rows += t.at("rows").get<int64_t>();
    mine.events += t.at("events").get<int64_t>();
    for (const auto& [reason, n] : t.at("dropped").items()) mine.dropped[reason] += n.get<int64_t>();
    if (!t.at("file").get<std::string>().empty()) {  // that rank declared the table
      mine.file = t.at("file").get<std::string>();
      mine.columns.clear();
      for (const auto& r : t.at("columns"))
        mine.columns.push_back({r.at(0).get<std::string>(), static_cast<ColumnUse>(r.at(1).get<int>()),
                                r.at(2).get<std::string>()});
      mine.absent_columns = t.at("absent_columns").get<std::vector<std::string>>();
    }
    for (const char* field : {"missing_reason", "unread_reason"}) {
      const std::string reason = t.at(field).get<std::string>();
      if (reason.empty()) continue;
      (std::string(field) == "missing_reason" ? mine.missing_reason : mine.unread_reason) = reason;
    }
  }
}

int64_t PrepAudit::counter(const std::string& what) const {
  const auto it = counters_.find(what);
  return it == counters_.end() ? 0 : it->second;
}

nlohmann::json PrepAudit::to_json() const {
  nlohmann::json out;
  out["format"] = format_;
  out["input"] = input_;
  if (!source_metadata_.empty()) out["source_metadata"] = source_metadata_;
  nlohmann::json tables = nlohmann::json::object();
  for (const auto& [name, t] : tables_) {
    nlohmann::json j;
    j["file"] = t.file;
    if (!t.missing_reason.empty()) j["missing"] = t.missing_reason;
    if (!t.unread_reason.empty()) j["not_imported"] = t.unread_reason;
    j["rows"] = t.rows;
    j["events"] = t.events;
    j["dropped"] = t.dropped;
    nlohmann::json columns = nlohmann::json::array();
    for (const auto& c : t.columns) {
      const bool absent =
          std::find(t.absent_columns.begin(), t.absent_columns.end(), c.column) != t.absent_columns.end();
      columns.push_back(
          {{"column", c.column}, {"use", use_name(c.use)}, {"what", c.what}, {"present", !absent}});
    }
    j["columns"] = columns;
    tables[name] = j;
  }
  out["tables"] = tables;
  out["counters"] = counters_;
  nlohmann::json accounting = nlohmann::json::array();
  for (const auto& [what, n] : accounting_) accounting.push_back({{"what", what}, {"count", n}});
  out["accounting"] = accounting;
  return out;
}

std::string PrepAudit::to_markdown() const {
  std::string md = fmt::format("# De-identification and import audit\n\nSource format: `{}`\n\n", format_);
  if (!accounting_.empty()) {
    md += "## Accounting of every input row\n\n| | count |\n| --- | ---: |\n";
    for (const auto& [what, n] : accounting_) md += fmt::format("| {} | {} |\n", what, n);
    md += "\n";
  }
  md +=
      "## Rows per table\n\n| table | rows | events | dropped rows (reason: count) |\n| --- | ---: | ---: | "
      "--- |\n";
  for (const auto& [name, t] : tables_) {
    std::string dropped;
    for (const auto& [reason, n] : t.dropped)
      dropped += fmt::format("{}{}: {}", dropped.empty() ? "" : "; ", reason, n);
    if (!t.missing_reason.empty()) dropped = "table absent: " + t.missing_reason;
    if (!t.unread_reason.empty()) dropped = "not imported: " + t.unread_reason;
    md += fmt::format("| {} | {} | {} | {} |\n", name, t.rows, t.events, dropped.empty() ? "none" : dropped);
  }
  md +=
      "\n## Every source column and what happened to it\n\n| table | column | use | what |\n| --- | --- | "
      "--- | --- |\n";
  for (const auto& [name, t] : tables_) {
    for (const auto& c : t.columns) {
      const bool absent =
          std::find(t.absent_columns.begin(), t.absent_columns.end(), c.column) != t.absent_columns.end();
      md += fmt::format("| {} | {} | {} | {}{} |\n", name, c.column, use_name(c.use), c.what,
                        absent ? " (not in this export)" : "");
    }
  }
  md += "\n## Prep counters\n\n| what | count |\n| --- | ---: |\n";
  for (const auto& [what, n] : counters_) md += fmt::format("| {} | {} |\n", what, n);
  return md;
}

}  // namespace clinfm
