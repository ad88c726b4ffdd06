// The shard reader on well-formed HDF5 files whose contents are arbitrary: attributes, the
// lengths of the event arrays, patient offsets, keys and sexes all come from the input. This is
// clinfm's own validation of a shard (fuzz_shard_bytes mutates the file bytes themselves, which
// mostly exercises libhdf5). Opening is a clinfm::Error or gives a reader whose patients have
// non-negative lengths that add up to its events, each readable.
#include <fuzzer/FuzzedDataProvider.h>
#include <hdf5.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "common/error.h"
#include "data/shard.h"
#include "fuzz_util.h"

namespace {

void write_attribute(hid_t where, const char* name, const std::string& text) {
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, text.empty() ? 1 : text.size());
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attribute = H5Acreate2(where, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(attribute, type, text.empty() ? "" : text.data());
  H5Aclose(attribute);
  H5Sclose(space);
  H5Tclose(type);
}

void write_attribute(hid_t where, const char* name, int64_t value) {
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attribute = H5Acreate2(where, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(attribute, H5T_NATIVE_INT64, &value);
  H5Aclose(attribute);
  H5Sclose(space);
}

template <typename T>
void write_array(hid_t group, const char* name, hid_t file_type, hid_t memory_type,
                 const std::vector<T>& values) {
  const hsize_t n = values.size();
  const hid_t space = H5Screate_simple(1, &n, nullptr);
  const hid_t set = H5Dcreate2(group, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (n > 0) H5Dwrite(set, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  H5Dclose(set);
  H5Sclose(space);
}

template <typename T>
std::vector<T> values(FuzzedDataProvider& in, size_t max) {
  std::vector<T> out(in.ConsumeIntegralInRange<size_t>(0, max));
  for (auto& v : out) v = in.ConsumeIntegral<T>();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string path = (clinfm::fuzz::scratch() / "structured.h5").string();
  std::remove(path.c_str());
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) std::abort();
  write_attribute(file, "format",
                  in.ConsumeBool() ? std::string("clinfm-shard") : in.ConsumeRandomLengthString(16));
  write_attribute(file, "schema_version", in.ConsumeBool() ? int64_t{1} : in.ConsumeIntegral<int64_t>());
  write_attribute(file, "split", in.ConsumeRandomLengthString(12));
  const size_t events = in.ConsumeIntegralInRange<size_t>(0, 64);
  const hid_t group_events = H5Gcreate2(file, "events", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  auto length = [&] { return in.ConsumeBool() ? events : in.ConsumeIntegralInRange<size_t>(0, 64); };
  std::vector<int32_t> tokens(length());
  for (auto& t : tokens) t = in.ConsumeIntegral<int32_t>();
  std::vector<double> ages(length());
  for (auto& a : ages) a = in.ConsumeFloatingPoint<double>();
  std::vector<float> vals(length());
  for (auto& v : vals) v = in.ConsumeFloatingPoint<float>();
  std::vector<uint8_t> bins(length());
  for (auto& b : bins) b = in.ConsumeIntegral<uint8_t>();
  write_array(group_events, "token", H5T_STD_I32LE, H5T_NATIVE_INT32, tokens);
  write_array(group_events, "age_days", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, ages);
  write_array(group_events, "value", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, vals);
  write_array(group_events, "value_bin", H5T_STD_U8LE, H5T_NATIVE_UINT8, bins);
  H5Gclose(group_events);
  const hid_t group_patients = H5Gcreate2(file, "patients", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<int64_t> offsets = values<int64_t>(in, 12);
  if (in.ConsumeBool()) {  // often plausible: sorted, within the events
    for (auto& o : offsets) o = int64_t(uint64_t(o) % (events + 1));
    std::sort(offsets.begin(), offsets.end());
  }
  write_array(group_patients, "offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, offsets);
  const size_t patients = in.ConsumeBool() ? (offsets.empty() ? 0 : offsets.size() - 1)
                                           : in.ConsumeIntegralInRange<size_t>(0, 12);
  std::string keys;
  for (size_t i = 0; i < patients; ++i) {
    std::string key = in.ConsumeBool() ? std::string("00000000deadbeef") : in.ConsumeBytesAsString(16);
    key.resize(16, '0');
    keys += key;
  }
  {
    const hid_t key_type = H5Tcopy(H5T_C_S1);
    H5Tset_size(key_type, in.ConsumeBool() ? 16 : in.ConsumeIntegralInRange<size_t>(1, 24));
    H5Tset_strpad(key_type, H5T_STR_NULLPAD);
    const hsize_t n = patients;
    const hid_t space = H5Screate_simple(1, &n, nullptr);
    const hid_t set =
        H5Dcreate2(group_patients, "key", key_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (n > 0 && H5Tget_size(key_type) == 16)
      H5Dwrite(set, key_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, keys.data());
    H5Dclose(set);
    H5Sclose(space);
    H5Tclose(key_type);
  }
  std::vector<int8_t> sexes(in.ConsumeBool() ? patients : in.ConsumeIntegralInRange<size_t>(0, 12));
  for (auto& s : sexes) s = in.ConsumeIntegral<int8_t>();
  write_array(group_patients, "sex", H5T_STD_I8LE, H5T_NATIVE_INT8, sexes);
  H5Gclose(group_patients);
  write_attribute(file, "n_patients", int64_t(patients));
  H5Fclose(file);

  try {
    const clinfm::ShardReader reader(path);
    int64_t total = 0;
    for (int64_t i = 0; i < reader.patients(); ++i) {
      if (reader.length(i) < 0) std::abort();  // a reader never reports a negative length
      total += reader.length(i);
      const clinfm::PatientTimeline timeline = reader.read(i);
      if (int64_t(timeline.size()) != reader.length(i)) std::abort();
    }
    if (total != reader.events()) std::abort();
    reader.read_all_value_bins();
  } catch (const clinfm::Error&) {
  }
  return 0;
}
