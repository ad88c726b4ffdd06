#include "data/h5_util.h"

#include <algorithm>

#include "common/check.h"

namespace clinfm::h5 {

void Id::reset() {
  if (id_ >= 0 && H5Iis_valid(id_) > 0) H5Idec_ref(id_);
  id_ = H5I_INVALID_HID;
}

void write_attribute(hid_t object, const std::string& name, const std::string& value) {
  Id type(H5_CHECK(H5Tcopy(H5T_C_S1)));
  H5_CHECK(H5Tset_size(type, value.empty() ? 1 : value.size()));
  H5_CHECK(H5Tset_strpad(type, H5T_STR_NULLPAD));
  Id space(H5_CHECK(H5Screate(H5S_SCALAR)));
  Id attribute(H5_CHECK(H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT)));
  const std::string padded = value.empty() ? std::string(1, '\0') : value;
  H5_CHECK(H5Awrite(attribute, type, padded.data()));
}

void write_attribute(hid_t object, const std::string& name, int64_t value) {
  Id space(H5_CHECK(H5Screate(H5S_SCALAR)));
  Id attribute(H5_CHECK(H5Acreate2(object, name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT)));
  H5_CHECK(H5Awrite(attribute, H5T_NATIVE_INT64, &value));
}

bool has_attribute(hid_t object, const std::string& name) {
  return H5_CHECK(H5Aexists(object, name.c_str())) > 0;
}

std::string read_string_attribute(hid_t object, const std::string& name) {
  Id attribute(H5_CHECK(H5Aopen(object, name.c_str(), H5P_DEFAULT)));
  Id type(H5_CHECK(H5Aget_type(attribute)));
  CLINFM_CHECK(H5Tget_class(type) == H5T_STRING && H5Tis_variable_str(type) == 0,
               "attribute '{}' is not a fixed-length string", name);
  const size_t size = H5Tget_size(type);
  std::string value(size, '\0');
  H5_CHECK(H5Aread(attribute, type, value.data()));
  value.resize(value.find('\0') == std::string::npos ? size : value.find('\0'));
  return value;
}

int64_t read_int_attribute(hid_t object, const std::string& name) {
  Id attribute(H5_CHECK(H5Aopen(object, name.c_str(), H5P_DEFAULT)));
  int64_t value = 0;
  H5_CHECK(H5Aread(attribute, H5T_NATIVE_INT64, &value));
  return value;
}

Id create_extendible(hid_t parent, const std::string& name, hid_t type, hsize_t chunk, bool compress) {
  const hsize_t initial = 0, maximum = H5S_UNLIMITED;
  Id space(H5_CHECK(H5Screate_simple(1, &initial, &maximum)));
  Id properties(H5_CHECK(H5Pcreate(H5P_DATASET_CREATE)));
  H5_CHECK(H5Pset_obj_track_times(properties, false));  // no clock in the file: same data, same bytes
  H5_CHECK(H5Pset_chunk(properties, 1, &chunk));
  if (compress) {
    H5_CHECK(H5Pset_shuffle(properties));
    H5_CHECK(H5Pset_deflate(properties, 1));
  }
  return Id(H5_CHECK(H5Dcreate2(parent, name.c_str(), type, space, H5P_DEFAULT, properties, H5P_DEFAULT)));
}

Id create_group(hid_t parent, const std::string& name) {
  Id properties(H5_CHECK(H5Pcreate(H5P_GROUP_CREATE)));
  H5_CHECK(H5Pset_obj_track_times(properties, false));
  return Id(H5_CHECK(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, properties, H5P_DEFAULT)));
}

void append(hid_t dataset, hid_t type, const void* data, hsize_t count, hsize_t* size) {
  if (count == 0) return;
  const hsize_t new_size = *size + count;
  H5_CHECK(H5Dset_extent(dataset, &new_size));
  Id file_space(H5_CHECK(H5Dget_space(dataset)));
  H5_CHECK(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, size, nullptr, &count, nullptr));
  Id memory_space(H5_CHECK(H5Screate_simple(1, &count, nullptr)));
  H5_CHECK(H5Dwrite(dataset, type, memory_space, file_space, H5P_DEFAULT, data));
  *size = new_size;
}

void write_array(hid_t parent, const std::string& name, hid_t type, const void* data, hsize_t count) {
  Id space(H5_CHECK(H5Screate_simple(1, &count, nullptr)));
  Id properties(H5_CHECK(H5Pcreate(H5P_DATASET_CREATE)));
  H5_CHECK(H5Pset_obj_track_times(properties, false));
  if (count > 0) {
    const hsize_t chunk = std::min<hsize_t>(count, 65536);
    H5_CHECK(H5Pset_chunk(properties, 1, &chunk));
    H5_CHECK(H5Pset_deflate(properties, 1));
  }
  Id dataset(H5_CHECK(H5Dcreate2(parent, name.c_str(), type, space, H5P_DEFAULT, properties, H5P_DEFAULT)));
  if (count > 0) H5_CHECK(H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
}

void read_range(hid_t dataset, hid_t type, hsize_t start, hsize_t count, void* out) {
  if (count == 0) return;
  Id file_space(H5_CHECK(H5Dget_space(dataset)));
  H5_CHECK(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, &start, nullptr, &count, nullptr));
  Id memory_space(H5_CHECK(H5Screate_simple(1, &count, nullptr)));
  H5_CHECK(H5Dread(dataset, type, memory_space, file_space, H5P_DEFAULT, out));
}

hsize_t length(hid_t dataset) {
  Id space(H5_CHECK(H5Dget_space(dataset)));
  CLINFM_CHECK(H5Sget_simple_extent_ndims(space) == 1, "expected a 1-D dataset");
  hsize_t size = 0;
  H5_CHECK(H5Sget_simple_extent_dims(space, &size, nullptr));
  return size;
}

}  // namespace clinfm::h5
