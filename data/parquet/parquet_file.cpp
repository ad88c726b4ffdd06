// Parquet through Arrow C++ (compiled as C++20, as Arrow's headers require; see parquet_file.h).
#include "data/parquet/parquet_file.h"

#include <arrow/api.h>
#include <arrow/array/concatenate.h>
#include <arrow/io/file.h>
#include <fmt/format.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/schema.h>
#include <parquet/arrow/writer.h>
#include <parquet/exception.h>
#include <parquet/file_reader.h>

#include <algorithm>
#include <filesystem>
#include <limits>

#include "common/error.h"

namespace clinfm {
namespace {

ParquetType type_of(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::INT8:
    case arrow::Type::INT16:
    case arrow::Type::INT32:
    case arrow::Type::INT64:
    case arrow::Type::UINT8:
    case arrow::Type::UINT16:
    case arrow::Type::UINT32:
    case arrow::Type::UINT64:
      return ParquetType::kInt;
    case arrow::Type::FLOAT:
    case arrow::Type::DOUBLE:
      return ParquetType::kFloat;
    case arrow::Type::BOOL:
      return ParquetType::kBool;
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::STRING_VIEW:
      return ParquetType::kString;
    case arrow::Type::DICTIONARY: {
      const auto& value_type = *static_cast<const arrow::DictionaryType&>(type).value_type();
      return type_of(value_type) == ParquetType::kString ? ParquetType::kString : ParquetType::kOther;
    }
    case arrow::Type::TIMESTAMP:
      return ParquetType::kTimestamp;
    case arrow::Type::LIST:
    case arrow::Type::LARGE_LIST: {
      const auto& value_type = *static_cast<const arrow::BaseListType&>(type).value_type();
      const bool plain = value_type.id() != arrow::Type::DICTIONARY;  // text_list reads plain strings
      return plain && type_of(value_type) == ParquetType::kString ? ParquetType::kStringList
                                                                  : ParquetType::kOther;
    }
    case arrow::Type::NA:
      return ParquetType::kNull;
    default:
      return ParquetType::kOther;
  }
}

int64_t units_per_second(const arrow::DataType& type) {
  switch (static_cast<const arrow::TimestampType&>(type).unit()) {
    case arrow::TimeUnit::SECOND:
      return 1;
    case arrow::TimeUnit::MILLI:
      return 1000;
    case arrow::TimeUnit::MICRO:
      return 1000000;
    case arrow::TimeUnit::NANO:
      return 1000000000;
  }
  return 1;
}

// Leaf (Parquet column) indices of one top-level field: a list column is one leaf deeper.
void collect_leaves(const parquet::arrow::SchemaField& field, std::vector<int>& leaves) {
  if (field.column_index >= 0) leaves.push_back(field.column_index);
  for (const auto& child : field.children) collect_leaves(child, leaves);
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

void check_time_zone(const std::string& path, const ParquetColumn& column) {
  const std::string& zone = column.timezone;
  if (zone.empty() || zone == "UTC" || zone == "Etc/UTC" || zone == "+00:00" || zone == "Z") return;
  throw InputError(
      fmt::format("{}: column '{}' has time zone '{}'; MEDS times are time-zone naive", path, column.name,
                  zone),
      "convert to the local clock and drop the zone (pyarrow: pc.local_timestamp(col), then cast to "
      "timestamp[us]), or to UTC");
}

std::string describe(const ParquetColumn& column) {
  return column.timezone.empty() ? column.type_text
                                 : fmt::format("{} (time zone {})", column.type_text, column.timezone);
}

struct ParquetBatch::Columns {
  struct Column {
    std::shared_ptr<arrow::Array> array;
    std::shared_ptr<arrow::Array> values;  // dictionary values, or a list's values
    int64_t per_second = 1;
  };
  std::vector<Column> columns;
};

ParquetBatch::ParquetBatch() : columns_(std::make_unique<Columns>()) {}
ParquetBatch::~ParquetBatch() = default;

bool ParquetBatch::is_null(int c, int64_t row) const {
  return columns_->columns[size_t(c)].array->IsNull(row);
}

bool ParquetBatch::integer_above_int64(int c, int64_t row) const {
  const arrow::Array& a = *columns_->columns[size_t(c)].array;
  return a.type_id() == arrow::Type::UINT64 &&
         static_cast<const arrow::UInt64Array&>(a).Value(row) > uint64_t(std::numeric_limits<int64_t>::max());
}

int64_t ParquetBatch::integer(int c, int64_t row) const {
  const arrow::Array& a = *columns_->columns[size_t(c)].array;
  switch (a.type_id()) {
    case arrow::Type::INT64:
      return static_cast<const arrow::Int64Array&>(a).Value(row);
    case arrow::Type::INT32:
      return static_cast<const arrow::Int32Array&>(a).Value(row);
    case arrow::Type::INT16:
      return static_cast<const arrow::Int16Array&>(a).Value(row);
    case arrow::Type::INT8:
      return static_cast<const arrow::Int8Array&>(a).Value(row);
    case arrow::Type::UINT64:
      return static_cast<int64_t>(static_cast<const arrow::UInt64Array&>(a).Value(row));
    case arrow::Type::UINT32:
      return static_cast<const arrow::UInt32Array&>(a).Value(row);
    case arrow::Type::UINT16:
      return static_cast<const arrow::UInt16Array&>(a).Value(row);
    case arrow::Type::UINT8:
      return static_cast<const arrow::UInt8Array&>(a).Value(row);
    default:
      throw Error(fmt::format("ParquetBatch::integer on a {} column", a.type()->ToString()));
  }
}

double ParquetBatch::number(int c, int64_t row) const {
  const arrow::Array& a = *columns_->columns[size_t(c)].array;
  switch (a.type_id()) {
    case arrow::Type::FLOAT:
      return static_cast<const arrow::FloatArray&>(a).Value(row);
    case arrow::Type::DOUBLE:
      return static_cast<const arrow::DoubleArray&>(a).Value(row);
    default:
      return static_cast<double>(integer(c, row));
  }
}

bool ParquetBatch::boolean(int c, int64_t row) const {
  return static_cast<const arrow::BooleanArray&>(*columns_->columns[size_t(c)].array).Value(row);
}

namespace {
std::string_view string_at(const arrow::Array& a, int64_t row) {
  switch (a.type_id()) {
    case arrow::Type::STRING:
      return static_cast<const arrow::StringArray&>(a).GetView(row);
    case arrow::Type::LARGE_STRING:
      return static_cast<const arrow::LargeStringArray&>(a).GetView(row);
    case arrow::Type::STRING_VIEW:
      return static_cast<const arrow::StringViewArray&>(a).GetView(row);
    default:
      throw Error(fmt::format("ParquetBatch: {} is not a string column", a.type()->ToString()));
  }
}
}  // namespace

std::string_view ParquetBatch::text(int c, int64_t row) const {
  const Columns::Column& column = columns_->columns[size_t(c)];
  if (column.array->type_id() == arrow::Type::DICTIONARY) {
    const auto& dictionary = static_cast<const arrow::DictionaryArray&>(*column.array);
    return string_at(*column.values, dictionary.GetValueIndex(row));
  }
  return string_at(*column.array, row);
}

int64_t ParquetBatch::seconds(int c, int64_t row) const {
  const Columns::Column& column = columns_->columns[size_t(c)];
  return floor_div(static_cast<const arrow::TimestampArray&>(*column.array).Value(row), column.per_second);
}

int64_t ParquetBatch::microseconds(int c, int64_t row) const {
  const Columns::Column& column = columns_->columns[size_t(c)];
  const int64_t value = static_cast<const arrow::TimestampArray&>(*column.array).Value(row);
  return column.per_second >= 1000000 ? floor_div(value, column.per_second / 1000000)
                                      : value * (1000000 / column.per_second);
}

std::vector<std::string> ParquetBatch::text_list(int c, int64_t row) const {
  const Columns::Column& column = columns_->columns[size_t(c)];
  int64_t begin = 0, end = 0;
  if (column.array->type_id() == arrow::Type::LIST) {
    const auto& list = static_cast<const arrow::ListArray&>(*column.array);
    begin = list.value_offset(row);
    end = begin + list.value_length(row);
  } else {
    const auto& list = static_cast<const arrow::LargeListArray&>(*column.array);
    begin = list.value_offset(row);
    end = begin + list.value_length(row);
  }
  std::vector<std::string> out;
  for (int64_t i = begin; i < end; ++i) {
    if (!column.values->IsNull(i)) out.emplace_back(string_at(*column.values, i));
  }
  return out;
}

struct ParquetFile::Reader {
  std::unique_ptr<parquet::arrow::FileReader> file;
  std::vector<std::vector<int>> leaves;  // per top-level column
  std::vector<std::shared_ptr<arrow::DataType>> types;
};

ParquetFile::ParquetFile(const std::string& path) : path_(path), reader_(std::make_unique<Reader>()) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw InputError(fmt::format("{}: no such file", path), "check the path");
  }
  const char* hint =
      "the file is not a complete Parquet file (cut short by a copy or a crashed writer?): write it again";
  try {
    auto opened = arrow::io::ReadableFile::Open(path);
    if (!opened.ok())
      throw InputError(fmt::format("{}: {}", path, opened.status().message()), "check the file");
    auto made = parquet::arrow::FileReader::Make(arrow::default_memory_pool(),
                                                 parquet::ParquetFileReader::Open(*opened));
    if (!made.ok()) throw InputError(fmt::format("{}: {}", path, made.status().message()), hint);
    reader_->file = std::move(*made);
  } catch (const parquet::ParquetException& e) {
    throw InputError(fmt::format("{}: not a readable Parquet file ({})", path, e.what()), hint);
  }
  std::shared_ptr<arrow::Schema> schema;
  const arrow::Status status = reader_->file->GetSchema(&schema);
  if (!status.ok()) throw InputError(fmt::format("{}: unreadable schema ({})", path, status.message()), hint);
  const auto& fields = reader_->file->manifest().schema_fields;
  for (int i = 0; i < schema->num_fields(); ++i) {
    const auto& field = *schema->field(i);
    ParquetColumn column;
    column.name = field.name();
    column.type = type_of(*field.type());
    column.type_text = field.type()->ToString();
    if (field.type()->id() == arrow::Type::TIMESTAMP)
      column.timezone = static_cast<const arrow::TimestampType&>(*field.type()).timezone();
    columns_.push_back(std::move(column));
    reader_->types.push_back(field.type());
    std::vector<int> leaves;
    collect_leaves(fields[size_t(i)], leaves);
    reader_->leaves.push_back(std::move(leaves));
  }
  const auto metadata = reader_->file->parquet_reader()->metadata();
  rows_ = metadata->num_rows();
  row_groups_ = metadata->num_row_groups();
}

ParquetFile::~ParquetFile() = default;

std::vector<std::string> ParquetFile::column_names() const {
  std::vector<std::string> names;
  for (const auto& column : columns_) names.push_back(column.name);
  return names;
}

int ParquetFile::find_column(std::string_view name) const {
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

int ParquetFile::require_column(std::string_view name, std::initializer_list<ParquetType> types,
                                std::string_view expected, std::string_view missing_hint,
                                std::string_view prefix) const {
  const std::string where = prefix.empty() ? path_ : fmt::format("{}: {}", prefix, path_);
  const int c = find_column(name);
  if (c < 0) {
    throw InputError(
        fmt::format("{}: no column '{}' (columns: {})", where, name, fmt::join(column_names(), ", ")),
        std::string(missing_hint));
  }
  const ParquetColumn& column = columns_[size_t(c)];
  if (std::find(types.begin(), types.end(), column.type) == types.end()) {
    throw InputError(
        fmt::format("{}: column '{}' is {}; MEDS needs {}", where, name, describe(column), expected),
        fmt::format("write the column as {} (for example with pyarrow: table.cast(schema))", expected));
  }
  return c;
}

void ParquetFile::read(int group, const std::vector<int>& wanted, ParquetBatch& batch) {
  std::vector<int> leaves;
  for (int c : wanted) {
    const auto& of = reader_->leaves.at(size_t(c));
    leaves.insert(leaves.end(), of.begin(), of.end());
  }
  std::shared_ptr<arrow::Table> table;
  arrow::Status status;
  try {
    auto result = reader_->file->ReadRowGroup(group, leaves);
    status = result.status();
    if (result.ok()) table = *result;
  } catch (const parquet::ParquetException& e) {
    status = arrow::Status::IOError(e.what());
  }
  if (!status.ok()) {
    std::string message = status.message();
    std::replace(message.begin(), message.end(), '\n', ' ');
    while (!message.empty() && message.back() == ' ') message.pop_back();
    throw InputError(
        fmt::format("{}: row group {} of {} cannot be read ({})", path_, group + 1, row_groups_, message),
        "the file is corrupt or cut short: write it again");
  }
  auto& columns = batch.columns_->columns;
  columns.clear();
  batch.rows_ = table->num_rows();
  for (int c : wanted) {
    const ParquetColumn& wanted_column = columns_[size_t(c)];
    const auto chunked = table->GetColumnByName(wanted_column.name);
    if (!chunked)
      throw Error(fmt::format("{}: column {} missing from row group {}", path_, wanted_column.name, group));
    ParquetBatch::Columns::Column column;
    if (chunked->num_chunks() == 1) {
      column.array = chunked->chunk(0);
    } else {
      auto joined = arrow::Concatenate(chunked->chunks());
      if (!joined.ok()) throw Error(fmt::format("{}: {}", path_, joined.status().message()));
      column.array = *joined;
    }
    const auto& type = *column.array->type();
    if (type.id() == arrow::Type::DICTIONARY)
      column.values = static_cast<const arrow::DictionaryArray&>(*column.array).dictionary();
    if (type.id() == arrow::Type::LIST)
      column.values = static_cast<const arrow::ListArray&>(*column.array).values();
    if (type.id() == arrow::Type::LARGE_LIST)
      column.values = static_cast<const arrow::LargeListArray&>(*column.array).values();
    if (type.id() == arrow::Type::TIMESTAMP) column.per_second = units_per_second(type);
    columns.push_back(std::move(column));
  }
}

size_t ParquetTableWriter::Column::size() const {
  return kind == Kind::kBool ? flags.size() : kind == Kind::kFloat64 ? floats.size() : integers.size();
}

void ParquetTableWriter::add_int64(const std::string& name, std::vector<int64_t> values) {
  columns_.push_back({name, Kind::kInt64, std::move(values), {}, {}});
}
void ParquetTableWriter::add_timestamp_us(const std::string& name, std::vector<int64_t> microseconds) {
  columns_.push_back({name, Kind::kTimestamp, std::move(microseconds), {}, {}});
}
void ParquetTableWriter::add_bool(const std::string& name, std::vector<char> values) {
  columns_.push_back({name, Kind::kBool, {}, std::move(values), {}});
}
void ParquetTableWriter::add_float64(const std::string& name, std::vector<double> values) {
  columns_.push_back({name, Kind::kFloat64, {}, {}, std::move(values)});
}

namespace {
template <typename Builder, typename Values>
std::shared_ptr<arrow::Array> build(Builder builder, const Values& values, const std::string& path) {
  arrow::Status status = builder.Reserve(static_cast<int64_t>(values.size()));
  for (const auto& value : values) {
    if (!status.ok()) break;
    status = builder.Append(value);
  }
  std::shared_ptr<arrow::Array> array;
  if (status.ok()) status = builder.Finish(&array);
  if (!status.ok()) throw Error(fmt::format("{}: {}", path, status.message()));
  return array;
}
}  // namespace

void ParquetTableWriter::write(const std::string& path) const {
  std::vector<std::shared_ptr<arrow::Field>> fields;
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  for (const Column& column : columns_) {
    if (column.size() != columns_.front().size())
      throw InputError(fmt::format("{}: column {} has {} rows, {} has {}", path, column.name, column.size(),
                                   columns_.front().name, columns_.front().size()));
    switch (column.kind) {
      case Kind::kInt64:
        fields.push_back(arrow::field(column.name, arrow::int64()));
        arrays.push_back(build(arrow::Int64Builder(), column.integers, path));
        break;
      case Kind::kTimestamp: {
        const auto type = arrow::timestamp(arrow::TimeUnit::MICRO);
        fields.push_back(arrow::field(column.name, type));
        arrays.push_back(
            build(arrow::TimestampBuilder(type, arrow::default_memory_pool()), column.integers, path));
        break;
      }
      case Kind::kBool: {
        std::vector<bool> flags(column.flags.begin(), column.flags.end());
        fields.push_back(arrow::field(column.name, arrow::boolean()));
        arrays.push_back(build(arrow::BooleanBuilder(), flags, path));
        break;
      }
      case Kind::kFloat64:
        fields.push_back(arrow::field(column.name, arrow::float64()));
        arrays.push_back(build(arrow::DoubleBuilder(), column.floats, path));
        break;
    }
  }
  const auto table = arrow::Table::Make(arrow::schema(fields), arrays);
  const std::string temp = path + ".partial";
  auto opened = arrow::io::FileOutputStream::Open(temp);
  if (!opened.ok())
    throw Error(fmt::format("{}: cannot write ({})", temp, opened.status().message()), "check the folder");
  arrow::Status status = parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), *opened);
  if (status.ok()) status = (*opened)->Close();
  std::error_code ec;
  if (status.ok()) std::filesystem::rename(temp, path, ec);
  if (!status.ok() || ec) {
    std::filesystem::remove(temp, ec);
    throw Error(fmt::format("{}: cannot write ({})", path, status.ok() ? ec.message() : status.message()),
                "check the folder's space and permissions");
  }
}

}  // namespace clinfm
