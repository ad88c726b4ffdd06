// Small RAII and attribute helpers over the HDF5 C API. Every call goes through H5_CHECK.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace clinfm::h5 {

// Owns one HDF5 identifier (file, group, dataset, dataspace, property list, type, attribute).
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  ~Id() { reset(); }
  Id(Id&& other) noexcept : id_(other.id_) { other.id_ = H5I_INVALID_HID; }
  Id& operator=(Id&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = other.id_;
      other.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }
  void reset();

 private:
  hid_t id_ = H5I_INVALID_HID;
};

void write_attribute(hid_t object, const std::string& name, const std::string& value);
void write_attribute(hid_t object, const std::string& name, int64_t value);
std::string read_string_attribute(hid_t object, const std::string& name);
int64_t read_int_attribute(hid_t object, const std::string& name);
bool has_attribute(hid_t object, const std::string& name);

// A group without modification times (shards are the same bytes for the same data).
Id create_group(hid_t parent, const std::string& name);
// An extendible, chunked 1-D dataset appended to in pieces; shuffle + deflate when `compress`.
Id create_extendible(hid_t parent, const std::string& name, hid_t type, hsize_t chunk, bool compress);
void append(hid_t dataset, hid_t type, const void* data, hsize_t count, hsize_t* size);
// A fixed-size 1-D dataset written in one go.
void write_array(hid_t parent, const std::string& name, hid_t type, const void* data, hsize_t count);
// Elements [start, start+count) of a 1-D dataset into `out`.
void read_range(hid_t dataset, hid_t type, hsize_t start, hsize_t count, void* out);
hsize_t length(hid_t dataset);

}  // namespace clinfm::h5
