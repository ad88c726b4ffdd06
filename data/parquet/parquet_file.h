// Reading Parquet files (MEDS data and metadata, MEDS label files) one row group at a time,
// through Apache Arrow C++ (the library the MEDS tools rest on; clinfm uses the one inside the
// project's pyarrow wheel). This header is plain C++17: Arrow's headers need C++20 and stay in
// parquet_file.cpp, the only file of clinfm that includes them.
//
// Memory is one row group of the columns asked for: a MEDS writer's row groups are bounded
// (pyarrow: 1M rows, polars: 512k), so a file of any size is read in bounded memory.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace clinfm {

enum class ParquetType { kInt, kFloat, kBool, kString, kTimestamp, kStringList, kNull, kOther };

struct ParquetColumn {
  std::string name;
  ParquetType type = ParquetType::kOther;
  std::string type_text;  // Arrow's own name: "int64", "timestamp[us]", "large_string", ...
  std::string timezone;   // timestamps only; empty: time-zone naive
};

// MEDS times carry no time zone (they are the export's local clock). A timestamp with a time zone
// is accepted only for UTC, whose stored values are the same clock; InputError naming the file
// and column for any other zone, rather than a silent shift.
void check_time_zone(const std::string& path, const ParquetColumn& column);

// "int64", "timestamp[us]": how error messages name what a column must be.
std::string describe(const ParquetColumn& column);

// One row group of some columns; `c` indexes the columns as they were asked for.
class ParquetBatch {
 public:
  ParquetBatch();
  ~ParquetBatch();
  ParquetBatch(const ParquetBatch&) = delete;
  ParquetBatch& operator=(const ParquetBatch&) = delete;

  int64_t rows() const { return rows_; }
  bool is_null(int c, int64_t row) const;
  int64_t integer(int c, int64_t row) const;           // kInt
  bool integer_above_int64(int c, int64_t row) const;  // a uint64 that integer() cannot hold
  double number(int c, int64_t row) const;             // kFloat or kInt
  bool boolean(int c, int64_t row) const;              // kBool
  std::string_view text(int c, int64_t row) const;     // kString (views valid until the next read)
  // kTimestamp, in whole seconds since 1970 (floor: 12:00:00.5 is 12:00:00).
  int64_t seconds(int c, int64_t row) const;
  // kTimestamp, in microseconds since 1970 (nanoseconds floored).
  int64_t microseconds(int c, int64_t row) const;
  // kStringList: the list's strings (nulls inside the list skipped).
  std::vector<std::string> text_list(int c, int64_t row) const;

 private:
  friend class ParquetFile;
  struct Columns;
  std::unique_ptr<Columns> columns_;
  int64_t rows_ = 0;
};

class ParquetFile {
 public:
  // Opens `path` and reads its footer and schema. InputError naming the file when it does not
  // exist, is not a Parquet file, or is cut short (a truncated file loses its footer).
  explicit ParquetFile(const std::string& path);
  ~ParquetFile();
  ParquetFile(const ParquetFile&) = delete;
  ParquetFile& operator=(const ParquetFile&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<ParquetColumn>& columns() const { return columns_; }
  std::vector<std::string> column_names() const;
  int find_column(std::string_view name) const;  // -1 when absent
  // A column that must be there with one of `types`: its index, else InputError
  // "[PREFIX: ]FILE: no column 'NAME' (columns: ...)" with `missing_hint`, or
  // "[PREFIX: ]FILE: column 'NAME' is TYPE; MEDS needs EXPECTED".
  int require_column(std::string_view name, std::initializer_list<ParquetType> types,
                     std::string_view expected, std::string_view missing_hint,
                     std::string_view prefix = {}) const;
  int64_t rows() const { return rows_; }
  int row_groups() const { return row_groups_; }

  // Reads row group `group` of the columns `wanted` (indices into columns()) into `batch`.
  // InputError naming the file and row group when its pages cannot be read (corrupt data).
  void read(int group, const std::vector<int>& wanted, ParquetBatch& batch);

 private:
  struct Reader;
  std::string path_;
  std::unique_ptr<Reader> reader_;
  std::vector<ParquetColumn> columns_;
  int64_t rows_ = 0;
  int row_groups_ = 0;
};

// One Parquet file of equal-length columns, written whole (MEDS-DEV prediction files: small).
// write() goes through a temporary file renamed into place, so a reader never sees half a file.
class ParquetTableWriter {
 public:
  void add_int64(const std::string& name, std::vector<int64_t> values);
  void add_timestamp_us(const std::string& name, std::vector<int64_t> microseconds);
  void add_bool(const std::string& name, std::vector<char> values);
  void add_float64(const std::string& name, std::vector<double> values);
  // Error naming the file when it cannot be written; InputError when columns differ in length.
  void write(const std::string& path) const;

 private:
  enum class Kind { kInt64, kTimestamp, kBool, kFloat64 };
  struct Column {
    std::string name;
    Kind kind;
    std::vector<int64_t> integers;
    std::vector<char> flags;
    std::vector<double> floats;
    size_t size() const;
  };
  std::vector<Column> columns_;
};

}  // namespace clinfm
